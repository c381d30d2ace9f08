"""Helpers shared by the model tests: a client pointed at the fake server, a tiny picture."""

from __future__ import annotations

import io

from PIL import Image

from fvqa.models import ChatClient

from .fake_openai_server import FakeOpenAIServer

HELLO = [{"role": "user", "content": "hello"}]


def client_for(server: FakeOpenAIServer, **kwargs: object) -> ChatClient:
    """A client with fast backoff for tests; keyword arguments override."""
    options: dict[str, object] = {"backoff_base_s": 0.01, "backoff_max_s": 5.0, "timeout_s": 5.0}
    options.update(kwargs)
    return ChatClient(server.base_url, "fake-model", **options)  # type: ignore[arg-type]


def picture(fmt: str = "JPEG", colour: tuple[int, int, int] = (200, 40, 10)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), colour).save(buffer, format=fmt)
    return buffer.getvalue()
