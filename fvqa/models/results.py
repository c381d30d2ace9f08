"""What one chat call gives back: a `ChatResult`, successful or not, and why it failed.

A failed call is a value, not an exception: the result carries a `ModelError` whose kind says
whether retrying could have helped, and the caller (an evaluation, a judge) records it. Error
messages are redacted before they get here, so a result can be logged and stored as is.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any


class ErrorKind(enum.StrEnum):
    """Why a chat call failed. The first four are transient and retried; the rest are not."""

    RATE_LIMITED = "rate_limited"  # 429
    SERVER_ERROR = "server_error"  # 5xx (and 409)
    TIMEOUT = "timeout"  # no full answer within the per-call timeout (and 408)
    CONNECTION = "connection"  # refused, reset or dropped before an answer
    BAD_RESPONSE = "bad_response"  # the server answered something unreadable: invalid or truncated JSON
    BAD_REQUEST = "bad_request"  # 400, 422 and other 4xx: this request cannot succeed
    AUTH = "auth"  # 401, 403
    NOT_FOUND = "not_found"  # 404: wrong base URL or model name
    CACHE_MISS = "cache_miss"  # replay mode and the call was never recorded


RETRYABLE: frozenset[ErrorKind] = frozenset(
    {ErrorKind.RATE_LIMITED, ErrorKind.SERVER_ERROR, ErrorKind.TIMEOUT, ErrorKind.CONNECTION, ErrorKind.BAD_RESPONSE}
)


@dataclass(frozen=True)
class ModelError:
    """One failure: its kind, the HTTP status when there was one, and a secret-free message."""

    kind: ErrorKind
    status: int | None
    message: str

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE


@dataclass(frozen=True)
class Usage:
    """Token counts, as far as the server reported them."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass
class ChatResult:
    """The outcome of one `complete` call, including every retry it took."""

    text: str | None = None
    tool_calls: list[dict[str, str]] = field(default_factory=list)
    """Each call as ``{"id", "name", "arguments"}``; ``arguments`` is the raw JSON string the model wrote."""
    finish_reason: str | None = None
    usage: Usage | None = None
    error: ModelError | None = None
    attempts: int = 0
    """HTTP requests made for this call (0 for a cache hit or a call refused before sending)."""
    cached: bool = False
    latency_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_cache_bytes(self) -> bytes:
        """The answer part of a successful result, as stored in the response cache."""
        usage = (
            None
            if self.usage is None
            else {"prompt": self.usage.prompt_tokens, "completion": self.usage.completion_tokens}
        )
        payload = {
            "text": self.text,
            "tool_calls": self.tool_calls,
            "finish_reason": self.finish_reason,
            "usage": usage,
        }
        return json.dumps(payload, sort_keys=True).encode()

    @classmethod
    def from_cache_bytes(cls, data: bytes, latency_s: float = 0.0) -> ChatResult:
        payload = json.loads(data)
        usage = payload.get("usage")
        return cls(
            text=payload.get("text"),
            tool_calls=list(payload.get("tool_calls") or []),
            finish_reason=payload.get("finish_reason"),
            usage=None if usage is None else Usage(usage.get("prompt"), usage.get("completion")),
            attempts=0,
            cached=True,
            latency_s=latency_s,
        )


class MalformedResponse(ValueError):
    """The server's 200 answer is not a chat completion we can read."""


def parse_completion(body: str) -> ChatResult:
    """Read an OpenAI chat-completion JSON body into a result (without attempts or timing).

    Raises `MalformedResponse` for invalid JSON or a body without a first choice and message.
    """
    try:
        data: Any = json.loads(body)
    except json.JSONDecodeError as err:
        raise MalformedResponse(f"the response body is not valid JSON ({err.msg} at char {err.pos})") from None
    except ValueError as err:  # undecodable bytes
        raise MalformedResponse(f"the response body is not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise MalformedResponse("the response body is not a JSON object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise MalformedResponse("the response has no choices")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise MalformedResponse("the first choice has no message")
    text = message.get("content")
    if text is not None and not isinstance(text, str):
        raise MalformedResponse("the message content is not a string")
    calls = []
    for call in message.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise MalformedResponse("a tool call has no function name")
        arguments = function.get("arguments")
        if not isinstance(arguments, str):  # some servers send an object: keep the raw-JSON-string contract
            arguments = json.dumps(arguments if arguments is not None else {})
        calls.append({"id": str(call.get("id") or ""), "name": function["name"], "arguments": arguments})
    usage = data.get("usage")
    return ChatResult(
        text=text,
        tool_calls=calls,
        finish_reason=choices[0].get("finish_reason"),
        usage=Usage(usage.get("prompt_tokens"), usage.get("completion_tokens")) if isinstance(usage, dict) else None,
    )
