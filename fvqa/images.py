"""The one place that turns image bytes into pixels: only :data:`ALLOWED_FORMATS` reach a decoder,
sizes are checked before pixels are allocated, and every failure is an :class:`ImageDecodeError`.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import logging
import os
import re
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import imagehash
import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

DEFAULT_MAX_PIXELS: int = 64_000_000
ALLOWED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")

_LOG = logging.getLogger(__name__)
_LIMIT_LOCK = threading.Lock()
_HEX16 = re.compile(r"[0-9a-fA-F]{16}")
_PILLOW_PIXELS = re.compile(r"\((\d+) pixels\)")
_FORMAT_NAMES = {"MPO": "JPEG", "JPG": "JPEG", "TIF": "TIFF"}
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_TRUNCATION_MARKS = ("truncated", "not enough", "requires a buffer of at least")
_NO_DRIVER = "not identified by this driver"  # Pillow's words for a missing mode or a 0 side


class ImageErrorKind(enum.StrEnum):
    """Why some bytes could not be turned into an image."""

    EMPTY = "empty"
    NOT_AN_IMAGE = "not_an_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    TRUNCATED = "truncated"
    CORRUPT = "corrupt"
    TOO_LARGE = "too_large"
    ZERO_SIZE = "zero_size"


class ImageDecodeError(ValueError):
    """Input that is not a usable image: ``kind`` says why, ``source`` names the input."""

    def __init__(self, kind: ImageErrorKind, reason: str, source: str | None = None) -> None:
        self.kind: ImageErrorKind = kind
        self.reason: str = reason
        self.source: str | None = source
        super().__init__(f"{source}: {reason}" if source else reason)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.kind, self.reason, self.source))


@dataclass(frozen=True)
class DecodedImage:
    """A loaded RGB picture, the input's format, the picture's size and the input's SHA-256."""

    image: Image.Image
    format: str
    width: int
    height: int
    sha256: str


@dataclass(frozen=True)
class ImageInfo:
    """What :func:`inspect_image` learns about an input, without keeping the pixels."""

    sha256: str
    format: str
    width: int
    height: int
    phash: str


def _error(kind: ImageErrorKind, detail: str, source: str | None) -> ImageDecodeError:
    """Build an error whose reason opens with the kind in words, e.g. "too large: ..."."""
    return ImageDecodeError(kind, f"{kind.value.replace('_', ' ')}: {detail}", source)


def sha256_hex(data: bytes) -> str:
    """SHA-256 of ``data`` as lowercase hex."""
    return hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def _pillow_limit(max_pixels: int) -> Iterator[None]:
    """During one decode, raise (never lower) Pillow's global bomb limit; always restored."""
    current = Image.MAX_IMAGE_PIXELS
    if current is None or max_pixels <= current:
        yield
        return
    with _LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        if saved is not None:
            Image.MAX_IMAGE_PIXELS = max(saved, max_pixels)
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _check_size(size: tuple[int, int], max_pixels: int, source: str | None) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise _error(ImageErrorKind.ZERO_SIZE, f"the image is {width}x{height} pixels", source)
    if width * height > max_pixels:
        pixels = f"{width}x{height} = {width * height:,} pixels"
        detail = f"{pixels} exceeds the limit of {max_pixels:,} pixels (pass a larger max_pixels)"
        raise _error(ImageErrorKind.TOO_LARGE, detail, source)


def _sniff(prefix: bytes) -> str | None:
    """Name the registered format whose signature test accepts ``prefix``; nothing is parsed."""
    Image.init()
    for name in Image.ID:
        accept = Image.OPEN[name][1]
        try:  # formats without a signature test are never guessed
            verdict = accept(prefix) if accept else False
        except Exception:  # a signature test choking on short input means "no"
            continue
        if verdict and not isinstance(verdict, str):
            return name
    return None


def _header_size(name: str, data: bytes) -> tuple[int, int] | None:
    """The width and height a PNG or GIF header declares, read from fixed byte offsets."""
    if name == "PNG" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if name == "GIF" and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    return None


def _classify(exc: BaseException, max_pixels: int, source: str | None) -> ImageDecodeError:
    """Map an exception from Pillow (or zlib/struct/numpy beneath it) to an ImageDecodeError."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, MemoryError):
        detail = f"ran out of memory while decoding (the limit is {max_pixels:,} pixels)"
        return _error(ImageErrorKind.TOO_LARGE, detail, source)
    if isinstance(exc, Image.DecompressionBombError):
        found = _PILLOW_PIXELS.search(text)
        pixels = f"{int(found.group(1)):,} pixels" if found else f"the image ({text})"
        detail = f"{pixels} exceeds the limit of {max_pixels:,} pixels (pass a larger max_pixels)"
        return _error(ImageErrorKind.TOO_LARGE, detail, source)
    if isinstance(exc, EOFError) or any(mark in text.lower() for mark in _TRUNCATION_MARKS):
        return _error(ImageErrorKind.TRUNCATED, f"the data ends early ({text})", source)
    return _error(ImageErrorKind.CORRUPT, f"decoding failed ({type(exc).__name__}: {text})", source)


def _unidentified(data: bytes, max_pixels: int, source: str | None) -> ImageDecodeError:
    """Explain why no allowed format could open ``data``."""
    name = _sniff(data[:16])
    if name is None:
        return _error(ImageErrorKind.NOT_AN_IMAGE, "the bytes match no known image format", source)
    if name not in ALLOWED_FORMATS:
        allowed = ", ".join(ALLOWED_FORMATS)
        return _error(ImageErrorKind.UNSUPPORTED_FORMAT, f"{name} is not one of {allowed}", source)
    try:  # an allowed format whose header failed: parse it again (header only) to learn why
        Image.OPEN[name][0](BytesIO(data), "")
    except Exception as exc:
        size = _header_size(name, data) if str(exc) == _NO_DRIVER else None
        if size is not None and min(size) <= 0:
            detail = f"the {name} header says {size[0]}x{size[1]} pixels"
            return _error(ImageErrorKind.ZERO_SIZE, detail, source)
        return _classify(exc, max_pixels, source)
    return _error(ImageErrorKind.CORRUPT, f"the {name} header could not be read", source)


def _open_loaded(data: bytes, max_pixels: int, source: str | None) -> Image.Image:
    """Open ``data``, check its size, verify PNG checksums, then load the first frame."""
    try:
        image = Image.open(BytesIO(data), formats=ALLOWED_FORMATS)
    except UnidentifiedImageError:
        raise _unidentified(data, max_pixels, source) from None
    _check_size(image.size, max_pixels, source)
    if image.format == "PNG":  # checks the CRC of every chunk, pixel data included
        Image.open(BytesIO(data), formats=("PNG",)).verify()
    image.load()
    _check_size(image.size, max_pixels, source)  # a GIF frame may enlarge the canvas
    return image


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; unreadable EXIF leaves the picture as stored."""
    try:
        if image.getexif().get(ExifTags.Base.Orientation, 1) in range(2, 9):
            return ImageOps.exif_transpose(image)
    except Exception as exc:  # broken metadata must not reject a decodable picture
        _LOG.debug("ignoring unreadable EXIF orientation: %s", exc)
    return image


def _to_uint8(pixels: np.ndarray, mode: str) -> np.ndarray:
    """Scale wide greyscale samples to 0..255.

    ``I;16*`` maps 0..65535 linearly onto 0..255; so does ``I`` when all values lie in 0..65535,
    else it is stretched min..max. ``F`` is read as 0..1 when all values lie there, else stretched
    min..max. NaN and infinities become 0; a constant image that needs stretching is clipped.
    """
    values = np.nan_to_num(pixels.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if mode.startswith("I;16") or (mode == "I" and low >= 0 and high <= 65535):
        values = values / 257.0
    elif mode == "F" and low >= 0 and high <= 1:
        values = values * 255.0
    elif high > low:
        values = (values - low) * (255.0 / (high - low))
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _to_rgb(image: Image.Image) -> Image.Image:
    """A new 8-bit RGB copy of ``image``; transparent parts are composited onto white."""
    if image.mode.startswith("I") or image.mode == "F":
        return Image.fromarray(_to_uint8(np.asarray(image), image.mode)).convert("RGB")
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def _normalise(image: Image.Image, source: str | None) -> Image.Image:
    upright = _upright(image)
    try:
        return _to_rgb(upright)
    except ValueError as exc:  # a colour mode Pillow cannot convert, e.g. "La"
        detail = f"{image.format} in colour mode {upright.mode} cannot become RGB ({exc})"
        raise _error(ImageErrorKind.UNSUPPORTED_FORMAT, detail, source) from exc


def decode_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, source: str | None = None) -> DecodedImage:
    """Decode ``data`` to a loaded RGB image (first frame, EXIF orientation applied).

    ``source`` labels errors; ``max_pixels`` wins over Pillow's own limit. Pillow warnings are
    captured (``warnings.catch_warnings``, process-wide) and logged at debug level.
    """
    if not data:
        raise _error(ImageErrorKind.EMPTY, "the input has zero bytes", source)
    with warnings.catch_warnings(record=True) as caught, _pillow_limit(max_pixels):
        warnings.simplefilter("always")
        try:
            loaded = _open_loaded(data, max_pixels, source)
            rgb = _normalise(loaded, source)
        except ImageDecodeError:
            raise
        except Exception as exc:
            raise _classify(exc, max_pixels, source) from exc
    for item in caught:
        _LOG.debug("Pillow warning while decoding %s: %s", source or "image", item.message)
    fmt = _FORMAT_NAMES.get(str(loaded.format), str(loaded.format))
    return DecodedImage(rgb, fmt, rgb.width, rgb.height, sha256_hex(data))


def perceptual_hash(image: Image.Image) -> str:
    """The 64-bit DCT perceptual hash (``imagehash.phash``) as 16 lowercase hex digits."""
    return str(imagehash.phash(image)).lower()


def phash_distance(a: str, b: str) -> int:
    """Number of differing bits between two 16-hex-digit perceptual hashes."""
    for value in (a, b):
        if not isinstance(value, str) or not _HEX16.fullmatch(value):
            raise ValueError(f"not a 16-hex-digit perceptual hash: {value!r}")
    return (int(a, 16) ^ int(b, 16)).bit_count()


def encode_image(image: Image.Image, format: str = "PNG", **save_kwargs: Any) -> bytes:
    """Encode as one of :data:`ALLOWED_FORMATS` (else ValueError); JPEG input is flattened to RGB."""
    name = _FORMAT_NAMES.get(format.upper(), format.upper())
    if name not in ALLOWED_FORMATS:
        raise ValueError(f"cannot encode as {format!r}; choose one of {', '.join(ALLOWED_FORMATS)}")
    if name == "JPEG" and image.mode not in ("RGB", "L", "CMYK"):
        image = _to_rgb(image)
    buffer = BytesIO()
    image.save(buffer, format=name, **save_kwargs)
    return buffer.getvalue()


def make_thumbnail(image: Image.Image, max_side: int = 256, *, quality: int = 85) -> bytes:
    """JPEG bytes of ``image`` shrunk to fit in ``max_side`` squared; aspect kept, never enlarged."""
    if max_side < 1 or not 1 <= quality <= 100:
        raise ValueError(f"need max_side >= 1 and quality in 1..100, got {max_side}, {quality}")
    thumb = _to_rgb(image)
    thumb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return encode_image(thumb, "JPEG", quality=quality)


def inspect_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, source: str | None = None) -> ImageInfo:
    """Decode ``data`` and summarise it; raises like :func:`decode_image`."""
    decoded = decode_image(data, max_pixels=max_pixels, source=source)
    phash = perceptual_hash(decoded.image)
    return ImageInfo(decoded.sha256, decoded.format, decoded.width, decoded.height, phash)


def read_image_bytes(path: str | os.PathLike[str], *, max_bytes: int = 64 * 2**20) -> bytes:
    """Read a file to decode; empty or over ``max_bytes`` raises, a missing one gives OSError."""
    label = os.fsdecode(path)
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        data = handle.read(max_bytes + 1) if size <= max_bytes else b""
    if size > max_bytes or len(data) > max_bytes:
        held = f"{size:,} bytes" if size > max_bytes else f"more than {max_bytes:,} bytes"
        detail = f"the file holds {held}, over the limit of {max_bytes:,} (pass a larger max_bytes)"
        raise _error(ImageErrorKind.TOO_LARGE, detail, label)
    if not data:
        raise _error(ImageErrorKind.EMPTY, "the file has zero bytes", label)
    return data
