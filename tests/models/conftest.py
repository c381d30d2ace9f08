"""Fixtures of the model tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .fake_openai_server import FakeOpenAIServer


@pytest.fixture
def fake() -> Iterator[FakeOpenAIServer]:
    """A running fake OpenAI server, fresh for each test."""
    with FakeOpenAIServer() as server:
        yield server
