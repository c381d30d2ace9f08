"""Tests of the client's response cache: deterministic calls only, successes only, replay makes no calls."""

from __future__ import annotations

from pathlib import Path

from fvqa.cache import Cache, CacheMode
from fvqa.models import ChatClient, ErrorKind

from .fake_openai_server import FakeOpenAIServer, error
from .support import HELLO, client_for


def test_deterministic_calls_are_cached(fake: FakeOpenAIServer, tmp_path: Path) -> None:
    client = client_for(fake, cache=Cache(tmp_path / "cache.sqlite"))
    first, second = client.complete_sync(HELLO), client.complete_sync(HELLO)
    assert fake.requests == 1
    assert not first.cached and second.cached and second.attempts == 0
    assert (second.text, second.usage, second.finish_reason) == (first.text, first.usage, first.finish_reason)
    client.complete_sync(HELLO, max_tokens=16)  # other parameters, other entry
    assert fake.requests == 2


def test_sampled_calls_are_never_cached(fake: FakeOpenAIServer, tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache.sqlite")
    client = client_for(fake, cache=cache)
    results = [client.complete_sync(HELLO, temperature=0.7) for _ in range(2)]
    assert fake.requests == 2 and not any(r.cached for r in results) and len(cache) == 0


def test_failures_are_not_cached(fake: FakeOpenAIServer, tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache.sqlite")
    client = client_for(fake, cache=cache)
    fake.script(error(400))
    assert not client.complete_sync(HELLO).ok and len(cache) == 0
    again = client.complete_sync(HELLO)
    assert again.ok and not again.cached and fake.requests == 2 and len(cache) == 1


def test_replay_mode(fake: FakeOpenAIServer, tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    assert client_for(fake, cache=Cache(path)).complete_sync(HELLO).ok
    fake.reset()
    replay = client_for(fake, cache=Cache(path, CacheMode.REPLAY))
    hit = replay.complete_sync(HELLO)
    assert hit.ok and hit.cached and hit.text == "echo: hello"
    for result in (
        replay.complete_sync([{"role": "user", "content": "never seen"}]),
        replay.complete_sync(HELLO, temperature=0.5),
    ):
        assert result.error is not None and result.error.kind == ErrorKind.CACHE_MISS and result.attempts == 0
    assert fake.requests == 0


def test_cache_key_covers_the_documented_params(fake: FakeOpenAIServer) -> None:
    client = client_for(fake)
    base = client.cache_key(HELLO)
    variants = [
        client.cache_key(HELLO, max_tokens=1),
        client.cache_key(HELLO, seed=1),
        client.cache_key(HELLO, stop="x"),
        client.cache_key(HELLO, extra={"top_k": 1}),
        client.cache_key(HELLO, tools=[{"type": "function"}]),
        client.cache_key([{"role": "user", "content": "other"}]),
        ChatClient(fake.base_url, "other-model").cache_key(HELLO),
    ]
    assert base == client.cache_key(list(HELLO)) and base not in variants and len(set(variants)) == len(variants)
