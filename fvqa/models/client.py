"""The one chat client fvqa uses for every model and judge: any OpenAI-compatible endpoint.

vLLM, llama.cpp's server and OpenAI itself all speak the chat-completions protocol, so one
client built on the `openai` SDK covers them. On top of the SDK it adds what an evaluation
needs: a bound on requests in flight, its own retry loop (the SDK's is switched off so every
attempt is counted and the rules are ours), a response cache for deterministic calls, and
results that carry their failure instead of raising it. The API key never leaves the SDK's
request headers: it is scrubbed from every message and kept out of every repr.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import Sequence
from typing import Any

import openai

from fvqa.cache import Cache, CacheMiss, CacheMode, cache_key
from fvqa.models.messages import Message, messages_hash
from fvqa.models.results import ChatResult, ErrorKind, ModelError, parse_completion
from fvqa.models.retry import backoff_delay, classify, redact

_LOG = logging.getLogger(__name__)
PLACEHOLDER_KEY = "EMPTY"
"""Sent when no key is configured: local servers (vLLM, llama.cpp) accept any key."""


class ChatClient:
    """Chat completions against one endpoint and model, with bounded concurrency, retries and a cache.

    ``base_url`` includes the API prefix (``http://host:8000/v1``). The key is ``api_key``, else
    the environment variable ``api_key_env``, else a placeholder. ``timeout_s`` bounds each
    attempt; ``max_attempts`` counts the first try. One client may be used from several
    ``asyncio.run`` calls: its SDK client and semaphore are made per running event loop.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout_s: float = 60.0,
        max_attempts: int = 5,
        concurrency: int = 8,
        cache: Cache | None = None,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
    ) -> None:
        if max_attempts < 1 or concurrency < 1:
            raise ValueError("max_attempts and concurrency must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.concurrency = concurrency
        self.cache = cache
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self._api_key = api_key or os.environ.get(api_key_env) or PLACEHOLDER_KEY
        self._bindings: dict[int, tuple[asyncio.AbstractEventLoop, openai.AsyncOpenAI, asyncio.Semaphore]] = {}
        self._rng = random.Random()

    def __repr__(self) -> str:
        cache = "none" if self.cache is None else f"{self.cache.mode}:{self.cache.path}"
        return (
            f"ChatClient(base_url={self.base_url!r}, model={self.model!r},"
            f" concurrency={self.concurrency}, cache={cache})"
        )

    def _binding(self) -> tuple[openai.AsyncOpenAI, asyncio.Semaphore]:
        """The SDK client and semaphore of the running loop, made on first use in that loop."""
        loop = asyncio.get_running_loop()
        for key in [key for key, (other, _, _) in self._bindings.items() if other.is_closed()]:
            del self._bindings[key]
        bound = self._bindings.get(id(loop))
        if bound is None or bound[0] is not loop:
            sdk = openai.AsyncOpenAI(
                base_url=self.base_url, api_key=self._api_key, max_retries=0, timeout=self.timeout_s
            )
            bound = (loop, sdk, asyncio.Semaphore(self.concurrency))
            self._bindings[id(loop)] = bound
        return bound[1], bound[2]

    async def aclose(self) -> None:
        """Close the connections opened from the running loop (the client stays usable)."""
        bound = self._bindings.pop(id(asyncio.get_running_loop()), None)
        if bound is not None:
            await bound[1].close()

    def cache_key(
        self,
        messages: Sequence[Message],
        *,
        temperature: float = 0.0,
        max_tokens: int = 512,
        tools: list[dict[str, Any]] | None = None,
        seed: int | None = None,
        stop: str | list[str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """The response-cache key of a call with these arguments."""
        params = {
            "base_url": self.base_url,
            "model": self.model,
            "temperature": temperature,
            "max_tokens": max_tokens,
            "tools": tools,
            "seed": seed,
            "stop": stop,
            "extra": extra,
        }
        return cache_key(namespace=self.namespace, params=params, input_hash=messages_hash(messages))

    @property
    def namespace(self) -> str:
        return "chat/" + self.model

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
        """One chat completion. Never raises for a failed call: the result's ``error`` says what failed.

        ``extra`` holds server-specific body fields (vLLM's ``top_k``, ...). Temperature-0 calls
        are served from and stored in the cache; in replay mode nothing else is sent.
        """
        started = time.perf_counter()
        messages = list(messages)
        cache = self.cache if self.cache is not None and self.cache.mode is not CacheMode.OFF else None
        key: str | None = None
        if cache is not None and cache.mode is CacheMode.REPLAY and temperature != 0:
            message = f"replay mode: a call at temperature {temperature} is never cached, so it cannot be replayed"
            return self._refused(ErrorKind.CACHE_MISS, message, started)
        if cache is not None and temperature == 0:
            try:
                key = self.cache_key(
                    messages,
                    temperature=temperature,
                    max_tokens=max_tokens,
                    tools=tools,
                    seed=seed,
                    stop=stop,
                    extra=extra,
                )
            except (TypeError, ValueError) as err:
                return self._refused(ErrorKind.BAD_REQUEST, f"the messages are not JSON: {err}", started)
            try:
                hit = await asyncio.to_thread(cache.get, key)
            except CacheMiss as err:
                return self._refused(ErrorKind.CACHE_MISS, str(err), started)
            except Exception as err:  # a broken cache file must not stop a live run: call out instead
                if cache.mode is CacheMode.REPLAY:
                    return self._refused(ErrorKind.CACHE_MISS, f"replay cache unreadable: {err}", started)
                _LOG.warning("response cache read failed, calling the model: %s", err)
                hit = None
            if hit is not None:
                return ChatResult.from_cache_bytes(hit, latency_s=time.perf_counter() - started)
        request: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": temperature,
            "max_tokens": max_tokens,
        }
        for name, value in (("tools", tools), ("seed", seed), ("stop", stop)):
            if value is not None:
                request[name] = value
        if extra:
            request["extra_body"] = extra
        result = await self._send(request, started)
        if key is not None and cache is not None and result.ok:
            try:
                await asyncio.to_thread(cache.put, key, self.namespace, result.to_cache_bytes())
            except Exception as err:
                _LOG.warning("response cache write failed (the answer is still returned): %s", err)
        return result

    def complete_sync(self, messages: Sequence[Message], **kwargs: Any) -> ChatResult:
        """`complete` for scripts without an event loop (takes the same keyword arguments)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError("complete_sync was called inside a running event loop: await complete() instead")

        async def once() -> ChatResult:
            try:
                return await self.complete(messages, **kwargs)
            finally:
                await self.aclose()

        return asyncio.run(once())

    async def _send(self, request: dict[str, Any], started: float) -> ChatResult:
        """The retry loop: one semaphore slot and one timeout per attempt; backoff sleeps hold no slot."""
        sdk, slots = self._binding()
        for attempt in range(1, self.max_attempts + 1):
            try:
                async with slots, asyncio.timeout(self.timeout_s):
                    raw = await sdk.chat.completions.with_raw_response.create(**request, timeout=self.timeout_s)
                    body = raw.http_response.text
                result = parse_completion(body)
                result.attempts, result.latency_s = attempt, time.perf_counter() - started
                return result
            except Exception as exc:
                error, retry_after = classify(exc, [self._api_key])
            if not error.retryable or attempt == self.max_attempts:
                _LOG.debug("chat call to %s failed after %d attempt(s): %s", self.base_url, attempt, error.message)
                return ChatResult(error=error, attempts=attempt, latency_s=time.perf_counter() - started)
            delay = backoff_delay(attempt, self.backoff_base_s, self.backoff_max_s, retry_after, self._rng)
            _LOG.debug(
                "chat call to %s: attempt %d of %d failed (%s: %s); retrying in %.2f s",
                self.base_url, attempt, self.max_attempts, error.kind, error.message, delay,
            )  # fmt: skip
            await asyncio.sleep(delay)
        raise AssertionError("unreachable: the loop returns on its last attempt")

    def _refused(self, kind: ErrorKind, message: str, started: float) -> ChatResult:
        """A result for a call that was never sent."""
        error = ModelError(kind, None, redact(message, [self._api_key]))
        return ChatResult(error=error, attempts=0, latency_s=time.perf_counter() - started)
