"""Tests for fvqa.models.caption_bridge: images become caption text before a text-only model sees them."""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import Iterator

import pytest
from PIL import Image

from fvqa.models import ChatClient, LabelCaptioner, TextOnlyBridge, image_part, user_message

from .fake_openai_server import FakeOpenAIServer

LABELS = [("rocket", 0.22), ("space shuttle", 0.41), ("tower", 0.01), ("missile", 0.05)]


def picture(colour: tuple[int, int, int] = (10, 20, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), colour).save(buffer, format="PNG")
    return buffer.getvalue()


class CountingClassifier:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, image: bytes) -> list[tuple[str, float]]:
        self.calls += 1
        return list(LABELS)


@pytest.fixture
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


def test_label_captioner_formats_the_top_labels() -> None:
    assert LabelCaptioner(lambda _: LABELS, top_k=2).describe(b"x") == (
        "a photo; an image classifier sees: space shuttle (0.41), rocket (0.22)"
    )
    assert "nothing" in LabelCaptioner(lambda _: []).describe(b"x")


def test_images_become_captions_with_remembered_titles(fake: FakeOpenAIServer) -> None:
    image = picture()
    bridge = TextOnlyBridge(ChatClient(fake.base_url, "text-only"), LabelCaptioner(lambda _: LABELS, top_k=2))
    bridge.remember_titles(hashlib.sha256(image).hexdigest(), ["STS-93 launch", "Columbia (orbiter)"])
    messages = [{"role": "system", "content": "Answer briefly."}, user_message("Which vehicle is this?", [image])]
    result = bridge.complete_sync(messages, max_tokens=20)
    assert result.ok
    sent = fake.last_body["messages"]
    assert sent[0] == {"role": "system", "content": "Answer briefly."}
    assert sent[1]["role"] == "user" and isinstance(sent[1]["content"], str)
    assert sent[1]["content"] == (
        "[image: a photo; an image classifier sees: space shuttle (0.41), rocket (0.22); "
        'web pages showing this image are titled: "STS-93 launch", "Columbia (orbiter)"]\n'
        "Which vehicle is this?"
    )
    assert "data:image" not in str(fake.last_body) and fake.last_body["max_tokens"] == 20


def test_each_image_is_described_once_and_titles_only_for_their_image() -> None:
    classify = CountingClassifier()
    bridge = TextOnlyBridge(ChatClient("http://127.0.0.1:9/v1", "m"), LabelCaptioner(classify), titles={})
    first, second = picture((1, 2, 3)), picture((200, 100, 0))
    bridge.remember_titles(hashlib.sha256(first).hexdigest(), ["A page"])
    bridge.remember_titles(hashlib.sha256(first).hexdigest(), ["A page", "Another page"])
    converted = bridge.to_text([user_message("q1", [first, second]), user_message("q2", [first])])
    assert classify.calls == 2
    texts = [message["content"] for message in converted]
    assert texts[0].count("[image:") == 2 and texts[0].count('"A page", "Another page"') == 1
    assert texts[1].startswith("[image: ") and "Another page" in texts[1]


def test_captioner_failure_and_remote_images_still_leave_a_marker() -> None:
    def broken(_: bytes) -> list[tuple[str, float]]:
        raise RuntimeError("classifier down")

    bridge = TextOnlyBridge(ChatClient("http://127.0.0.1:9/v1", "m"), LabelCaptioner(broken))
    remote = {"type": "image_url", "image_url": {"url": "https://example.org/a.jpg"}}
    message = {"role": "user", "content": [image_part(picture()), remote, {"type": "text", "text": "q"}]}
    (converted,) = bridge.to_text([message])
    assert converted["content"] == (
        "[image: it could not be described (RuntimeError)]\n[image: not available to this model]\nq"
    )


def test_async_complete_passes_every_option(fake: FakeOpenAIServer) -> None:
    bridge = TextOnlyBridge(ChatClient(fake.base_url, "text-only"), LabelCaptioner(lambda _: LABELS))
    assert bridge.model == "text-only"
    result = asyncio.run(bridge.complete([user_message("q", [picture()])], temperature=0.3, seed=4, stop=["\n"]))
    assert result.ok and result.text is not None and result.text.startswith("echo: [image: a photo")
    body = fake.last_body
    assert (body["model"], body["temperature"], body["seed"], body["stop"]) == ("text-only", 0.3, 4, ["\n"])
