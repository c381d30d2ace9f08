"""Tests for fvqa.models.client: the real openai SDK against a real (fake) HTTP server that misbehaves on demand."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections import Counter

import pytest

from fvqa.models import ChatClient, ChatResult, ErrorKind, Usage, user_message
from fvqa.models.local_server import free_port

from .fake_openai_server import FailureMix, FakeOpenAIServer, drop, error, hang, malformed, ok, tool_call, truncated
from .support import HELLO, client_for, picture

# --- answers ---------------------------------------------------------------------------------


def test_plain_answer(fake: FakeOpenAIServer) -> None:
    result = client_for(fake).complete_sync(HELLO)
    assert result.ok and result.text == "echo: hello"
    assert result.attempts == 1 and not result.cached and result.finish_reason == "stop"
    assert result.usage == Usage(7, 2) and result.latency_s > 0
    assert fake.last_body["temperature"] == 0.0 and fake.last_body["max_tokens"] == 512


def test_tool_call_answer(fake: FakeOpenAIServer) -> None:
    fake.script(tool_call("text_search", '{"query": "Falcon 9"}'))
    tools = [{"type": "function", "function": {"name": "text_search", "parameters": {"type": "object"}}}]
    result = client_for(fake).complete_sync(HELLO, tools=tools)
    assert result.ok and result.text is None and result.finish_reason == "tool_calls"
    assert result.tool_calls == [{"id": "call_0", "name": "text_search", "arguments": '{"query": "Falcon 9"}'}]
    assert fake.last_body["tools"] == tools


def test_seed_stop_and_extra_reach_the_server(fake: FakeOpenAIServer) -> None:
    client_for(fake).complete_sync(HELLO, seed=3, stop=["</answer>"], extra={"top_k": 5}, max_tokens=9)
    body = fake.last_body
    assert (body["seed"], body["stop"], body["top_k"], body["max_tokens"]) == (3, ["</answer>"], 5, 9)


# --- retries ---------------------------------------------------------------------------------


def test_retries_then_success_honouring_retry_after(fake: FakeOpenAIServer) -> None:
    fake.script(error(429, retry_after="1"), error(503), ok("finally"))
    started = time.monotonic()
    result = client_for(fake).complete_sync(HELLO)
    assert time.monotonic() - started >= 1.0
    assert result.ok and result.text == "finally" and result.attempts == 3 and fake.requests == 3


def test_retry_after_ms_is_honoured(fake: FakeOpenAIServer) -> None:
    fake.script(error(429, retry_after_ms="400"), ok())
    started = time.monotonic()
    result = client_for(fake).complete_sync(HELLO)
    assert time.monotonic() - started >= 0.4 and result.attempts == 2


def test_retry_after_is_capped(fake: FakeOpenAIServer) -> None:
    fake.script(error(429, retry_after="120"), ok())
    started = time.monotonic()
    result = client_for(fake, backoff_max_s=0.2).complete_sync(HELLO)
    assert result.ok and time.monotonic() - started < 3


def test_retries_exhausted_reports_the_last_error(fake: FakeOpenAIServer) -> None:
    fake.script(*[error(500)] * 3)
    result = client_for(fake, max_attempts=3).complete_sync(HELLO)
    assert not result.ok and result.error is not None
    assert (result.error.kind, result.error.status, result.attempts, fake.requests) == (
        ErrorKind.SERVER_ERROR,
        500,
        3,
        3,
    )


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, ErrorKind.BAD_REQUEST),
        (401, ErrorKind.AUTH),
        (403, ErrorKind.AUTH),
        (404, ErrorKind.NOT_FOUND),
        (422, ErrorKind.BAD_REQUEST),
    ],
)
def test_no_retry_when_the_request_cannot_succeed(fake: FakeOpenAIServer, status: int, kind: ErrorKind) -> None:
    fake.script(error(status), ok())
    result = client_for(fake).complete_sync(HELLO)
    assert result.error is not None and result.error.kind == kind and result.error.status == status
    assert result.attempts == 1 and fake.requests == 1


def test_timeout_is_retried_then_reported(fake: FakeOpenAIServer) -> None:
    fake.script(hang(5), hang(5))
    started = time.monotonic()
    result = client_for(fake, timeout_s=0.3, max_attempts=2).complete_sync(HELLO)
    assert result.error is not None and result.error.kind == ErrorKind.TIMEOUT and result.error.status is None
    assert result.attempts == 2 and fake.requests == 2
    assert 0.6 <= time.monotonic() - started < 3


def test_timeout_then_success(fake: FakeOpenAIServer) -> None:
    fake.script(hang(5), ok("late"))
    result = client_for(fake, timeout_s=0.3).complete_sync(HELLO)
    assert result.ok and result.text == "late" and result.attempts == 2


@pytest.mark.parametrize(
    ("behaviour", "kind"),
    [(malformed(), ErrorKind.BAD_RESPONSE), (truncated(), ErrorKind.BAD_RESPONSE), (drop(), ErrorKind.CONNECTION)],
)
def test_broken_answers_are_retried_and_classified(fake: FakeOpenAIServer, behaviour: object, kind: ErrorKind) -> None:
    fake.script(behaviour, behaviour)  # type: ignore[arg-type]
    result = client_for(fake, max_attempts=2).complete_sync(HELLO)
    assert result.error is not None and result.error.kind == kind
    assert result.attempts == 2 and fake.requests == 2
    fake.script(behaviour)  # type: ignore[arg-type]
    assert client_for(fake).complete_sync(HELLO).attempts == 2  # then a good answer


def test_connection_refused() -> None:
    client = ChatClient(f"http://127.0.0.1:{free_port()}/v1", "m", max_attempts=2, backoff_base_s=0.01)
    result = client.complete_sync(HELLO)
    assert result.error is not None and result.error.kind == ErrorKind.CONNECTION and result.attempts == 2


def test_unserialisable_messages_fail_without_raising(fake: FakeOpenAIServer) -> None:
    result = client_for(fake).complete_sync([{"role": "user", "content": object()}])
    assert result.error is not None and result.error.kind == ErrorKind.BAD_REQUEST and fake.requests == 0


def test_failure_mix_accounts_for_every_request() -> None:
    mix = FailureMix(rate=0.4, seed=1, failures=(error(500), error(429, retry_after="0"), hang(3)))
    with FakeOpenAIServer(mix=mix) as fake:
        client = client_for(fake, timeout_s=0.3, max_attempts=1, concurrency=8)

        async def run() -> list[ChatResult]:
            return await asyncio.gather(*(client.complete([{"role": "user", "content": f"id-{i}"}]) for i in range(30)))

        results = asyncio.run(run())
    assert fake.requests == 30
    for i, result in enumerate(results):
        assert result.ok == (result.error is None)
        if result.ok:
            assert result.text == f"echo: id-{i}"
    failed = [r.error.kind for r in results if r.error is not None]
    assert 0 < len(failed) < 30
    served = fake.served
    expected = {
        ErrorKind.SERVER_ERROR: served["500"],
        ErrorKind.RATE_LIMITED: served["429"],
        ErrorKind.TIMEOUT: served["hang"],
    }
    assert Counter(failed) == Counter(expected)  # each injected failure surfaces once, with its kind


# --- concurrency and event loops -------------------------------------------------------------


def test_concurrency_bound(fake: FakeOpenAIServer) -> None:
    fake.latency_s = 0.1
    client = client_for(fake, concurrency=4)

    async def run() -> list[ChatResult]:
        return await asyncio.gather(*(client.complete([{"role": "user", "content": f"n{i}"}]) for i in range(20)))

    results = asyncio.run(run())
    assert all(r.ok for r in results) and fake.requests == 20
    assert fake.max_in_flight == 4


def test_one_client_across_event_loops(fake: FakeOpenAIServer) -> None:
    client = client_for(fake)
    for _ in range(3):
        assert asyncio.run(client.complete(HELLO)).ok
        assert client.complete_sync(HELLO).ok
    assert fake.requests == 6


def test_complete_sync_refuses_inside_a_loop(fake: FakeOpenAIServer) -> None:
    async def inside() -> None:
        client_for(fake).complete_sync(HELLO)

    with pytest.raises(RuntimeError, match="await complete"):
        asyncio.run(inside())


# --- images ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "mime"), [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")])
def test_images_are_sent_as_data_urls(fake: FakeOpenAIServer, fmt: str, mime: str) -> None:
    image = picture(fmt)
    assert client_for(fake).complete_sync([user_message("What is this?", [image])]).ok
    content = fake.last_body["messages"][0]["content"]
    assert content[1] == {"type": "text", "text": "What is this?"}
    url = content[0]["image_url"]["url"]
    assert content[0]["type"] == "image_url" and url.startswith(f"data:{mime};base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == image


# --- secrets ---------------------------------------------------------------------------------

SECRET = "sk-fvqa-TEST-3b1f9c0d7e2a45aa"


def test_the_api_key_never_leaks(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeOpenAIServer(echo_key_in_errors=True) as fake:
        client = ChatClient(
            fake.base_url, "fake-model", api_key=SECRET, timeout_s=0.3, max_attempts=2, backoff_base_s=0.01
        )
        fake.script(error(401), error(400), error(500), error(500), error(429, retry_after="0"), error(429))
        fake.script(hang(3), hang(3))
        results = [client.complete_sync(HELLO) for _ in range(5)]
        assert fake.auth_headers[0] == f"Bearer {SECRET}"  # the key was really sent, and really echoed back
    dead = ChatClient(f"http://127.0.0.1:{free_port()}/v1", "m", api_key=SECRET, max_attempts=1)
    results.append(dead.complete_sync(HELLO))
    kinds = [r.error.kind if r.error is not None else None for r in results]
    assert kinds == [
        ErrorKind.AUTH, ErrorKind.BAD_REQUEST, ErrorKind.SERVER_ERROR, ErrorKind.RATE_LIMITED, ErrorKind.TIMEOUT,
        ErrorKind.CONNECTION,
    ]  # fmt: skip
    assert "***" in results[0].error.message  # type: ignore[union-attr]
    texts = [repr(r) for r in results] + [str(r.error) for r in results] + [repr(client), repr(dead)]
    texts += [record.getMessage() for record in caplog.records] + [str(record.args) for record in caplog.records]
    texts += [caplog.text]
    assert caplog.records, "expected debug logs from the client and the SDK"
    for text in texts:
        assert SECRET not in text


def test_missing_key_uses_a_placeholder(fake: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert client_for(fake).complete_sync(HELLO).ok
    monkeypatch.setenv("FVQA_TEST_KEY", "from-env")
    assert client_for(fake, api_key_env="FVQA_TEST_KEY").complete_sync(HELLO).ok
    assert fake.auth_headers == ["Bearer EMPTY", "Bearer from-env"]
