"""Turning what went wrong in one HTTP attempt into an `ErrorKind`, and how long to wait before the next.

Kept apart from the client so the rules read in one place: which statuses are worth another
try, how a `Retry-After` header is read, how the backoff grows, and how a secret is scrubbed
from a provider's error text before anyone sees it.
"""

from __future__ import annotations

import email.utils
import random
import re
import time
from collections.abc import Iterable, Mapping

import httpx
import openai

from fvqa.models.results import ErrorKind, MalformedResponse, ModelError

REDACTED = "***"
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s'\",})\]]+")
_MAX_MESSAGE = 500


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret (and any bearer token) replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return _BEARER.sub(lambda m: m.group(1) + REDACTED, text)


def status_kind(status: int) -> ErrorKind:
    """The kind of an HTTP error status."""
    if status == 429:
        return ErrorKind.RATE_LIMITED
    if status in (401, 403):
        return ErrorKind.AUTH
    if status == 404:
        return ErrorKind.NOT_FOUND
    if status == 408:
        return ErrorKind.TIMEOUT
    if status == 409 or status >= 500:
        return ErrorKind.SERVER_ERROR
    return ErrorKind.BAD_REQUEST


def _truncated_body(exc: BaseException | None) -> bool:
    """Whether an httpx error says the answer started but its body was cut off."""
    while exc is not None:
        text = str(exc).lower()
        if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError) and (
            "incomplete" in text or "message body" in text
        ):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _provider_text(err: openai.APIStatusError) -> str:
    """The provider's own error message when its body has the usual shape, else the SDK's text."""
    body = err.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
        if isinstance(inner, str):
            return inner
    return str(err.message)


def classify(exc: BaseException, secrets: Iterable[str]) -> tuple[ModelError, float | None]:
    """The error for one failed attempt, and the server's requested wait in seconds (if it named one)."""
    secrets = list(secrets)
    retry_after: float | None = None
    status: int | None = None
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        kind = status_kind(status)
        text = f"HTTP {status}: {_provider_text(exc)}"
        retry_after = parse_retry_after(exc.response.headers)
    elif isinstance(exc, openai.APITimeoutError | TimeoutError | httpx.TimeoutException):
        kind, text = ErrorKind.TIMEOUT, "no complete answer within the timeout"
    elif isinstance(exc, MalformedResponse):
        kind, text = ErrorKind.BAD_RESPONSE, str(exc)
    elif isinstance(exc, openai.APIConnectionError | httpx.TransportError):
        if _truncated_body(exc):
            kind, text = ErrorKind.BAD_RESPONSE, "the server closed the connection in the middle of its answer"
        else:
            cause = exc.__cause__ or exc
            kind, text = ErrorKind.CONNECTION, f"connection failed: {type(cause).__name__}: {cause}"
    elif isinstance(exc, openai.APIResponseValidationError | ValueError):
        kind, text = ErrorKind.BAD_RESPONSE, f"unreadable answer: {exc}"
    else:  # a TypeError from bad arguments and the like: another try cannot help
        kind, text = ErrorKind.BAD_REQUEST, f"{type(exc).__name__}: {exc}"
    text = redact(text, secrets)
    if len(text) > _MAX_MESSAGE:
        text = text[:_MAX_MESSAGE] + "..."
    return ModelError(kind, status, text), retry_after


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asks us to wait: ``retry-after-ms``, else ``Retry-After`` (seconds or an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff_delay(
    attempt: int, base_s: float, max_s: float, retry_after: float | None = None, rng: random.Random | None = None
) -> float:
    """The wait before try ``attempt + 1``: the server's Retry-After when given, else full-jitter exponential.

    Both are capped at ``max_s``.
    """
    if retry_after is not None:
        return min(retry_after, max_s)
    ceiling = min(max_s, base_s * 2 ** max(0, attempt - 1))
    return (rng or random).uniform(0, ceiling)
