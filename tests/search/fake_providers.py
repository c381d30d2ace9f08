"""A fake SerpApi, served for real on localhost, for the web-backend tests.

`FakeSerpApi` is a stdlib HTTP server on 127.0.0.1 that answers ``/search.json`` at
SerpApi's path with the hand-written responses in ``recorded/`` (Google Lens and Google
shapes), and also serves what those responses point at: result pages, a redirect, a PDF,
thumbnails (real JPEG/PNG, plus a broken one), and 404s. Set ``mode`` to make the search
endpoint answer 429, 500, garbage, a provider ``error`` that echoes the key, or hang.
Every request is recorded (``requests``) so a test can prove none was made.

The same server also plays a fake OpenAI-compatible model at ``POST /v1/chat/completions``
(for the LLM summarizer through the project's chat client): it answers every request with
`CHAT_REPLY` and keeps the request bodies in ``chat_requests``.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.conftest import image_bytes

RECORDED = Path(__file__).resolve().parent / "recorded"
QUERY_IMAGE_PATH = "/query/eiffel.jpg"
KNOWN_QUERY = "how tall is the eiffel tower"
LENS_TITLES = [  # the usable visual matches of google_lens_eiffel.json, in order (the one without a link is dropped)
    "Eiffel Tower - Wikipedia",
    "Visiting the Eiffel Tower: tickets, hours and tips",
    "Paris skyline at dusk with the Eiffel Tower",
    "Gustave Eiffel and the building of the tower",
    "Champ de Mars - Paris tourist office",
    "Eiffel Tower replica, Las Vegas",
]
CHAT_REPLY = (
    "<think>The page gives the height.</think>The Eiffel Tower is 330 metres tall. It stands in Paris. "
    "Gustave Eiffel's company built it. It opened in 1889. It was the tallest structure until 1930. "
    "A sixth sentence that must be cut. A seventh one too."
)
MODES = ("ok", "429", "500", "garbage", "provider_error", "hang")


class _FakeHandler(BaseHTTPRequestHandler):
    server: _FakeServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _reply(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _recorded(self, status: int, name: str) -> None:
        text = (RECORDED / name).read_text().replace("{base}", self.server.base_url)
        self._reply(status, text.encode(), "application/json; charset=utf-8")

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        with self.server.lock:
            self.server.requests.append((parts.path, query))
        if parts.path == "/search.json":
            self._search(query)
        elif parts.path.startswith("/pages/"):
            self._page(parts.path.removeprefix("/pages/"))
        elif parts.path.startswith("/redirect/"):
            target = f"{self.server.base_url}/pages/{parts.path.removeprefix('/redirect/')}.html"
            self._reply(302, b"", "text/plain", {"Location": target})
        elif parts.path.startswith("/thumbs/"):
            self._thumbnail(parts.path.removeprefix("/thumbs/"))
        else:
            self._reply(404, b"not found", "text/plain")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if urlsplit(self.path).path != "/v1/chat/completions":
            self._reply(404, b"{}", "application/json")
            return
        request = json.loads(body)
        with self.server.lock:
            self.server.requests.append(("/v1/chat/completions", {}))
            self.server.chat_requests.append(request)
        completion = {
            "id": "chatcmpl-fake-1",
            "object": "chat.completion",
            "created": 1716559200,
            "model": request.get("model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": CHAT_REPLY}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 321, "completion_tokens": 54, "total_tokens": 375},
        }
        self._reply(200, json.dumps(completion).encode(), "application/json")

    def _search(self, query: dict[str, str]) -> None:
        mode = self.server.mode
        if query.get("api_key") != self.server.expected_key:
            self._recorded(401, "error_invalid_key.json")
        elif mode == "429":
            self._recorded(429, "error_out_of_searches.json")
        elif mode == "500":
            self._recorded(500, "error_server.json")
        elif mode == "garbage":
            self._reply(200, b"<html><body>Bad gateway \x00\xff</body>", "text/html")
        elif mode == "provider_error":  # a provider message that quotes the request, key included
            said = f"Unsupported `type` parameter for request with api_key={query.get('api_key')}."
            self._reply(200, json.dumps({"error": said}).encode(), "application/json")
        elif mode == "hang":
            self.server.release.wait(timeout=10)
            self._reply(504, b"{}", "application/json")
        elif query.get("engine") == "google_lens":
            known = query.get("url", "").endswith(QUERY_IMAGE_PATH)
            self._recorded(200, "google_lens_eiffel.json" if known else "google_lens_empty.json")
        elif query.get("engine") == "google":
            known = query.get("q", "").strip().lower() == KNOWN_QUERY
            self._recorded(200, "google_eiffel_height.json" if known else "google_empty.json")
        else:
            self._reply(400, json.dumps({"error": "Unsupported engine."}).encode(), "application/json")

    def _page(self, name: str) -> None:
        path = RECORDED / "pages" / name
        if name == "factsheet.pdf":
            self._reply(200, b"%PDF-1.4\n% fake fact sheet\n", "application/pdf")
        elif name == "eiffel_history.html":  # served in its declared legacy charset
            body = path.read_text(encoding="utf-8").encode("iso-8859-1")
            self._reply(200, body, "text/html; charset=iso-8859-1")
        elif name == "huge.html":
            paragraph = "<p>The tower is made of iron. It stands in Paris.</p>\n" * 20_000
            self._reply(200, f"<html><body>{paragraph}</body></html>".encode(), "text/html")
        elif path.is_file():
            self._reply(200, path.read_bytes(), "text/html; charset=utf-8")
        else:
            self._reply(404, b"<html><body>Not found</body></html>", "text/html")

    def _thumbnail(self, name: str) -> None:
        if name == "broken.jpg":
            self._reply(200, b"\xff\xd8\xff\xe0 this is not really a JPEG", "image/jpeg")
        elif name.endswith(".png"):
            self._reply(200, image_bytes(sum(map(ord, name)), (300, 300), "PNG"), "image/png")
        elif name.startswith("eiffel"):
            self._reply(200, image_bytes(sum(map(ord, name)), (400, 600)), "image/jpeg")
        else:
            self._reply(404, b"not found", "text/plain")


class _FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, expected_key: str) -> None:
        super().__init__(("127.0.0.1", 0), _FakeHandler)
        self.base_url = f"http://127.0.0.1:{self.server_address[1]}"
        self.expected_key = expected_key
        self.mode = "ok"
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.chat_requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.release = threading.Event()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout test) is expected here: say nothing."""


class FakeSerpApi:
    """The fake provider: `url`, `mode`, `requests`; `start()` / `stop()` or a ``with`` block."""

    def __init__(self, expected_key: str) -> None:
        self._server = _FakeServer(expected_key)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-serpapi", daemon=True
        )
        self.url = self._server.base_url
        self.running = False

    @property
    def mode(self) -> str:
        return self._server.mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ValueError(f"unknown fake provider mode {value!r}; choose one of {MODES}")
        self._server.mode = value

    @property
    def requests(self) -> list[tuple[str, dict[str, str]]]:
        with self._server.lock:
            return list(self._server.requests)

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        with self._server.lock:
            return list(self._server.chat_requests)

    def searches(self) -> list[dict[str, str]]:
        """The query parameters of every /search.json request so far."""
        return [query for path, query in self.requests if path == "/search.json"]

    def start(self) -> FakeSerpApi:
        self._thread.start()
        self.running = True
        return self

    def stop(self) -> None:
        if self.running:
            self._server.release.set()  # let hanging requests finish
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self.running = False

    def __enter__(self) -> FakeSerpApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
