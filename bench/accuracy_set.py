"""The accuracy harness's development set and edits (bench/accuracy.py): originals the rules
allow (scikit-image's photos, scikit-learn's sample images, drawn pictures) and the edits that
make one copy each (JPEG q90 unless the edit is itself an encoding; screenshots are PNG)."""

from __future__ import annotations

import functools
import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

# 2-D photos in skimage.data (those needing pooch are used when their files are present); left
# out: `cat` (the same picture as `chelsea`), the second `stereo_motorcycle` view, and the drawn
# test patterns (binary_blobs, checkerboard, horse, shepp_logan_phantom).
SKIMAGE_PHOTOS = (
    "astronaut", "brick", "camera", "cell", "chelsea", "clock", "coffee", "coins", "colorwheel",
    "eagle", "grass", "gravel", "hubble_deep_field", "immunohistochemistry", "lily", "logo",
    "microaneurysms", "moon", "page", "retina", "rocket", "skin", "stereo_motorcycle", "text",
)  # fmt: skip
LONGEST_SIDE = 1024  # larger photos are scaled down once, to keep the run short
DRAWN_SIZES = ((640, 480), (480, 640), (600, 600), (800, 450), (512, 384), (400, 560))


# -- development set --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Original:
    name: str  # skimage-astronaut, sklearn-china, drawn-0007

    def image(self) -> Image.Image:
        kind, _, key = self.name.partition("-")
        if kind == "drawn":
            seed = int(key)
            return drawn_original(seed, DRAWN_SIZES[seed % len(DRAWN_SIZES)])
        pixels = _skimage_pixels(key) if kind == "skimage" else _sklearn_pixels(key)
        image = Image.fromarray(pixels)
        if image.mode == "RGBA":
            image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image)
        image = image.convert("L" if image.mode in ("L", "I;16", "F") else "RGB")
        if max(image.size) > LONGEST_SIDE:
            image.thumbnail((LONGEST_SIDE, LONGEST_SIDE), Image.Resampling.LANCZOS)
        return image


def _skimage_pixels(name: str) -> np.ndarray:
    from skimage import data

    pixels = getattr(data, name)()
    return np.asarray(pixels[0] if isinstance(pixels, tuple) else pixels)


def _sklearn_pixels(name: str) -> np.ndarray:
    from sklearn.datasets import load_sample_image  # type: ignore[import-not-found]

    return np.asarray(load_sample_image(f"{name}.jpg"))


def shipped_photos() -> tuple[list[Original], list[str]]:
    """The photos that load here, and notes on what was left out and why."""
    found, notes = [], []
    missing = []
    for name in SKIMAGE_PHOTOS:
        try:
            _skimage_pixels(name)
        except Exception:  # pooch-only files raise ModuleNotFoundError or OSError offline
            missing.append(name)
            continue
        found.append(Original(f"skimage-{name}"))
    if missing:
        notes.append(f"skimage photos not installed here: {', '.join(missing)}")
    try:
        import sklearn  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        notes.append("scikit-learn is not installed: its sample images are skipped")
    else:
        found += [Original("sklearn-china"), Original("sklearn-flower")]
    return found, notes


def dev_set(count: int) -> tuple[list[Original], list[str]]:
    photos, notes = shipped_photos()
    photos = photos[:count]
    drawn = [Original(f"drawn-{seed:04d}") for seed in range(count - len(photos))]
    return photos + drawn, notes


def drawn_original(seed: int, size: tuple[int, int]) -> Image.Image:
    """A picture distinct per seed: a two-colour gradient, 12-30 shapes, a little blur and grain."""
    rng = np.random.default_rng(seed)
    width, height = size
    a, b = rng.integers(0, 256, (2, 3))
    angle = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:height, 0:width]
    t = (xx * math.cos(angle) + yy * math.sin(angle)).astype(np.float32)
    t = (t - t.min()) / max(float(np.ptp(t)), 1.0)
    background = a[None, None, :] * (1 - t[..., None]) + b[None, None, :] * t[..., None]
    image = Image.fromarray(background.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(12, 31))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        w = int(rng.integers(width // 12, width // 2))
        h = int(rng.integers(height // 12, height // 2))
        shape = rng.integers(0, 4)
        if shape == 0:
            draw.ellipse((x0, y0, x0 + w, y0 + h), fill=colour)
        elif shape == 1:
            draw.rectangle((x0, y0, x0 + w, y0 + h), fill=colour)
        elif shape == 2:
            points = [(x0 + int(rng.integers(0, w)), y0 + int(rng.integers(0, h))) for _ in "abcde"]
            draw.polygon(points, fill=colour)
        else:
            draw.line((x0, y0, x0 + w, y0 + h), fill=colour, width=int(rng.integers(3, 15)))
    blurred = np.asarray(image.filter(ImageFilter.GaussianBlur(1.2)), np.float32)
    grain = rng.normal(0, 3.0, blurred.shape).astype(np.float32)
    return Image.fromarray(np.clip(blurred + grain, 0, 255).astype(np.uint8))


# -- edits: each takes the original and returns the bytes of one copy -------------------------


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def webp(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "WEBP", quality=quality)
    return out.getvalue()


def resize(image: Image.Image, percent: int) -> bytes:
    size = (round(image.width * percent / 100), round(image.height * percent / 100))
    return jpeg(image.resize(size, Image.Resampling.LANCZOS))


def brightness(image: Image.Image, percent: int) -> bytes:
    return jpeg(ImageEnhance.Brightness(image).enhance(1 + percent / 100))


def contrast(image: Image.Image, percent: int) -> bytes:
    return jpeg(ImageEnhance.Contrast(image).enhance(1 + percent / 100))


def gamma(image: Image.Image, value: float) -> bytes:
    table = [round(255 * (i / 255) ** value) for i in range(256)]
    return jpeg(image.point(table * len(image.getbands())))


def blur(image: Image.Image, radius: float) -> bytes:
    return jpeg(image.filter(ImageFilter.GaussianBlur(radius)))


def greyscale(image: Image.Image) -> bytes:
    return jpeg(image.convert("L"))


def turn(image: Image.Image, how: Image.Transpose) -> bytes:
    return jpeg(image.transpose(how))


def crop(image: Image.Image, percent: int, anchor: str) -> bytes:
    """`percent` of the width and of the height cut away: half each side, or all top-left."""
    dw, dh = round(image.width * percent / 100), round(image.height * percent / 100)
    left, top = (dw // 2, dh // 2) if anchor == "centre" else (dw, dh)
    return jpeg(image.crop((left, top, left + image.width - dw, top + image.height - dh)))


def border(image: Image.Image, percent: int, colour: str) -> bytes:
    """A uniform border `percent` of the shorter side wide on all four sides."""
    return jpeg(ImageOps.expand(image, round(min(image.size) * percent / 100), fill=colour))


def letterbox(image: Image.Image, percent: int, axis: str) -> bytes:
    """Black bars adding `percent` to the height (letterbox) or the width (pillarbox)."""
    w, h = image.size
    size = (
        (w, h + round(h * percent / 100))
        if axis == "letterbox"
        else (w + round(w * percent / 100), h)
    )
    canvas = Image.new(image.mode, size, "black")
    canvas.paste(image, ((size[0] - w) // 2, (size[1] - h) // 2))
    return jpeg(canvas)


def _blocks(
    draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], colour: str, seed: int
) -> None:
    """Rows of word-like blocks inside `box` (stand-ins for text)."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = box
    line = max(4, (y1 - y0) // 3)
    for top in range(y0 + line // 2, y1 - line, line + line // 2):
        x = x0 + line
        while x < x1 - 2 * line:
            width = int(rng.integers(line, 4 * line))
            draw.rectangle((x, top, min(x + width, x1 - line), top + line - 1), fill=colour)
            x += width + line // 2


def caption(image: Image.Image, percent: int, where: str) -> bytes:
    """A meme caption: a white bar `percent` of the height, above or below, with black blocks."""
    w, h = image.size
    bar = round(h * percent / 100)
    canvas = Image.new("RGB", (w, h + bar), "white")
    canvas.paste(image.convert("RGB"), (0, bar if where == "top" else 0))
    top = 0 if where == "top" else h
    _blocks(ImageDraw.Draw(canvas), (0, top, w, top + bar), "black", w + h)
    return jpeg(canvas)


def screenshot(image: Image.Image, kind: str) -> bytes:
    """The image inside an app's frame: a phone feed (92 % of the width) or a desktop browser
    window with a sidebar (60 %), with status, title and tool bars of blocks and icons."""
    w, h = image.size
    draw_seed = w * 7 + h
    if kind == "phone":
        width = round(w / 0.92)
        status, appbar = round(width * 0.07), round(width * 0.14)
        height = max(round(width * 19.5 / 9), status + appbar + h + round(width * 0.3))
        canvas = Image.new("RGB", (width, height), "white")
        draw = ImageDraw.Draw(canvas)
        draw.rectangle((0, 0, width, status), fill="#202020")
        _blocks(draw, (0, 0, width // 3, status), "#e0e0e0", draw_seed)
        draw.ellipse(
            (
                width // 30,
                status + appbar // 5,
                width // 30 + appbar * 3 // 5,
                status + appbar * 4 // 5,
            ),
            fill="#c03060",
        )
        _blocks(draw, (appbar, status, width, status + appbar), "#303030", draw_seed + 1)
        left, top = (width - w) // 2, status + appbar
        canvas.paste(image.convert("RGB"), (left, top))
        below = top + h
        for k in range(4):
            x = width // 30 + k * width // 8
            draw.ellipse(
                (x, below + 10, x + width // 14, below + 10 + width // 14), outline="black", width=3
            )
        _blocks(draw, (0, below + width // 8, width, height), "#404040", draw_seed + 2)
    else:
        width = round(w / 0.6)
        title, tabs, sidebar = round(width * 0.025), round(width * 0.035), round(width * 0.18)
        height = max(round(width * 10 / 16), title + tabs + h + round(width * 0.06))
        canvas = Image.new("RGB", (width, height), "#f4f4f4")
        draw = ImageDraw.Draw(canvas)
        draw.rectangle((0, 0, width, title), fill="#3a3a3a")
        draw.rectangle((0, title, width, title + tabs), fill="#dcdcdc")
        draw.rounded_rectangle(
            (width // 5, title + tabs // 5, width * 4 // 5, title + tabs * 4 // 5),
            radius=tabs // 3,
            fill="white",
        )
        draw.rectangle((0, title + tabs, sidebar, height), fill="#e8e8f0")
        _blocks(draw, (0, title + tabs, sidebar, height), "#7080a0", draw_seed)
        left, top = sidebar + (width - sidebar - w) // 2, title + tabs + round(width * 0.03)
        canvas.paste(image.convert("RGB"), (left, top))
        _blocks(draw, (left, top + h, left + w, height), "#505050", draw_seed + 1)
    return png(canvas)


def inscribed_scale(width: int, height: int, degrees: float) -> float:
    """Largest s such that an s-scaled, axis-aligned, centred w×h box fits in the rotated image."""
    c, s = math.cos(math.radians(abs(degrees))), math.sin(math.radians(abs(degrees)))
    return min(width / (width * c + height * s), height / (width * s + height * c))


def rotate(image: Image.Image, degrees: float, cut: bool) -> bytes:
    """A small rotation: on a larger canvas with black corners, or cut to the largest same-shape
    box inside (the corners cropped away, as a straightening tool does)."""
    if not cut:
        return jpeg(image.rotate(degrees, Image.Resampling.BICUBIC, expand=True, fillcolor="black"))
    turned = image.rotate(degrees, Image.Resampling.BICUBIC)
    scale = inscribed_scale(image.width, image.height, degrees)
    w, h = math.floor(image.width * scale), math.floor(image.height * scale)
    left, top = (image.width - w) // 2, (image.height - h) // 2
    return jpeg(turned.crop((left, top, left + w, top + h)))


@dataclass(frozen=True, slots=True)
class Edit:
    group: str  # easy, flips, crops, frames, rotation: the "done when" lines
    family: str
    strength: str
    make: Callable[[Image.Image], bytes]
    suffix: str = "jpg"

    @property
    def name(self) -> str:
        # The file name of the copy in the cache: letters, digits and . + - only.
        label = f"{self.family}-{self.strength}".replace("°", "deg")
        return re.sub(r"-+", "-", re.sub(r"[^A-Za-z0-9.+-]", "-", label)).strip("-")


def _edits() -> tuple[Edit, ...]:
    p = functools.partial
    t = Image.Transpose
    out = [Edit("easy", "jpeg", f"q{q}", p(jpeg, quality=q)) for q in (50, 70, 90)]
    out += [Edit("easy", "resize", f"{n} %", p(resize, percent=n)) for n in (50, 75, 150, 200)]
    out += [Edit("easy", "brightness", f"{n:+d} %", p(brightness, percent=n)) for n in (-25, 25)]
    out += [Edit("easy", "contrast", f"{n:+d} %", p(contrast, percent=n)) for n in (-25, 25)]
    out += [Edit("easy", "gamma", f"{g}", p(gamma, value=g)) for g in (0.7, 1.4)]
    out += [Edit("easy", "blur", f"r{r}", p(blur, radius=r)) for r in (1, 2)]
    out += [Edit("easy", "greyscale", "-", greyscale)]
    out += [Edit("easy", "webp", f"q{q}", p(webp, quality=q), "webp") for q in (60, 90)]
    turns = {"mirror": t.FLIP_LEFT_RIGHT, "upside-down": t.FLIP_TOP_BOTTOM, "90": t.ROTATE_90}
    turns |= {"180": t.ROTATE_180, "270": t.ROTATE_270}
    out += [Edit("flips", "flip/turn", k, p(turn, how=how)) for k, how in turns.items()]
    for anchor in ("centre", "corner"):
        out += [
            Edit("crops", "crop", f"{anchor} {n} %", p(crop, percent=n, anchor=anchor))
            # 7 %: between the stored crops' 5 and 10 (tutela.signals.crops), not on one.
            for n in (2, 5, 7, 10)
        ]
    for colour in ("white", "black"):
        out += [
            Edit("frames", "border", f"{colour} {n} %", p(border, percent=n, colour=colour))
            for n in (5, 10, 20)
        ]
    for axis in ("letterbox", "pillarbox"):
        out += [
            Edit("frames", "letterbox", f"{axis} {n} %", p(letterbox, percent=n, axis=axis))
            for n in (10, 25)
        ]
    for where, n in (("top", 15), ("top", 30), ("bottom", 15)):
        out += [Edit("frames", "caption", f"{where} {n} %", p(caption, percent=n, where=where))]
    out += [
        Edit("frames", "screenshot", k, p(screenshot, kind=k), "png") for k in ("phone", "desktop")
    ]
    # Robust variants undo whole degrees (tutela.signals.robust.ROTATIONS); the half degrees
    # between them and a clockwise turn check that recall does not hang on the angles picked.
    for cut, angles in ((False, (2, 3.5, 5)), (True, (2, 2.5, 3.5, 4.5, 5, -3))):
        label = "cut" if cut else "corners"
        out += [
            Edit("rotation", "rotate", _turned(d, label), p(rotate, degrees=d, cut=cut))
            for d in angles
        ]
    return tuple(out)


def _turned(degrees: float, label: str) -> str:
    """`2° cut`, `3.5° corners`; a clockwise turn (negative degrees) as `3° cw cut`."""
    return f"{degrees:g}° {label}" if degrees > 0 else f"{-degrees:g}° cw {label}"


EDITS = _edits()
GROUPS = ("easy", "flips", "crops", "frames", "rotation")
