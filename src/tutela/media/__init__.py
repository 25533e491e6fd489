"""Engine layer: untrusted bytes → pixels, safely (format sniffing, limits, isolated workers).

The names below load their module on first use, so that importing `tutela.media.limits` or
`tutela.media.formats` (settings, the `tutela hash` parent) does not import numpy and Pillow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tutela.media.decode import DecodedImage, decode_image
    from tutela.media.formats import ImageFormat, sniff_format
    from tutela.media.limits import MediaLimits

__all__ = ["DecodedImage", "ImageFormat", "MediaLimits", "decode_image", "sniff_format"]

_HOMES = {
    "DecodedImage": "decode",
    "decode_image": "decode",
    "ImageFormat": "formats",
    "sniff_format": "formats",
    "MediaLimits": "limits",
}


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
