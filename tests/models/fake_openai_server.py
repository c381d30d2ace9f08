"""A FAKE OpenAI chat-completions server for tests and benchmarks: a real socket, misbehaving on demand.

It answers ``POST /v1/chat/completions`` and ``GET /v1/models`` on 127.0.0.1 from a thread,
so the real `openai` SDK (and fvqa's client on top of it) talks to it over HTTP. What it
does with a request is chosen, first match wins, by:

1. the script: behaviours queued with `script(...)`, consumed one per request;
2. the request body field ``fake_behaviour`` (send it through the client's ``extra``), a name in `NAMED`;
3. the failure mix: with probability ``mix.rate`` one of ``mix.failures``, drawn from a seeded RNG;
4. the default behaviour (an echo of the last user text).

It counts chat requests, records each body and Authorization header, and tracks the most
requests in flight at once. Nothing here is fit to serve anything real.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Behaviour:
    """What the fake does with one request. ``kind`` is one of:

    ok (a chat.completion), tool_call (one function call), status (an error status with a JSON
    error body), hang (read the request, answer nothing for ``hang_s`` or until the server
    stops, close), malformed (a 200 whose body is not JSON), truncated (a 200 announcing a full
    body, sending half of it and closing), drop (close without any answer).
    """

    kind: str = "ok"
    status: int = 200
    latency_s: float = 0.0
    text: str | None = None  # None: echo the last user text
    headers: dict[str, str] = field(default_factory=dict)
    message: str = ""
    hang_s: float = 10.0
    tool_name: str = "image_search"
    tool_arguments: str = "{}"

    @property
    def label(self) -> str:
        return str(self.status) if self.kind == "status" else self.kind


def ok(text: str | None = None, latency_s: float = 0.0) -> Behaviour:
    return Behaviour("ok", text=text, latency_s=latency_s)


def error(
    status: int, message: str = "", retry_after: str | None = None, retry_after_ms: str | None = None
) -> Behaviour:
    named = (("Retry-After", retry_after), ("retry-after-ms", retry_after_ms))
    headers = {name: value for name, value in named if value is not None}
    return Behaviour("status", status=status, headers=headers, message=message or f"fake error {status}")


def hang(seconds: float = 10.0) -> Behaviour:
    return Behaviour("hang", hang_s=seconds)


def malformed() -> Behaviour:
    return Behaviour("malformed")


def truncated() -> Behaviour:
    return Behaviour("truncated")


def drop() -> Behaviour:
    return Behaviour("drop")


def tool_call(name: str = "text_search", arguments: str = '{"query": "Falcon 9 manufacturer"}') -> Behaviour:
    return Behaviour("tool_call", tool_name=name, tool_arguments=arguments)


NAMED: dict[str, Behaviour] = {
    behaviour.label: behaviour
    for behaviour in (
        *(error(status) for status in (400, 401, 404, 500, 503)),
        *(ok(), error(429, retry_after="0"), hang(), malformed(), truncated(), drop(), tool_call()),
    )
}


@dataclass(frozen=True)
class FailureMix:
    """Fail a share ``rate`` of requests, each with one of ``failures`` picked at random (seeded)."""

    rate: float
    seed: int = 0
    failures: tuple[Behaviour, ...] = (error(429, retry_after="0"), error(500), hang())


def last_user_text(body: dict[str, Any]) -> str:
    """The text of the last user message (text parts joined), for the echo answer."""
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            return " ".join(part.get("text", "") for part in content or [] if part.get("type") == "text")
    return ""


class FakeOpenAIServer:
    """The fake server; use as a context manager. ``base_url`` ends in ``/v1``."""

    def __init__(
        self,
        *,
        default: Behaviour | None = None,
        latency_s: float = 0.0,
        mix: FailureMix | None = None,
        echo_key_in_errors: bool = False,
        responder: Callable[[dict[str, Any]], str] | None = None,
        keep_bodies: bool = True,
    ) -> None:
        self.default = default or ok()
        self.responder = responder
        self.keep_bodies = keep_bodies  # off for long benchmark runs: every body holds an image
        """Writes the answer text of ok replies that have no canned text (instead of the echo)."""
        self.latency_s = latency_s
        self.mix = mix
        self.echo_key_in_errors = echo_key_in_errors
        self.requests = self.in_flight = self.max_in_flight = 0
        self.bodies: list[dict[str, Any]] = []
        self.auth_headers: list[str] = []
        self.served: Counter[str] = Counter()  # behaviours applied, by label ("ok", "429", "hang", ...)
        self._script: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._rng = random.Random(mix.seed if mix else 0)
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "the fake server is not running"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    @property
    def last_body(self) -> dict[str, Any]:
        return self.bodies[-1]

    def script(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._script.extend(behaviours)

    def reset(self) -> None:
        with self._lock:
            self.requests, self.max_in_flight = 0, 0
            self.served.clear()
            self.bodies.clear()
            self.auth_headers.clear()
            self._script.clear()

    def start(self) -> FakeOpenAIServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = _Server(("127.0.0.1", 0), handler)
        serve = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        serve.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _choose(self, body: dict[str, Any]) -> Behaviour:
        """The behaviour for one request (script, body field, mix, default), counted in ``served``."""
        with self._lock:
            named = body.get("fake_behaviour")
            if self._script:
                chosen = self._script.popleft()
            elif isinstance(named, str) and named in NAMED:
                chosen = NAMED[named]
            elif self.mix is not None and self._rng.random() < self.mix.rate:
                chosen = self._rng.choice(self.mix.failures)
            else:
                chosen = self.default
            self.served[chosen.label] += 1
            return chosen


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default of 5 drops connections when 32 clients connect at once


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAIServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: Nagle would hold the second ~40 ms

    def log_message(self, format: str, *args: Any) -> None:  # silence the per-request log
        pass

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send_json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        fake = self.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        auth = self.headers.get("Authorization", "")
        with fake._lock:
            fake.requests += 1
            if fake.keep_bodies:
                fake.bodies.append(body)
            fake.auth_headers.append(auth)
            fake.in_flight += 1
            fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
        try:
            behaviour = fake._choose(body)
            delay = fake.latency_s + behaviour.latency_s
            if delay > 0:
                fake._stopping.wait(delay)
            self._respond(behaviour, body, auth.removeprefix("Bearer "))
        finally:
            with fake._lock:
                fake.in_flight -= 1

    def _respond(self, behaviour: Behaviour, body: dict[str, Any], key: str) -> None:
        kind = behaviour.kind
        if kind == "status":
            message = behaviour.message
            if self.fake.echo_key_in_errors:  # like providers that quote the key they rejected
                message += f" (request made with key {key}; header Authorization: Bearer {key})"
            payload = {"error": {"message": message, "type": "fake_error", "code": behaviour.status}}
            self._send_json(behaviour.status, payload, behaviour.headers)
        elif kind in ("hang", "drop"):
            self.fake._stopping.wait(behaviour.hang_s if kind == "hang" else 0)
            self._close()
        elif kind == "malformed":
            self._send_bytes(200, b'{"id": "chatcmpl-fake", "choices": [{"message": {"content": "unterminated')
        elif kind == "truncated":
            self._send_bytes(200, json.dumps(_completion(body, behaviour, self.fake.responder)).encode(), cut=True)
        else:
            self._send_json(200, _completion(body, behaviour, self.fake.responder))

    def _close(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(payload).encode(), headers)

    def _send_bytes(self, status: int, data: bytes, headers: dict[str, str] | None = None, cut: bool = False) -> None:
        """Send ``data`` with its full Content-Length; ``cut`` sends only half of it and closes."""
        self.send_response(status)
        headers = {"Content-Type": "application/json", "Content-Length": str(len(data)), **(headers or {})}
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data[: len(data) // 2] if cut else data)
        if cut:
            self.wfile.flush()
            self._close()


def _completion(
    body: dict[str, Any], behaviour: Behaviour, responder: Callable[[dict[str, Any]], str] | None = None
) -> dict[str, Any]:
    """A chat.completion object: canned text, the responder's text, or an echo; or one tool call."""
    if behaviour.text is not None:
        text = behaviour.text
    else:
        text = responder(body) if responder is not None else "echo: " + last_user_text(body)
    message: dict[str, Any] = {"role": "assistant", "content": text}
    finish = "stop"
    if behaviour.kind == "tool_call":
        function = {"name": behaviour.tool_name, "arguments": behaviour.tool_arguments}
        call = {"id": "call_0", "type": "function", "function": function}
        message, finish = {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
    return {
        "id": f"chatcmpl-fake-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake-model"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 7, "completion_tokens": len(text.split()), "total_tokens": 7 + len(text.split())},
    }
