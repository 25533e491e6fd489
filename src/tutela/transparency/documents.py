"""The yearly figures as documents: JSON (the figures as computed), CSV (one row per figure:
`figure,value`, its name the path to it in the JSON) and HTML (the same rows in a table, with
charts drawn as inline SVG). All three carry the same numbers, so any one can be checked
against another."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from enum import StrEnum
from html import escape
from typing import Any

from tutela.transparency.charts import Bar, bar_chart


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"
    HTML = "html"


def render(figures: dict[str, Any], form: Format) -> str:
    if form is Format.JSON:
        return json.dumps(figures, indent=2, ensure_ascii=False) + "\n"
    if form is Format.CSV:
        return as_csv(figures)
    return as_html(figures)


def flattened(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(name, value) of every figure: nested names joined by `.`; an element of a list is named
    by its text fields (`error_rates[bank=b;signal_type=pdq;distance_band=0]`)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from flattened(inner, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from flattened(inner, f"{path}[{_element_name(inner, index)}]")
    else:
        yield path, value


def figure_rows(figures: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every figure once: an element's text fields are already in its name, so left out."""
    return [
        (name, value)
        for name, value in flattened(figures)
        if not (isinstance(value, str) and _is_label(name))
    ]


def _element_name(element: Any, index: int) -> str:
    if isinstance(element, dict):
        names = [f"{k}={v}" for k, v in element.items() if isinstance(v, str)]
        if names:
            return ";".join(names)
    return str(index)


def as_csv(figures: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("figure", "value"))
    for name, value in figure_rows(figures):
        writer.writerow((name, _text(value)))
    return out.getvalue()


def _is_label(name: str) -> bool:
    # `x[bank=b;…].bank` repeats what the brackets say.
    if "[" not in name:
        return False
    inside, _, last = name.rpartition("].")
    return f"{last}=" in inside.rpartition("[")[2]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def as_html(figures: dict[str, Any]) -> str:
    """A standalone page: no script, no external file."""
    title = f"Tutela {figures.get('kind', '')} transparency report {figures.get('year', '')}"
    rows = "".join(
        f'<tr data-figure="{escape(name)}"><th scope="row">{escape(name)}</th>'
        f"<td>{escape(_text(value))}</td></tr>"
        for name, value in figure_rows(figures)
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head><body>"
        f"<h1>{escape(title)}</h1>"
        f"<p>{escape(str(figures.get('regulation', '')))}</p>"
        f'<section class="charts">{"".join(charts(figures))}</section>'
        f'<table class="figures"><thead><tr><th>figure</th><th>value</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></body></html>\n"
    )


def charts(figures: dict[str, Any]) -> list[str]:
    """The key figures as SVG charts: error rates with their intervals, complaints and removals
    for a provider; reports by Member State, kind and assessment for the centre."""
    if figures.get("kind") == "centre":
        reports = figures["reports"]
        return [
            _counts("Reports by Member State", reports["by_member_state"]),
            _counts("Reports by kind", reports["by_kind"]),
            _counts(
                "Assessment of reports",
                {
                    "forwarded": reports["forwarded"],
                    "unfounded": reports["unfounded"],
                    "duplicates": reports["duplicates"],
                    "awaiting": reports["awaiting_assessment"],
                },
            ),
        ]
    rates = [
        Bar(
            f"{r['bank']} · {r['signal_type']} · {r['distance_band']}",
            r["judged_not_abuse"]["rate"],
            (r["judged_not_abuse"]["ci95_low"], r["judged_not_abuse"]["ci95_high"]),
            f"{r['judged_not_abuse']['rate']:.1%} of {r['judged_not_abuse']['of']}",
        )
        for r in figures["error_rates"]
        if r["judged_not_abuse"]["rate"] is not None
    ]
    complaints = figures["complaints"]
    return [
        bar_chart("Matches judged not abuse (95 % interval)", rates, scale=1.0),
        _counts(
            "Complaints",
            {k: complaints[k] for k in ("upheld", "rejected", "open")},
        ),
        _counts("Items removed, by source", figures["removed_by_source"]),
    ]


def _counts(title: str, counts: dict[str, int]) -> str:
    return bar_chart(title, [Bar(label, float(n), text=str(n)) for label, n in counts.items()])
