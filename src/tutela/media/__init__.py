"""Engine layer: untrusted bytes → pixels, safely (format sniffing, limits, isolated workers)."""

from tutela.media.decode import DecodedImage, decode_image
from tutela.media.formats import ImageFormat, sniff_format
from tutela.media.limits import MediaLimits

__all__ = ["DecodedImage", "ImageFormat", "MediaLimits", "decode_image", "sniff_format"]
