"""Letting a text-only model take part in a visual task: images become captions in the prompt.

The embedded model (SmolLM2) reads text only. `TextOnlyBridge` sits in front of any
`ChatClient`: before a call it swaps each image part of the messages for a text part such as
``[image: a photo; an image classifier sees: space shuttle (0.41), rocket (0.22); web pages
showing this image are titled: "STS-93", "Eileen Collins"]``. The caption comes from a
`Captioner`; page titles are those an image search found for that image, handed to the bridge
with `remember_titles`. This is the offline stand-in for a vision-language model, not a
substitute for one.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from fvqa.models.client import ChatClient
from fvqa.models.messages import Message, data_url_bytes
from fvqa.models.results import ChatResult

_LOG = logging.getLogger(__name__)
MAX_TITLES = 5


class Captioner(Protocol):
    """Anything that can say in words what an image shows."""

    def describe(self, image: bytes) -> str: ...


class LabelCaptioner:
    """A caption from an image classifier: the top labels with their scores.

    ``classify`` returns ``(label, score)`` pairs; the best ``top_k`` are kept, e.g.
    ``a photo; an image classifier sees: space shuttle (0.41), rocket (0.22)``.
    """

    def __init__(self, classify: Callable[[bytes], list[tuple[str, float]]], top_k: int = 3) -> None:
        self.classify = classify
        self.top_k = top_k

    def describe(self, image: bytes) -> str:
        labels = sorted(self.classify(image), key=lambda pair: pair[1], reverse=True)[: self.top_k]
        if not labels:
            return "a photo; an image classifier recognises nothing in it"
        return "a photo; an image classifier sees: " + ", ".join(f"{label} ({score:.2f})" for label, score in labels)


class TextOnlyBridge:
    """A text-only endpoint behind the `ChatClient.complete` interface, images turned into captions."""

    def __init__(self, client: ChatClient, captioner: Captioner, titles: dict[str, list[str]] | None = None) -> None:
        self.client = client
        self.captioner = captioner
        self.titles: dict[str, list[str]] = titles if titles is not None else {}
        self._captions: dict[str, str] = {}

    @property
    def model(self) -> str:
        return self.client.model

    def remember_titles(self, image_sha256: str, titles: Sequence[str]) -> None:
        """Record the titles of web pages showing this image (from an image search), for later captions."""
        known = self.titles.setdefault(image_sha256, [])
        known.extend(title for title in titles if title and title not in known)

    def caption(self, image: bytes) -> str:
        """The text that replaces one image: caption, plus the remembered page titles."""
        digest = hashlib.sha256(image).hexdigest()
        if digest not in self._captions:
            try:
                self._captions[digest] = self.captioner.describe(image)
            except Exception as err:  # still tell the model an image was there
                _LOG.warning("captioning an image failed: %s: %s", type(err).__name__, err)
                return f"[image: it could not be described ({type(err).__name__})]"
        text = self._captions[digest]
        titles = self.titles.get(digest) or []
        if titles:
            text += "; web pages showing this image are titled: " + ", ".join(f'"{t}"' for t in titles[:MAX_TITLES])
        return f"[image: {text}]"

    def _part_text(self, part: dict[str, Any]) -> str:
        url = (part.get("image_url") or {}).get("url", "")
        image = data_url_bytes(url)
        if image is None:
            return "[image: not available to this model]"
        return self.caption(image)

    def to_text(self, messages: Sequence[Message]) -> list[Message]:
        """The messages with every image part replaced by its caption and list contents joined into one string.

        Plain string content is what every text-only chat template handles.
        """
        converted: list[Message] = []
        for message in messages:
            content = message.get("content")
            if not isinstance(content, list):
                converted.append(dict(message))
                continue
            pieces = []
            for part in content:
                kind = part.get("type") if isinstance(part, dict) else None
                if kind == "image_url":
                    pieces.append(self._part_text(part))
                elif kind == "text":
                    pieces.append(part.get("text", ""))
                else:
                    pieces.append(f"[{kind or 'unknown'} content: not available to this model]")
            converted.append({**message, "content": "\n".join(pieces)})
        return converted

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        temperature: float = 0.0,
        max_tokens: int = 512,
        tools: list[dict[str, Any]] | None = None,
        seed: int | None = None,
        stop: str | list[str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> ChatResult:
        """`ChatClient.complete` on the captioned messages (captioning runs in a worker thread)."""
        return await self.client.complete(
            await asyncio.to_thread(self.to_text, messages),
            temperature=temperature,
            max_tokens=max_tokens,
            tools=tools,
            seed=seed,
            stop=stop,
            extra=extra,
        )

    def complete_sync(self, messages: Sequence[Message], **kwargs: Any) -> ChatResult:
        return self.client.complete_sync(self.to_text(messages), **kwargs)
