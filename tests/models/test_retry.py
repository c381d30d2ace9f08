"""Tests for fvqa.models.retry and fvqa.models.results as plain functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from fvqa.models import ChatResult, ErrorKind, Usage
from fvqa.models.results import MalformedResponse, parse_completion
from fvqa.models.retry import backoff_delay, parse_retry_after, redact, status_kind

SECRET = "sk-fvqa-TEST-3b1f9c0d7e2a45aa"


def test_parse_retry_after() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    date = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=now.timestamp()) == pytest.approx(30)
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after": "1.5", "retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"retry-after": "soon"}) is None and parse_retry_after({}) is None


def test_backoff_is_full_jitter_and_capped() -> None:
    delays = [backoff_delay(attempt, 0.5, 4.0) for attempt in range(1, 10) for _ in range(50)]
    assert all(0 <= d <= 4.0 for d in delays) and max(delays) > 2.0
    assert all(backoff_delay(1, 0.5, 4.0) <= 0.5 for _ in range(50))
    assert backoff_delay(1, 0.5, 4.0, retry_after=9) == 4.0 and backoff_delay(3, 0.5, 4.0, retry_after=1) == 1


def test_status_kinds_and_redaction() -> None:
    assert [status_kind(s) for s in (429, 500, 503, 408, 409, 400, 401, 403, 404, 422)] == [
        ErrorKind.RATE_LIMITED, ErrorKind.SERVER_ERROR, ErrorKind.SERVER_ERROR, ErrorKind.TIMEOUT,
        ErrorKind.SERVER_ERROR, ErrorKind.BAD_REQUEST, ErrorKind.AUTH, ErrorKind.AUTH, ErrorKind.NOT_FOUND,
        ErrorKind.BAD_REQUEST,
    ]  # fmt: skip
    assert (
        redact(f"key {SECRET} and Authorization: Bearer abc.def", [SECRET]) == "key *** and Authorization: Bearer ***"
    )


def test_cached_result_round_trip() -> None:
    result = ChatResult(text="hi", tool_calls=[{"id": "1", "name": "n", "arguments": "{}"}], finish_reason="stop")
    result.usage = Usage(3, 1)
    back = ChatResult.from_cache_bytes(result.to_cache_bytes())
    assert back.cached and (back.text, back.tool_calls, back.usage) == (result.text, result.tool_calls, result.usage)


def test_parse_completion_reads_answers_and_refuses_broken_ones() -> None:
    body = (
        '{"choices": [{"message": {"content": null, "tool_calls": [{"id": "c1", "function":'
        ' {"name": "image_search", "arguments": {"q": 1}}}]}, "finish_reason": "tool_calls"}]}'
    )
    result = parse_completion(body)
    assert result.tool_calls == [{"id": "c1", "name": "image_search", "arguments": '{"q": 1}'}]
    assert result.usage is None and result.finish_reason == "tool_calls"
    for broken in ("", "[1]", '{"choices": []}', '{"choices": [{}]}', '{"choices": [{"message": {"content": 3}}]}'):
        with pytest.raises(MalformedResponse):
            parse_completion(broken)
