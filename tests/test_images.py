"""Tests for fvqa.images; every input is generated here with Pillow, numpy or raw bytes."""

from __future__ import annotations

import hashlib
import io
import pickle
import random
import struct
import subprocess
import time
import warnings
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from fvqa.images import (
    ALLOWED_FORMATS,
    DEFAULT_MAX_PIXELS,
    DecodedImage,
    ImageDecodeError,
    ImageErrorKind,
    ImageInfo,
    decode_image,
    encode_image,
    inspect_image,
    make_thumbnail,
    perceptual_hash,
    phash_distance,
    read_image_bytes,
    sha256_hex,
)

SOURCE = "sample-0042"


# ---------------------------------------------------------------- helpers


def save(image: Image.Image, fmt: str, **kwargs: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def scene(width: int = 256, height: int = 192, variant: int = 0) -> Image.Image:
    """A smooth, photo-like picture: gradients plus a few soft shapes."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    u, v = x / width, y / height
    if variant == 0:
        red, green, blue = 200 * u + 30, 180 * (1 - v) + 40, 120 + 80 * np.sin(6 * u)
        blobs = [(0.3, 0.4, 0.15, (240, 40, 40)), (0.7, 0.6, 0.2, (30, 60, 220))]
    else:
        red, green, blue = 220 * v + 20, 100 + 90 * np.cos(9 * v), 200 * (1 - u) + 30
        blobs = [(0.8, 0.2, 0.12, (20, 200, 40)), (0.2, 0.8, 0.25, (250, 230, 20))]
    pixels = np.stack([red, green, blue], axis=-1)
    for cx, cy, radius, colour in blobs:
        inside = (u - cx) ** 2 + (v - cy) ** 2 < radius**2
        pixels[inside] = colour
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def expect_error(data: bytes, *kinds: ImageErrorKind, **kwargs: Any) -> ImageDecodeError:
    with pytest.raises(ImageDecodeError) as info:
        decode_image(data, source=SOURCE, **kwargs)
    err = info.value
    assert err.kind in kinds, (err.kind, str(err))
    assert err.source == SOURCE
    assert str(err) == f"{SOURCE}: {err.reason}"
    assert err.reason.startswith(err.kind.value.replace("_", " ") + ":")
    return err


def px(image: Image.Image, x: int, y: int) -> tuple[int, ...]:
    value = image.getpixel((x, y))
    assert isinstance(value, tuple)
    return value


def close(pixel: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


# ---------------------------------------------------------------- valid inputs


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF"])
def test_decodes_each_allowed_format_to_rgb(fmt: str) -> None:
    data = save(scene(120, 80), fmt)
    decoded = decode_image(data, source=SOURCE)
    assert isinstance(decoded, DecodedImage)
    assert decoded.format == fmt
    assert decoded.image.mode == "RGB"
    assert decoded.image.size == (120, 80) == (decoded.width, decoded.height)
    assert decoded.sha256 == hashlib.sha256(data).hexdigest()
    decoded.image.getpixel((0, 0))  # fully loaded, usable after the bytes are gone


def test_animated_gif_gives_first_frame() -> None:
    frames = [Image.new("RGB", (32, 24), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    data = save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 2
    decoded = decode_image(data)
    assert decoded.format == "GIF"
    assert close(px(decoded.image, 5, 5), (255, 0, 0))


def test_palette_png_with_transparency_goes_onto_white() -> None:
    image = Image.new("P", (10, 10), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.paste(1, (5, 0, 10, 10))
    decoded = decode_image(save(image, "PNG", transparency=0))
    assert decoded.image.getpixel((1, 1)) == (255, 255, 255)
    assert decoded.image.getpixel((8, 1)) == (255, 0, 0)


def test_rgba_is_composited_onto_white() -> None:
    pixels = np.zeros((4, 4, 4), dtype=np.uint8)
    pixels[..., 2] = 255  # blue
    pixels[:, :2, 3] = 0  # left half transparent
    pixels[:, 2:, 3] = 128  # right half half-transparent
    decoded = decode_image(save(Image.fromarray(pixels, "RGBA"), "PNG"))
    assert decoded.image.getpixel((0, 0)) == (255, 255, 255)
    assert close(px(decoded.image, 3, 0), (127, 127, 255), tolerance=2)


def test_cmyk_jpeg_becomes_rgb() -> None:
    image = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red ink
    decoded = decode_image(save(image, "JPEG", quality=95))
    assert decoded.image.mode == "RGB"
    assert close(px(decoded.image, 8, 8), (255, 0, 0), tolerance=20)


def test_16_bit_greyscale_png_is_scaled_not_clipped() -> None:
    values = np.array([[0, 32768, 65535, 257]], dtype=np.uint16)
    image = Image.fromarray(values)
    assert image.mode == "I;16"
    decoded = decode_image(save(image, "PNG"))
    row = [px(decoded.image, x, 0) for x in range(4)]
    assert row[0] == (0, 0, 0)
    assert row[1][0] in (127, 128)
    assert row[2] == (255, 255, 255)
    assert row[3] == (1, 1, 1)


def test_float_tiff_in_unit_range_is_scaled() -> None:
    values = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    decoded = decode_image(save(Image.fromarray(values, "F"), "TIFF"))
    assert [px(decoded.image, x, 0)[0] for x in range(3)] == [0, 128, 255]


def test_32_bit_and_float_out_of_range_are_stretched() -> None:
    wide = np.array([[-100, 0, 100_000]], dtype=np.int32)
    decoded = decode_image(save(Image.fromarray(wide, "I"), "TIFF"))
    assert [px(decoded.image, x, 0)[0] for x in range(3)] == [0, 0, 255]
    floats = np.array([[-2.0, 0.0, 2.0]], dtype=np.float32)
    decoded = decode_image(save(Image.fromarray(floats, "F"), "TIFF"))
    assert [px(decoded.image, x, 0)[0] for x in range(3)] == [0, 128, 255]


def test_exif_orientation_is_applied() -> None:
    upright = scene(60, 100)
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a sideways camera writes
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    rotated = decode_image(save(stored, "JPEG", quality=95, exif=exif.tobytes()))
    assert stored.size == (100, 60)
    assert (rotated.width, rotated.height) == (60, 100)
    reference = decode_image(save(upright, "JPEG", quality=95))
    distance = phash_distance(perceptual_hash(rotated.image), perceptual_hash(reference.image))
    assert distance <= 4


# ---------------------------------------------------------------- hostile inputs


def test_empty_bytes() -> None:
    expect_error(b"", ImageErrorKind.EMPTY)


def test_text_file_is_not_an_image() -> None:
    err = expect_error(b"hello, this is not a picture\n", ImageErrorKind.NOT_AN_IMAGE)
    assert "not an image" in str(err)


def test_random_bytes_are_not_an_image() -> None:
    expect_error(random.Random(1234).randbytes(4096), ImageErrorKind.NOT_AN_IMAGE)


def test_jpeg_cut_in_half_is_truncated() -> None:
    data = save(scene(), "JPEG")
    err = expect_error(data[: len(data) // 2], ImageErrorKind.TRUNCATED)
    assert "truncated" in str(err)


def test_png_cut_in_half() -> None:
    data = save(scene(), "PNG")
    err = expect_error(data[: len(data) // 2], ImageErrorKind.TRUNCATED, ImageErrorKind.CORRUPT)
    assert len(err.reason) > len("truncated: ")


def test_png_with_flipped_idat_byte() -> None:
    data = bytearray(save(scene(), "PNG"))
    data[data.index(b"IDAT") + 200] ^= 0xFF
    err = expect_error(bytes(data), ImageErrorKind.CORRUPT, ImageErrorKind.TRUNCATED)
    assert "IDAT" in err.reason or "checksum" in err.reason


def test_png_header_cut_inside_ihdr() -> None:
    data = save(scene(), "PNG")
    expect_error(data[:20], ImageErrorKind.TRUNCATED, ImageErrorKind.CORRUPT)


def test_decompression_bomb_is_refused_then_allowed_by_caller_limit() -> None:
    data = save(Image.new("1", (10_000, 10_000), 0), "PNG")
    assert len(data) < 100_000
    started = time.perf_counter()
    err = expect_error(data, ImageErrorKind.TOO_LARGE, max_pixels=1_000_000)
    assert "10000x10000" in err.reason and "1,000,000" in err.reason
    assert "max_pixels" in err.reason
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow warns above its own limit: that must stay inside
        expect_error(data, ImageErrorKind.TOO_LARGE)  # the default limit is 64M pixels
        decoded = decode_image(data, max_pixels=200_000_000)
    assert (decoded.width, decoded.height) == (10_000, 10_000)
    assert decoded.image.getpixel((9_999, 9_999)) == (0, 0, 0)
    assert time.perf_counter() - started < 10


def test_caller_limit_beats_pillow_error_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)
    data = save(Image.new("L", (1_000, 1_000), 7), "PNG")  # 10x Pillow's limit: it would raise
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(data))
    decoded = decode_image(data, max_pixels=2_000_000)
    assert decoded.image.getpixel((0, 0)) == (7, 7, 7)
    assert Image.MAX_IMAGE_PIXELS == 100_000  # restored
    expect_error(data, ImageErrorKind.TOO_LARGE, max_pixels=500_000)


def test_zero_width_png() -> None:
    header = struct.pack(">IIBBBBB", 0, 10, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
    data += png_chunk(b"IDAT", zlib.compress(b"\x00" * 10)) + png_chunk(b"IEND", b"")
    err = expect_error(data, ImageErrorKind.ZERO_SIZE)
    assert "0x10" in err.reason


def test_eps_is_refused_without_running_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a subprocess was started")

    for name in ("Popen", "run", "call", "check_call", "check_output"):
        monkeypatch.setattr(subprocess, name, forbidden)
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nnewpath 0 0 moveto showpage\n%%EOF\n"
    err = expect_error(eps, ImageErrorKind.NOT_AN_IMAGE, ImageErrorKind.UNSUPPORTED_FORMAT)
    assert "EPS" in err.reason


def test_real_but_unsupported_format() -> None:
    data = save(Image.new("RGB", (8, 8)), "PPM")
    err = expect_error(data, ImageErrorKind.UNSUPPORTED_FORMAT)
    assert "PPM" in err.reason


def test_error_without_source_and_pickling() -> None:
    with pytest.raises(ImageDecodeError) as info:
        decode_image(b"")
    assert str(info.value) == info.value.reason
    assert isinstance(info.value, ValueError)
    copy = pickle.loads(pickle.dumps(info.value))
    assert (copy.kind, copy.reason, copy.source) == (info.value.kind, info.value.reason, None)


# ---------------------------------------------------------------- hashing


def test_sha256_hex_matches_hashlib() -> None:
    data = b"some bytes \x00\xff"
    assert sha256_hex(data) == hashlib.sha256(data).hexdigest()


def test_perceptual_hash_is_stable_and_robust() -> None:
    original = scene(256, 256)
    digest = perceptual_hash(original)
    assert len(digest) == 16 and digest == digest.lower()
    int(digest, 16)
    assert perceptual_hash(decode_image(save(original, "PNG")).image) == digest
    recompressed = decode_image(save(original, "JPEG", quality=60)).image
    assert phash_distance(digest, perceptual_hash(recompressed)) <= 8
    half = original.resize((128, 128), Image.Resampling.LANCZOS)
    assert phash_distance(digest, perceptual_hash(half)) <= 8
    other = perceptual_hash(scene(256, 256, variant=1))
    assert phash_distance(digest, other) >= 16


def test_phash_distance_counts_bits_and_rejects_garbage() -> None:
    assert phash_distance("0" * 16, "0" * 16) == 0
    assert phash_distance("0" * 16, "f" * 16) == 64
    assert phash_distance("000000000000000F", "0000000000000001") == 3
    for bad in ("", "0" * 15, "0" * 17, "g" * 16, " " + "0" * 15, "0x" + "0" * 14):
        with pytest.raises(ValueError):
            phash_distance(bad, "0" * 16)
    with pytest.raises(ValueError):
        phash_distance("0" * 16, None)  # type: ignore[arg-type]


def test_inspect_image() -> None:
    data = save(scene(64, 48), "WEBP")
    info = inspect_image(data, source=SOURCE)
    assert isinstance(info, ImageInfo)
    assert (info.format, info.width, info.height) == ("WEBP", 64, 48)
    assert info.sha256 == sha256_hex(data)
    assert info.phash == perceptual_hash(decode_image(data).image)
    with pytest.raises(ImageDecodeError) as err:
        inspect_image(b"nope", source=SOURCE)
    assert SOURCE in str(err.value)


# ---------------------------------------------------------------- encoding


@pytest.mark.parametrize(("size", "limit"), [((1000, 500), 256), ((333, 1000), 100)])
def test_make_thumbnail_shrinks_and_keeps_aspect(size: tuple[int, int], limit: int) -> None:
    thumb = Image.open(io.BytesIO(make_thumbnail(scene(*size), limit)))
    assert thumb.format == "JPEG"
    assert max(thumb.size) == limit
    expected_other = min(size) * limit / max(size)
    assert abs(min(thumb.size) - expected_other) <= 1


def test_make_thumbnail_never_upscales_and_flattens_alpha() -> None:
    small = Image.new("RGBA", (40, 30), (0, 0, 0, 0))
    thumb = Image.open(io.BytesIO(make_thumbnail(small, 256, quality=70)))
    assert thumb.size == (40, 30)
    assert close(px(thumb, 20, 15), (255, 255, 255), tolerance=3)
    with pytest.raises(ValueError):
        make_thumbnail(small, 0)


def test_encode_image_round_trips() -> None:
    image = scene(30, 20)
    for fmt in ALLOWED_FORMATS:
        assert decode_image(encode_image(image, fmt)).format == fmt
    png = encode_image(image)
    assert decode_image(png).image.tobytes() == image.tobytes()
    assert decode_image(encode_image(image, "jpg", quality=50)).format == "JPEG"
    assert decode_image(encode_image(Image.new("RGBA", (4, 4)), "JPEG")).format == "JPEG"
    with pytest.raises(ValueError):
        encode_image(image, "EPS")


# ---------------------------------------------------------------- files


def test_read_image_bytes(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    data = save(scene(20, 20), "PNG")
    path.write_bytes(data)
    assert read_image_bytes(path) == data
    assert read_image_bytes(str(path), max_bytes=len(data)) == data


def test_read_image_bytes_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ImageDecodeError) as info:
        read_image_bytes(path)
    assert info.value.kind is ImageErrorKind.EMPTY
    assert str(path) in str(info.value)


def test_read_image_bytes_too_large(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(b"\x00" * 101)
    with pytest.raises(ImageDecodeError) as info:
        read_image_bytes(path, max_bytes=100)
    assert info.value.kind is ImageErrorKind.TOO_LARGE
    assert str(path) in str(info.value) and "max_bytes" in str(info.value)


def test_defaults() -> None:
    assert DEFAULT_MAX_PIXELS == 64_000_000
    assert ALLOWED_FORMATS == ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
