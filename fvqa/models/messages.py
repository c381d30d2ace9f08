"""Building chat messages: image content parts as data URLs, user turns, and the messages' content hash."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from fvqa.images import decode_image, encode_image

Message = dict[str, Any]

MIME_TYPES: dict[str, str] = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
"""The formats sent as they are; any other decodable image (BMP, TIFF) is re-encoded as PNG."""


def image_part(image_bytes: bytes) -> dict[str, Any]:
    """An ``image_url`` content part holding the image inline as a base64 data URL.

    The MIME type comes from decoding the bytes (so a mislabelled file is still sent right);
    raises `fvqa.images.ImageDecodeError` for bytes that are not a usable image.
    """
    decoded = decode_image(image_bytes, source="chat image")
    mime = MIME_TYPES.get(decoded.format)
    if mime is None:
        image_bytes, mime = encode_image(decoded.image, "PNG"), MIME_TYPES["PNG"]
    encoded = base64.b64encode(image_bytes).decode("ascii")
    return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{encoded}"}}


def text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def user_message(text: str, images: Iterable[bytes] = ()) -> Message:
    """A user turn: the images first, then the text; plain string content when there is no image."""
    parts = [image_part(image) for image in images]
    if not parts:
        return {"role": "user", "content": text}
    return {"role": "user", "content": [*parts, text_part(text)]}


def canonical_json(value: Any) -> str:
    """One spelling of a JSON value: sorted keys, no spaces, unicode kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def messages_hash(messages: Sequence[Message]) -> str:
    """The SHA-256 of the messages' canonical JSON: the cache's input hash."""
    return hashlib.sha256(canonical_json(list(messages)).encode()).hexdigest()


def data_url_bytes(url: str) -> bytes | None:
    """The bytes inside a base64 ``data:`` URL, or None for any other URL."""
    if not url.startswith("data:"):
        return None
    header, _, payload = url.partition(",")
    if not header.endswith(";base64"):
        return None
    try:
        return base64.b64decode(payload, validate=True)
    except ValueError:
        return None
