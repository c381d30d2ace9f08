"""The search service: same results as in-process, bounded concurrency, clear errors, remote backends."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from fvqa.cache import Cache
from fvqa.search.service import RemoteImageSearch, RemoteTextSearch, ServiceHandle, serve
from fvqa.search.tools import ImageSearchTool, TextSearchTool
from fvqa.search.types import SearchErrorKind, SearchFailure, SearchResult, WebPage
from tests.conftest import image_bytes


@dataclass
class Busy:
    """Counts how many calls run at once."""

    delay_s: float = 0.0
    active: int = 0
    peak: int = 0
    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> None:
        with self.lock:
            self.active += 1
            self.calls += 1
            self.peak = max(self.peak, self.active)
        time.sleep(self.delay_s)

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.active -= 1


@dataclass
class FakeImageBackend:
    busy: Busy = field(default_factory=Busy)
    name: str = "fake_image"

    def params(self) -> dict[str, Any]:
        return {"version": 2, "metric": "cosine"}

    def search_image(self, image: bytes, k: int) -> list[WebPage]:
        with self.busy:
            if image == b"not an image":
                raise SearchFailure(SearchErrorKind.BAD_INPUT, "the query image cannot be decoded")
            digest = hashlib.sha256(image).hexdigest()[:8]
            return [
                WebPage(f"Match {i} for {digest} — ünïcode", f"https://pages.example/{digest}/{i}",
                        thumbnail=image_bytes(i, (32, 24)), score=1 / (i + 3))
                for i in range(k)
            ]  # fmt: skip


@dataclass
class FakeTextBackend:
    busy: Busy = field(default_factory=Busy)
    name: str = "fake_text"

    def params(self) -> dict[str, Any]:
        return {"index": "sha256:abc"}

    def search_text(self, query: str, k: int) -> list[WebPage]:
        with self.busy:
            if query == "boom":
                raise RuntimeError("the index is corrupt")
            return [
                WebPage(f"{query} {i}", f"https://t.example/{i}", summary=f"About {query}. Part {i}.") for i in range(k)
            ]


@pytest.fixture
def backends() -> tuple[FakeImageBackend, FakeTextBackend]:
    return FakeImageBackend(), FakeTextBackend()


@pytest.fixture
def service(backends: tuple[FakeImageBackend, FakeTextBackend]) -> Any:
    image, text = backends
    with serve(ImageSearchTool(image), TextSearchTool(text)) as handle:
        yield handle


def post(url: str, body: Any, **options: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(url, content=content, headers={"Content-Type": "application/json"}, timeout=10, **options)


def test_remote_results_equal_in_process_results(service: ServiceHandle, backends: Any) -> None:
    image_backend, text_backend = backends
    remote_image, remote_text = RemoteImageSearch(service.url), RemoteTextSearch(service.url)
    assert (remote_image.name, remote_image.params()) == (image_backend.name, image_backend.params())
    assert (remote_text.name, remote_text.params()) == (text_backend.name, text_backend.params())
    pairs: list[tuple[Any, Any, list[Any]]] = [
        (ImageSearchTool(image_backend), ImageSearchTool(remote_image), [image_bytes(1), image_bytes(2)]),
        (TextSearchTool(text_backend), TextSearchTool(remote_text), ["eiffel tower height", "ünïcode ✓"]),
    ]
    for local_tool, remote_tool, inputs in pairs:
        for value in inputs:
            for k in (None, 1, 3):
                here, there = local_tool(value, k), remote_tool(value, k)
                assert here.ok and there.pages == here.pages
                assert (there.backend, there.query, there.tool) == (here.backend, here.query, here.tool)
    failing = [
        (ImageSearchTool(image_backend), ImageSearchTool(remote_image), b"not an image", SearchErrorKind.BAD_INPUT),
        (TextSearchTool(text_backend), TextSearchTool(remote_text), "boom", SearchErrorKind.INTERNAL),
        (TextSearchTool(text_backend), TextSearchTool(remote_text), "   ", SearchErrorKind.BAD_INPUT),
    ]
    for local_tool, remote_tool, value, kind in failing:
        here, there = local_tool(value), remote_tool(value)  # type: ignore[operator]
        assert here.error is not None and there.error is not None
        assert here.error.kind is kind and there.error.kind is kind and here.error.message == there.error.message


def test_wire_format_and_health(service: ServiceHandle) -> None:
    image = image_bytes(5)
    response = post(service.url + "/image_search", {"image": base64.b64encode(image).decode(), "k": 2})
    assert response.status_code == 200
    data = response.json()
    assert data["tool"] == "image_search" and data["query"] == hashlib.sha256(image).hexdigest()
    assert base64.b64decode(data["pages"][0]["thumbnail"]) == image_bytes(0, (32, 24))
    assert SearchResult.from_json(data).pages == tuple(FakeImageBackend().search_image(image, 2))
    failed = post(service.url + "/text_search", {"query": "boom"})
    assert failed.status_code == 200 and failed.json()["error"]["kind"] == "internal"
    health = httpx.get(service.url + "/health").json()
    assert health["status"] == "ok" and health["max_concurrency"] == 8
    assert health["image_search"] == {"backend": "fake_image", "params": {"version": 2, "metric": "cosine"}, "top_k": 5}
    assert health["text_search"]["backend"] == "fake_text"


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("/text_search", b"{not json", 400, "not valid JSON"),
        ("/text_search", [1, 2], 400, "JSON object"),
        ("/text_search", {"k": 3}, 400, "`query` must be a string"),
        ("/text_search", {"query": "x", "k": 0}, 400, "`k` must be an integer"),
        ("/text_search", {"query": "x", "k": "5"}, 400, "`k` must be an integer"),
        ("/text_search", {"query": "x", "k": True}, 400, "`k` must be an integer"),
        ("/image_search", {"k": 3}, 400, "base64"),
        ("/image_search", {"image": "***not base64***"}, 400, "base64"),
        ("/image_search", {"image": ""}, 400, "base64"),
        ("/image_search", {"image": 12}, 400, "base64"),
        ("/nowhere", {"query": "x"}, 404, "no such endpoint"),
    ],
)
def test_bad_requests(service: ServiceHandle, path: str, body: Any, status: int, words: str) -> None:
    response = post(service.url + path, body)
    assert response.status_code == status
    error = response.json()["error"]
    assert words in error["message"] and error["kind"] == "bad_input"
    assert httpx.get(service.url + "/nowhere").status_code == 404


def test_length_limits(backends: Any) -> None:
    with serve(ImageSearchTool(backends[0]), None, max_request_bytes=1000) as handle:
        port = int(handle.url.rsplit(":", 1)[1])
        for headers, status in ((({"Content-Length": "5000"}), 413), ({}, 411)):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.putrequest("POST", "/image_search")
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.endheaders()
            response = connection.getresponse()
            assert response.status == status
            assert "Content-Length" in json.loads(response.read())["error"]["message"] or status == 413
            connection.close()
        missing = post(handle.url + "/text_search", {"query": "x"})
        assert missing.status_code == 404 and missing.json()["error"]["kind"] == "not_configured"
        with pytest.raises(SearchFailure) as failure:
            RemoteTextSearch(handle.url)
        assert failure.value.kind is SearchErrorKind.NOT_CONFIGURED


def test_concurrency_is_bounded(backends: Any) -> None:
    image, text = backends
    image.busy.delay_s = text.busy.delay_s = 0.15
    text.busy = image.busy  # one counter across both tools
    with serve(ImageSearchTool(image), TextSearchTool(text), max_concurrency=2) as handle:
        remote_image, remote_text = (
            ImageSearchTool(RemoteImageSearch(handle.url)),
            TextSearchTool(RemoteTextSearch(handle.url)),
        )
        results: list[SearchResult] = []
        jobs = [lambda i=i: remote_image(image_bytes(i)) for i in range(4)] + [
            lambda i=i: remote_text(f"q{i}") for i in range(4)
        ]
        threads = [threading.Thread(target=lambda job=job: results.append(job())) for job in jobs]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(results) == 8 and all(r.ok for r in results)
        assert image.busy.peak == 2 and image.busy.calls == 8
        assert time.perf_counter() - start >= 4 * 0.15 - 0.02  # 8 searches, 2 at a time


def test_overload_answers_503(backends: Any) -> None:
    image, _ = backends
    image.busy.delay_s = 0.6
    with serve(ImageSearchTool(image), None, max_concurrency=1, queue_timeout_s=0.05) as handle:
        remote = ImageSearchTool(RemoteImageSearch(handle.url))
        first: list[SearchResult] = []
        thread = threading.Thread(target=lambda: first.append(remote(image_bytes(1))))
        thread.start()
        deadline = time.monotonic() + 5
        while image.busy.active == 0 and time.monotonic() < deadline:  # until the first search holds the slot
            time.sleep(0.005)
        response = post(handle.url + "/image_search", {"image": base64.b64encode(b"x").decode()})
        assert response.status_code == 503 and response.headers["Retry-After"] == "1"
        assert "busy" in response.json()["error"]["message"]
        busy = remote(image_bytes(2))
        assert busy.error is not None and busy.error.kind is SearchErrorKind.UNAVAILABLE
        thread.join()
        assert first[0].ok


def test_network_failures_map_to_kinds(backends: Any) -> None:
    image, _ = backends
    image.busy.delay_s = 0.5
    handle = serve(ImageSearchTool(image), None)
    slow = RemoteImageSearch(handle.url, timeout_s=0.1, name="fake_image", params={})
    timed_out = ImageSearchTool(slow)(image_bytes(1))
    assert timed_out.error is not None and timed_out.error.kind is SearchErrorKind.TIMEOUT
    handle.stop()
    gone = ImageSearchTool(RemoteImageSearch(handle.url, name="fake_image", params={}))(image_bytes(1))
    assert gone.error is not None and gone.error.kind is SearchErrorKind.UNAVAILABLE
    with pytest.raises(SearchFailure) as failure:
        RemoteImageSearch(handle.url)  # asks /health
    assert failure.value.kind is SearchErrorKind.UNAVAILABLE


def test_the_service_uses_the_shared_cache(tmp_path: Path, backends: Any) -> None:
    image, text = backends
    cache = Cache(tmp_path / "cache.sqlite", "rw")
    with serve(ImageSearchTool(image, cache), TextSearchTool(text, cache)) as handle:
        remote = TextSearchTool(RemoteTextSearch(handle.url))
        assert remote("eiffel").pages == remote("eiffel").pages
        assert text.busy.calls == 1 and len(cache) == 1


def test_local_backends_through_the_service(tmp_path: Path) -> None:
    from fvqa.search import image_features as features
    from fvqa.search import local

    corpus = tmp_path / "corpus"
    (corpus / "photos").mkdir(parents=True)
    pages, passages = [], []
    for i in range(6):
        (corpus / f"photos/p{i}.jpg").write_bytes(image_bytes(300 + i, (96, 64)))
        pages.append({"id": f"p{i}", "url": f"https://pages.example/{i}", "title": f"Photo {i}",
                      "text": f"A page about photo {i}.", "image": f"photos/p{i}.jpg"})  # fmt: skip
        passages.append({"id": f"t{i}", "url": f"https://text.example/{i}", "title": f"Passage {i}",
                         "text": f"Passage {i} tells that tower number {i} is {100 + i} metres tall."})  # fmt: skip
    (corpus / "pages.jsonl").write_text("".join(json.dumps(row) + "\n" for row in pages))
    (corpus / "passages.jsonl").write_text("".join(json.dumps(row) + "\n" for row in passages))
    encoder = features.PHashEncoder()
    local.build_indexes(corpus, tmp_path / "index", encoder=encoder)
    image_tool = ImageSearchTool(local.LocalImageSearch(tmp_path / "index", encoder))
    text_tool = TextSearchTool(local.LocalTextSearch(tmp_path / "index"))
    with serve(image_tool, text_tool) as handle:
        remote_image = ImageSearchTool(RemoteImageSearch(handle.url))
        remote_text = TextSearchTool(RemoteTextSearch(handle.url))
        for i in (0, 3):
            here, there = image_tool(image_bytes(300 + i, (96, 64)), 3), remote_image(image_bytes(300 + i, (96, 64)), 3)
            assert here.ok and here.pages and there.pages == here.pages
        for query in ("tower number 4", "how tall is tower 2"):
            here, there = text_tool(query, 3), remote_text(query, 3)
            assert here.ok and here.pages and there.pages == here.pages
