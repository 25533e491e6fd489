"""Indicator-side crop variants: exact PDQs of a few standard crops of an image Tutela holds.

Plain PDQ does not survive a crop of a few percent, and a cropped copy leaves nothing a query
variant could restore. Where the image itself is at hand (an indicator made from media), hashes
of standard crops of it are stored beside the indicator's own hash, so that a copy cropped by
about as much matches one of them: the centre keeping 95 % and 90 % of each side, and the box
at each corner (a copy cut on two sides) keeping 97 %, 94 % and 91 %, for crops up to about
10 % of a side. Each is one more hash in the index, so each counts in the false-match budget.
"""

from __future__ import annotations

import numpy as np

from tutela.signals.pdq import pdq_of_pixels

# (name, share kept of each side, anchor): anchor "centre", or the corner kept ("top-left":
# the copy was cut on the right and at the bottom). PDQ finds a copy cut about 2.5 % less or
# more than a centre crop (split over four sides), but only about 1.5 % off a corner crop (all
# on two sides), hence 5-point steps at the centre and 3-point ones at the corners: 93.8 % of
# 1-10 % crops of 30 originals matched one of these 14, against 79.7 % for centre and corners
# at 95 and 90 (the issue 16 measurement behind the choice; bench/accuracy.py for the figures).
# Names are short (crop95-c, crop91-tl…): a match names the query's variant and this one.
_SHORT = {"centre": "c", "top-left": "tl", "top-right": "tr", "bottom-left": "bl"}
_LEVELS = {"centre": (95, 90), "corner": (97, 94, 91)}
CROPS = tuple(
    (f"crop{percent}-{_SHORT.get(anchor, 'br')}", percent / 100, anchor)
    for anchor in ("centre", "top-left", "top-right", "bottom-left", "bottom-right")
    for percent in _LEVELS["centre" if anchor == "centre" else "corner"]
)


def crop_box(height: int, width: int, share: float, anchor: str) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the crop keeping `share` of each side at `anchor`."""
    h, w = round(height * share), round(width * share)
    if anchor == "centre":
        top, left = (height - h) // 2, (width - w) // 2
    else:
        vertical, horizontal = anchor.split("-")
        top = 0 if vertical == "top" else height - h
        left = 0 if horizontal == "left" else width - w
    return top, top + h, left, left + w


def crop_variants(pixels: np.ndarray) -> tuple[tuple[str, str], ...]:
    """(name, exact PDQ hex) of each standard crop of (H, W, 3) RGB or (H, W) grey uint8
    pixels (the image an indicator is made from); crops under PDQ's quality rule are left
    out, as no copy would be queried by them either."""
    height, width = pixels.shape[:2]
    out = []
    for name, share, anchor in CROPS:
        top, bottom, left, right = crop_box(height, width, share, anchor)
        pdq = pdq_of_pixels(np.ascontiguousarray(pixels[top:bottom, left:right]))
        if pdq.matchable:
            out.append((name, pdq.hash))
    return tuple(out)
