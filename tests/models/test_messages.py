"""Tests for fvqa.models.messages: image parts, user turns, the messages' hash."""

from __future__ import annotations

import pytest

from fvqa.images import ImageDecodeError
from fvqa.models import image_part, user_message
from fvqa.models.messages import data_url_bytes, messages_hash

from .support import picture


def test_image_part_reencodes_other_formats_and_refuses_non_images() -> None:
    url = image_part(picture("BMP"))["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    with pytest.raises(ImageDecodeError):
        image_part(b"not an image at all")
    assert user_message("plain") == {"role": "user", "content": "plain"}


def test_data_url_round_trip_and_hash_stability() -> None:
    image = picture("PNG")
    assert data_url_bytes(image_part(image)["image_url"]["url"]) == image
    assert data_url_bytes("https://example.org/x.png") is None and data_url_bytes("data:text/plain,hi") is None
    a = [{"role": "user", "content": "q", "name": "n"}]
    b = [{"name": "n", "content": "q", "role": "user"}]
    assert messages_hash(a) == messages_hash(b) != messages_hash([{"role": "user", "content": "Q"}])
