"""Edits of a photo that image search must see through (crops, mirror, rotation, colour,
rescale, recompression): shared by the search tests and benchmarks/image_search.py."""

from __future__ import annotations

import io
from collections.abc import Callable

from PIL import Image, ImageEnhance, ImageOps


def _crop(image: Image.Image, fx: float, fy: float, share: float) -> Image.Image:
    width, height = image.size
    cw, ch = round(width * share), round(height * share)
    left, top = round((width - cw) * fx), round((height - ch) * fy)
    return image.crop((left, top, left + cw, top + ch))


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _colour(image: Image.Image) -> Image.Image:
    hue, sat, val = image.convert("HSV").split()
    shifted = Image.merge("HSV", (hue.point(lambda x: (x + 20) % 256), sat, val)).convert("RGB")
    return ImageEnhance.Brightness(shifted).enhance(1.2)


PERTURBATIONS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "same": lambda im: im,
    "crop80_centre": lambda im: _crop(im, 0.5, 0.5, 0.8),
    "crop70_off_centre": lambda im: _crop(im, 0.2, 0.8, 0.7),
    "mirror": ImageOps.mirror,
    "rotate10": lambda im: im.rotate(10, resample=Image.Resampling.BICUBIC, expand=True),
    "colour_shift": _colour,
    "rescale50": lambda im: im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS),
    "jpeg40": lambda im: _jpeg(im, 40),
}
