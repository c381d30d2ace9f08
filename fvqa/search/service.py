"""Both search tools behind one small HTTP JSON service, so that many processes share one index.

``POST /image_search`` ``{"image": "<base64>", "k": 5}`` and ``POST /text_search`` ``{"query":
"...", "k": 5}`` answer 200 with ``SearchResult.to_json()`` (thumbnails base64), also when the
search failed (its ``error`` is set); ``GET /health`` names each tool's backend and params.
Other answers carry ``{"error": {"kind", "message"}}``: 400 bad JSON or fields, 404 unknown
endpoint or tool not served, 411 no Content-Length, 413 body too large, 503 busy, 500 a bug.
At most ``max_concurrency`` searches run at once; one over the limit waits ``queue_timeout_s``
for a slot, then gets 503 with Retry-After. There is no authentication: keep it on loopback.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import ipaddress
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from fvqa.search.tools import ImageSearchTool, TextSearchTool
from fvqa.search.types import SearchErrorKind, SearchFailure, SearchResult, WebPage

_LOG = logging.getLogger(__name__)

MAX_K, DEFAULT_MAX_REQUEST_BYTES = 50, 32 * 2**20


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    image_tool: ImageSearchTool | None = None
    text_tool: TextSearchTool | None = None
    max_concurrency: int = 8
    queue_timeout_s: float = 30.0
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    slots: threading.BoundedSemaphore

    def health(self) -> dict[str, Any]:
        tools: dict[str, ImageSearchTool | TextSearchTool | None] = {"image_search": self.image_tool}
        tools["text_search"] = self.text_tool
        info = {name: None if t is None else {"backend": t.backend.name, "params": t.backend.params(),
                "top_k": t.top_k} for name, t in tools.items()}  # fmt: skip
        return {"status": "ok", **info, "max_concurrency": self.max_concurrency}

    def run_search(self, call: Callable[[], SearchResult]) -> SearchResult | None:
        """``call()`` within a concurrency slot; None when no slot freed up in time."""
        if not self.slots.acquire(timeout=self.queue_timeout_s):
            return None
        try:
            return call()
        finally:
            self.slots.release()


class _BadRequest(Exception):
    """Raised with (HTTP status, SearchErrorKind, message) for a request the service refuses."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 60  # seconds a client may take to send its request

    def log_message(self, format: str, *args: Any) -> None:
        _LOG.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload, default=str).encode()
        self.send_response(status)
        fields = {"Content-Type": "application/json", "Content-Length": str(len(body)), **(headers or {})}
        for name, value in fields.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _fail(self, status: int, kind: SearchErrorKind, message: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, {"error": {"kind": str(kind), "message": message}}, headers)

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/health":
            self._send(200, self.server.health())
        else:
            self._fail(404, SearchErrorKind.BAD_INPUT, f"no such endpoint: GET {self.path.split('?')[0]}")

    def do_POST(self) -> None:
        try:
            call = self._parse_search(self.path.split("?")[0])
        except _BadRequest as bad:
            self.close_connection = True  # after a 411 or 413 the body is unread: do not reuse the connection
            self._fail(*bad.args)
            return
        try:
            result = self.server.run_search(call)
        except Exception as err:  # the tools report failures as results; this is a bug
            _LOG.exception("search service request failed")
            self._fail(500, SearchErrorKind.INTERNAL, f"{type(err).__name__}: {err}")
            return
        if result is None:
            busy = f"the search service is busy ({self.server.max_concurrency} searches at once); try again"
            self._fail(503, SearchErrorKind.UNAVAILABLE, busy, {"Retry-After": "1"})
        else:
            self._send(200, result.to_json())

    def _read_json(self) -> dict[str, Any]:
        length = self.headers.get("Content-Length", "")
        if not length.isdigit():
            message = "send the body with a valid Content-Length header"
            raise _BadRequest(400 if length else 411, SearchErrorKind.BAD_INPUT, message)
        if int(length) > self.server.max_request_bytes:
            limit = f"{self.server.max_request_bytes:,}"
            raise _BadRequest(413, SearchErrorKind.BAD_INPUT, f"the body is {int(length):,} bytes, over {limit}")
        try:
            data = json.loads(self.rfile.read(int(length)))
        except ValueError as err:
            raise _BadRequest(400, SearchErrorKind.BAD_INPUT, f"the body is not valid JSON ({err})") from None
        if not isinstance(data, dict):
            raise _BadRequest(400, SearchErrorKind.BAD_INPUT, "the body must be a JSON object")
        return data

    def _parse_search(self, path: str) -> Callable[[], SearchResult]:
        data = self._read_json()  # first: an answer sent with the body unread may reach the client as a reset
        if path not in ("/image_search", "/text_search"):
            raise _BadRequest(404, SearchErrorKind.BAD_INPUT, f"no such endpoint: POST {path}")
        image_tool, text_tool = self.server.image_tool, self.server.text_tool
        if (image_tool if path == "/image_search" else text_tool) is None:
            raise _BadRequest(404, SearchErrorKind.NOT_CONFIGURED, f"this service does not serve {path[1:]}")
        k = data.get("k")
        if k is not None and (type(k) is not int or not 1 <= k <= MAX_K):
            raise _BadRequest(400, SearchErrorKind.BAD_INPUT, f"`k` must be an integer from 1 to {MAX_K}")
        if image_tool is not None and path == "/image_search":
            try:
                image = base64.b64decode(data.get("image") or "", validate=True)
            except (binascii.Error, ValueError, TypeError):
                image = b""
            if not image:
                raise _BadRequest(400, SearchErrorKind.BAD_INPUT, "`image` must be the image's bytes in base64")
            return lambda: image_tool(image, k)
        query = data.get("query")
        if text_tool is None or not isinstance(query, str):
            raise _BadRequest(400, SearchErrorKind.BAD_INPUT, "`query` must be a string")
        return lambda: text_tool(query, k)


@dataclass
class ServiceHandle:
    """A running service: its base URL, and `stop()` (also on leaving a ``with`` block)."""

    url: str
    server: _Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def __enter__(self) -> ServiceHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(
    image_tool: ImageSearchTool | None,
    text_tool: TextSearchTool | None,
    host: str = "127.0.0.1",
    port: int = 0,
    max_concurrency: int = 8,
    *,
    queue_timeout_s: float = 30.0,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
) -> ServiceHandle:
    """Start the service on a background thread (``port=0``: any free port) and return its handle."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        _LOG.warning("the search service has no authentication and listens on %s, beyond this machine", host)
    if max_concurrency < 1:
        raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
    server = _Server((host, port), _Handler)
    server.image_tool, server.text_tool, server.max_concurrency = image_tool, text_tool, max_concurrency
    server.queue_timeout_s, server.max_request_bytes = queue_timeout_s, max_request_bytes
    server.slots = threading.BoundedSemaphore(max_concurrency)
    url = f"http://{server.server_address[0]!s}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), name="fvqa-search-service", daemon=True)
    thread.start()
    _LOG.info("search service listening at %s", url)
    return ServiceHandle(url, server, thread)


def run_forever(
    image_tool: ImageSearchTool | None,
    text_tool: TextSearchTool | None,
    host: str = "127.0.0.1",
    port: int = 8765,
    max_concurrency: int = 8,
    *,
    on_ready: Callable[[str], None] | None = None,
    **options: Any,
) -> None:
    """`serve` in the foreground until Ctrl-C; ``on_ready`` gets the base URL; ``options`` go to `serve`."""
    with serve(image_tool, text_tool, host, port, max_concurrency, **options) as handle:
        if on_ready is not None:
            on_ready(handle.url)
        with contextlib.suppress(KeyboardInterrupt):
            while handle.thread.is_alive():
                handle.thread.join(0.5)


class _RemoteBackend:
    """Asks a running search service. Its name and params are the remote backend's (from /health
    unless both are given), so cache keys made with it match the service's own."""

    tool = ""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 120.0,
        name: str | None = None,
        params: dict[str, Any] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url, self.timeout_s = base_url.rstrip("/"), timeout_s
        self._where = f"the search service at {self.base_url}"
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout_s, transport=transport)
        if name is None or params is None:
            info = self._request("GET", "/health").get(self.tool)
            if not isinstance(info, dict) or not isinstance(info.get("backend"), str):
                raise SearchFailure(SearchErrorKind.NOT_CONFIGURED, f"{self._where} serves no {self.tool}")
            name, params = name or info["backend"], params if params is not None else info.get("params") or {}
        self.name, self._params = name, dict(params)

    def params(self) -> dict[str, Any]:
        return dict(self._params)

    def _request(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = self.http.request(method, path, json=payload)
        except httpx.TimeoutException:
            message = f"{self._where} did not answer within {self.timeout_s:g} s"
            raise SearchFailure(SearchErrorKind.TIMEOUT, message) from None
        except httpx.HTTPError as err:
            message = f"cannot reach {self._where}: {type(err).__name__}"
            raise SearchFailure(SearchErrorKind.UNAVAILABLE, message) from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code != 200:
            error = data.get("error") if isinstance(data, dict) else None
            error = error if isinstance(error, dict) else {}
            kind = SearchErrorKind.UNAVAILABLE if response.status_code >= 500 else SearchErrorKind.BAD_RESPONSE
            kind = SearchErrorKind(error["kind"]) if error.get("kind") in set(SearchErrorKind) else kind
            said = error.get("message") or "no reason given"
            raise SearchFailure(kind, f"{self._where} answered HTTP {response.status_code}: {said}")
        if not isinstance(data, dict):
            raise SearchFailure(SearchErrorKind.BAD_RESPONSE, f"{self._where} answered something not a JSON object")
        return data

    def _pages(self, payload: dict[str, Any]) -> list[WebPage]:
        data = self._request("POST", f"/{self.tool}", payload)
        try:
            result = SearchResult.from_json(data)
        except (KeyError, TypeError, ValueError) as err:
            message = f"{self._where} sent an unreadable result ({type(err).__name__}: {err})"
            raise SearchFailure(SearchErrorKind.BAD_RESPONSE, message) from None
        if result.error is not None:
            raise SearchFailure(result.error.kind, result.error.message)
        return list(result.pages)


class RemoteImageSearch(_RemoteBackend):
    """An image-search backend served by `serve` / `run_forever` elsewhere."""

    tool = "image_search"

    def search_image(self, image: bytes, k: int) -> list[WebPage]:
        return self._pages({"image": base64.b64encode(image).decode(), "k": k})


class RemoteTextSearch(_RemoteBackend):
    """A text-search backend served by `serve` / `run_forever` elsewhere."""

    tool = "text_search"

    def search_text(self, query: str, k: int) -> list[WebPage]:
        return self._pages({"query": query, "k": k})
