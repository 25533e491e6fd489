"""Bar charts as inline SVG, drawn here in Python: the figures' pages and HTML documents load no
script and no file from anywhere. Every label is escaped; colours are attributes, not styles, so
the console's Content-Security-Policy (no inline styles) lets them through."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

WIDTH = 640
BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 220
VALUE_WIDTH = 90
TOP = 30
BAR_COLOUR = "#3b6ea8"
WHISKER_COLOUR = "#222222"


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    # A 95 % interval drawn as a whisker over the bar (rates only).
    interval: tuple[float, float] | None = None
    text: str | None = None  # the value as printed beside the bar


def bar_chart(title: str, bars: list[Bar], *, scale: float | None = None) -> str:
    """A horizontal bar chart; `scale` is the value of a full-width bar (1.0 for rates), else
    the largest value."""
    plot = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    top_value = scale or max((max(b.value, (b.interval or (0, 0))[1]) for b in bars), default=0)
    height = TOP + max(1, len(bars)) * (BAR_HEIGHT + GAP) + GAP
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="18" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    if not bars:
        parts.append(f'<text x="0" y="{TOP + 16}" font-size="12">No figures this year.</text>')
    for row, bar in enumerate(bars):
        y = TOP + row * (BAR_HEIGHT + GAP)
        width = 0.0 if not top_value else plot * bar.value / top_value
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 15}" font-size="12" '
            f'text-anchor="end">{escape(bar.label)}</text>'
        )
        parts.append(
            f'<rect class="bar" x="{LABEL_WIDTH}" y="{y}" width="{width:.1f}" '
            f'height="{BAR_HEIGHT}" fill="{BAR_COLOUR}"/>'
        )
        if bar.interval is not None and top_value:
            low = LABEL_WIDTH + plot * bar.interval[0] / top_value
            high = LABEL_WIDTH + plot * bar.interval[1] / top_value
            middle = y + BAR_HEIGHT / 2
            parts.append(
                f'<line class="interval" x1="{low:.1f}" y1="{middle}" x2="{high:.1f}" '
                f'y2="{middle}" stroke="{WHISKER_COLOUR}" stroke-width="2"/>'
            )
        shown = bar.text if bar.text is not None else f"{bar.value:g}"
        parts.append(
            f'<text x="{WIDTH - VALUE_WIDTH + 6}" y="{y + 15}" font-size="12">'
            f"{escape(shown)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
