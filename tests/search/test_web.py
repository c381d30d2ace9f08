"""The SerpApi backends against a real fake provider on localhost (tests/search/fake_providers.py)."""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from fvqa.cache import Cache
from fvqa.images import decode_image
from fvqa.search.tools import ImageSearchTool, TextSearchTool
from fvqa.search.types import SearchErrorKind, SearchFailure, SearchResult
from fvqa.search.web import (
    LLMSummarizer,
    SerpApiImageSearch,
    SerpApiTextSearch,
    SnippetSummarizer,
    clip_sentences,
    image_urls_from_samples,
    split_sentences,
)
from fvqa.search.web_fetch import FetchLimits, SerpApiClient, fetch_page_text, html_to_text
from tests.conftest import image_bytes
from tests.search.fake_providers import CHAT_REPLY, KNOWN_QUERY, LENS_TITLES, QUERY_IMAGE_PATH, FakeSerpApi

KEY = "fvqa-test-KEY-7Qz9XkP2mW4vB8nL"
QUERY_IMAGE = image_bytes(7)
QUERY_SHA = hashlib.sha256(QUERY_IMAGE).hexdigest()


@pytest.fixture
def provider() -> Any:
    with FakeSerpApi(KEY) as fake:
        yield fake


@pytest.fixture
def with_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERPAPI_API_KEY", KEY)


def api(url: str, timeout_s: float = 5.0, **options: Any) -> SerpApiClient:
    return SerpApiClient(base_url=url, timeout_s=timeout_s, **options)


def image_backend(url: str, **options: Any) -> SerpApiImageSearch:
    return SerpApiImageSearch({QUERY_SHA: url + QUERY_IMAGE_PATH}, api=api(url, **options))


def text_backend(url: str, summarizer: Any = None, **options: Any) -> SerpApiTextSearch:
    return SerpApiTextSearch(summarizer, api=api(url, **options))


@dataclass
class Reply:
    text: str | None = None
    error: Any = None


@dataclass
class StubChat:
    """Stands in for fvqa.models.client.ChatClient: same `complete_sync` and result fields."""

    text: str | None = "A summary."
    error: Any = None
    model: str = "stub-model"
    calls: list[dict[str, Any]] = field(default_factory=list)

    def complete_sync(self, messages: list[dict[str, Any]], *, temperature: float, max_tokens: int) -> Reply:
        self.calls.append({"messages": messages, "temperature": temperature, "max_tokens": max_tokens})
        return Reply(self.text, self.error)


class NoNetwork(httpx.BaseTransport):
    """A transport that fails loudly: replay must never reach it."""

    calls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        NoNetwork.calls += 1
        raise AssertionError(f"replay made an HTTP request to {request.url.host}")


def test_image_search_parses_visual_matches_and_fetches_thumbnails(provider: FakeSerpApi, with_key: None) -> None:
    result = ImageSearchTool(image_backend(provider.url))(QUERY_IMAGE, k=5)
    assert result.ok, result.error
    assert [p.title for p in result.pages] == LENS_TITLES[:5]
    assert result.pages[0].url == "https://en.wikipedia.org/wiki/Eiffel_Tower"
    assert result.query == QUERY_SHA and result.backend == "serpapi_google_lens"
    good = [result.pages[i].thumbnail for i in (0, 1, 4)]
    for thumbnail in good:
        assert thumbnail is not None
        decoded = decode_image(thumbnail)
        assert decoded.format == "JPEG" and max(decoded.width, decoded.height) <= 256
    assert result.pages[2].thumbnail is None  # undecodable bytes
    assert result.pages[3].thumbnail is None  # 404
    (search,) = provider.searches()
    assert search["engine"] == "google_lens" and search["url"] == provider.url + QUERY_IMAGE_PATH
    assert search["api_key"] == KEY and search["hl"] == "en"


def test_image_search_needs_a_public_url(provider: FakeSerpApi, with_key: None) -> None:
    result = ImageSearchTool(image_backend(provider.url))(image_bytes(99))
    assert result.error is not None and result.error.kind is SearchErrorKind.NOT_CONFIGURED
    assert "public URL" in result.error.message
    assert provider.requests == []


def test_image_search_by_url_and_sample_lookup(provider: FakeSerpApi, with_key: None, make_sample: Any) -> None:
    sample = make_sample(3, image_url=provider.url + QUERY_IMAGE_PATH)
    backend = SerpApiImageSearch(image_urls_from_samples([sample, make_sample(4)]), api=api(provider.url))
    assert backend.image_url(sample.image_sha256) == sample.image_url
    assert [p.title for p in backend.search_image(sample.image, 2)] == LENS_TITLES[:2]
    assert [p.title for p in backend.search_image_url(provider.url + QUERY_IMAGE_PATH, 1)] == LENS_TITLES[:1]
    assert backend.search_image_url(provider.url + "/query/unknown.jpg", 5) == []  # "hasn't returned any results"
    with pytest.raises(SearchFailure) as failure:
        backend.search_image_url("file:///etc/passwd", 5)
    assert failure.value.kind is SearchErrorKind.BAD_INPUT


def test_text_search_reads_pages_and_summarises(provider: FakeSerpApi, with_key: None) -> None:
    result = TextSearchTool(text_backend(provider.url))(KNOWN_QUERY)
    assert result.ok, result.error
    titles = [p.title for p in result.pages]
    assert titles[0] == "Eiffel Tower - Wikipedia" and len(titles) == 5
    assert result.pages[0].url == provider.url + "/pages/eiffel_wiki.html"
    for page in result.pages:
        assert page.summary and len(split_sentences(page.summary)) <= 5
    assert "330 metres" in result.pages[0].summary
    assert result.pages[1].summary.startswith("Built for the 1889 World's Fair")
    assert "Exposition Universelle" in result.pages[1].summary  # the redirect was followed
    assert result.pages[2].summary.startswith("Height with antennas")  # a PDF: the snippet only
    assert result.pages[3].summary.startswith("The Eiffel Tower grew")  # a 404: the snippet only
    (search,) = provider.searches()
    assert search["engine"] == "google" and search["q"] == KNOWN_QUERY and search["gl"] == "us"


def test_llm_summarizer_prompt_and_clipping(provider: FakeSerpApi, with_key: None) -> None:
    chat = StubChat(text="<think>scratch work</think>Summary: One. Two is 2. Three! Four? Five. Six. Seven.")
    result = TextSearchTool(text_backend(provider.url, LLMSummarizer(chat, max_tokens=120)))(KNOWN_QUERY, k=2)
    assert result.ok and len(chat.calls) == 2
    assert result.pages[0].summary == "One. Two is 2. Three! Four? Five."
    call = next(c for c in chat.calls if "Eiffel Tower - Wikipedia" in c["messages"][1]["content"])
    assert call["temperature"] == 0 and call["max_tokens"] == 120
    system, user = call["messages"]
    assert system["role"] == "system" and "five sentences" in system["content"]
    assert user["role"] == "user" and KNOWN_QUERY in user["content"]
    assert "wrought-iron lattice tower" in user["content"] and "330 metres (1,083\xa0ft)" in user["content"]
    for hidden in ("do-not-read-this-script", "NAVIGATION-TEXT", "FOOTER-TEXT", "font-family"):
        assert hidden not in user["content"]


def test_llm_summarizer_with_the_project_chat_client(provider: FakeSerpApi, with_key: None) -> None:
    from fvqa.models import client

    chat = client.ChatClient(provider.url + "/v1", "fake-summary-model", max_attempts=1, timeout_s=5)
    summarizer = LLMSummarizer(chat, max_tokens=200)
    assert summarizer.params()["model"] == "fake-summary-model"
    result = TextSearchTool(text_backend(provider.url, summarizer))(KNOWN_QUERY, k=2)
    assert result.ok and len(result.pages) == 2
    for page in result.pages:
        assert page.summary == clip_sentences(CHAT_REPLY.split("</think>")[1], 5)
        assert len(split_sentences(page.summary)) == 5 and "sixth" not in page.summary
    assert len(provider.chat_requests) == 2
    for request in provider.chat_requests:
        assert request["model"] == "fake-summary-model" and request["temperature"] == 0
        assert request["max_tokens"] == 200
        assert [m["role"] for m in request["messages"]] == ["system", "user"]


def test_llm_failure_falls_back_to_the_snippet(provider: FakeSerpApi, with_key: None) -> None:
    chat = StubChat(text=None, error=type("Error", (), {"message": "server_error: HTTP 503"})())
    result = TextSearchTool(text_backend(provider.url, LLMSummarizer(chat)))(KNOWN_QUERY, k=1)
    assert result.ok and result.pages[0].summary.startswith("The tower is 330 metres")


def test_summarizers_and_params() -> None:
    assert (
        SnippetSummarizer(sentences=2).summarize("q", "t", "First one. Second two. Third.") == "First one. Second two."
    )
    assert clip_sentences("a. b. c. d. e. f. g.".upper(), 5) == "A. B. C. D. E."
    llm = LLMSummarizer(StubChat())
    assert llm.params()["kind"] == "llm" and llm.params()["model"] == "stub-model"
    text = SerpApiTextSearch(llm, api=api("http://127.0.0.1:9"))
    image = SerpApiImageSearch(api=api("http://127.0.0.1:9"))
    for params in (text.params(), image.params()):
        assert "api_key" not in json.dumps(params) and "127.0.0.1" not in json.dumps(params)
    assert text.params()["summarizer"] == llm.params()


def test_page_text_extraction_and_limits(provider: FakeSerpApi) -> None:
    title, text = html_to_text((Path(__file__).parent / "recorded/pages/eiffel_numbers.html").read_text())
    assert title == "Eiffel Tower in numbers" and "Steps to the top floor: 1,665." in text and "ASIDE" not in text
    client = httpx.Client()
    limits = FetchLimits(max_page_bytes=4_000, max_page_chars=1_000)
    assert len(fetch_page_text(client, provider.url + "/pages/huge.html", limits)) <= 1_000
    assert "Émile Nouguier" in fetch_page_text(client, provider.url + "/pages/eiffel_history.html", limits)


@pytest.mark.parametrize(
    ("mode", "kind"),
    [
        ("429", SearchErrorKind.RATE_LIMITED),
        ("500", SearchErrorKind.UNAVAILABLE),
        ("garbage", SearchErrorKind.BAD_RESPONSE),
        ("provider_error", SearchErrorKind.BAD_RESPONSE),
        ("hang", SearchErrorKind.TIMEOUT),
    ],
)
def test_provider_failures_map_to_kinds(
    provider: FakeSerpApi, with_key: None, mode: str, kind: SearchErrorKind
) -> None:
    provider.mode = mode
    timeout_s = 0.5 if mode == "hang" else 10.0
    text = TextSearchTool(text_backend(provider.url, timeout_s=timeout_s))(KNOWN_QUERY)
    image = ImageSearchTool(image_backend(provider.url, timeout_s=timeout_s))(QUERY_IMAGE)
    for result in (text, image):
        assert result.error is not None and result.error.kind is kind, result.error
        assert KEY not in result.error.message
    message = text.error.message if text.error else ""
    if mode == "429":
        assert "run out of searches" in message  # the provider's reason is kept
    if mode == "provider_error":
        assert "api_key=***" in message


def test_refused_key_and_unreachable_provider(provider: FakeSerpApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERPAPI_API_KEY", "not-the-right-key")
    refused = TextSearchTool(text_backend(provider.url))(KNOWN_QUERY)
    assert refused.error is not None and refused.error.kind is SearchErrorKind.NOT_CONFIGURED
    assert "Invalid API key" in refused.error.message and "not-the-right-key" not in refused.error.message
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    down = TextSearchTool(text_backend(closed))(KNOWN_QUERY)
    assert down.error is not None and down.error.kind is SearchErrorKind.UNAVAILABLE


def test_missing_key(provider: FakeSerpApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SERPAPI_API_KEY", raising=False)
    result = TextSearchTool(text_backend(provider.url))(KNOWN_QUERY)
    assert result.error is not None and result.error.kind is SearchErrorKind.NOT_CONFIGURED
    assert "set SERPAPI_API_KEY" in result.error.message
    monkeypatch.setenv("MY_SERP_KEY", KEY)
    other = SerpApiImageSearch({QUERY_SHA: provider.url + QUERY_IMAGE_PATH}, api=SerpApiClient(base_url=provider.url))
    assert "set SERPAPI_API_KEY" in ImageSearchTool(other)(QUERY_IMAGE).error.message  # type: ignore[union-attr]
    named = SerpApiClient(base_url=provider.url, key_env="MY_SERP_KEY")
    assert ImageSearchTool(SerpApiImageSearch({QUERY_SHA: provider.url + QUERY_IMAGE_PATH}, api=named))(QUERY_IMAGE).ok
    assert len(provider.searches()) == 1


def test_the_key_appears_nowhere(provider: FakeSerpApi, with_key: None, tmp_path: Path) -> None:
    log_file = tmp_path / "run.log"
    handler = logging.FileHandler(log_file)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    loggers = [logging.getLogger(name) for name in ("httpx", "httpcore", "fvqa")]
    saved = [logger.level for logger in loggers]
    root.addHandler(handler)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    texts: list[str] = []
    try:
        cache = Cache(tmp_path / "cache.sqlite", "rw")
        urls = lambda sha: provider.url + (QUERY_IMAGE_PATH if sha == QUERY_SHA else f"/query/{sha}.jpg")  # noqa: E731
        timeout_s = {"hang": 0.5}  # the other answers come at once: allow a slow machine 10 s
        clients = api(provider.url, timeout_s=10), api(provider.url, timeout_s=10)
        image_tool = ImageSearchTool(SerpApiImageSearch(urls, api=clients[0]), cache)
        text_tool = TextSearchTool(SerpApiTextSearch(api=clients[1]), cache)
        results: list[SearchResult] = [image_tool(QUERY_IMAGE), text_tool(KNOWN_QUERY), text_tool("no such thing")]
        for seed, mode in enumerate(("429", "500", "garbage", "provider_error", "hang")):
            provider.mode = mode
            for client in clients:
                client.timeout_s = timeout_s.get(mode, 10)
            results += [image_tool(image_bytes(seed + 100)), text_tool(f"{mode} query")]
            with pytest.raises(SearchFailure) as failure:
                text_tool.backend.search_text(f"direct {mode}", 5)
            texts += [str(failure.value), repr(failure.value), "".join(traceback.format_exception(failure.value))]
        assert sum(r.ok for r in results) == 3 and len(cache) == 3
        (tmp_path / "results.json").write_text(json.dumps([r.to_json() for r in results]))
        texts += [repr(r) + json.dumps(r.to_json()) for r in results]
        cache.close()
    finally:
        root.removeHandler(handler)
        handler.close()
        for logger, level in zip(loggers, saved, strict=True):
            logger.setLevel(level)
    log = log_file.read_text()
    assert "HTTP Request: GET" in log and "api_key=***" in log  # httpx did log its request lines, redacted
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert {p.name for p in written} >= {"run.log", "cache.sqlite", "results.json"}
    for path in written:
        assert KEY.encode() not in path.read_bytes(), f"the key leaked into {path.name}"
    for text in texts:
        assert KEY not in text


def test_replay_makes_no_calls(provider: FakeSerpApi, with_key: None, tmp_path: Path, monkeypatch: Any) -> None:
    path = tmp_path / "cache.sqlite"
    recorded_cache = Cache(path, "rw")
    first_image = ImageSearchTool(image_backend(provider.url), recorded_cache)(QUERY_IMAGE)
    first_text = TextSearchTool(text_backend(provider.url), recorded_cache)(KNOWN_QUERY)
    assert first_image.ok and first_text.ok and not first_image.cached
    recorded_cache.close()
    provider.stop()
    seen = len(provider.requests)

    monkeypatch.delenv("SERPAPI_API_KEY")  # replay needs no key either
    NoNetwork.calls = 0
    offline = api(provider.url, transport=NoNetwork())
    replay = Cache(path, "replay")
    image_tool = ImageSearchTool(SerpApiImageSearch({QUERY_SHA: provider.url + QUERY_IMAGE_PATH}, api=offline), replay)
    text_tool = TextSearchTool(SerpApiTextSearch(api=offline), replay)
    again_image, again_text = image_tool(QUERY_IMAGE), text_tool(KNOWN_QUERY)
    assert again_image.pages == first_image.pages and again_text.pages == first_text.pages
    assert again_image.cached and again_text.cached
    miss = text_tool("a query never recorded")
    assert miss.error is not None and miss.error.kind is SearchErrorKind.CACHE_MISS
    other_k = image_tool(QUERY_IMAGE, k=3)
    assert other_k.error is not None and other_k.error.kind is SearchErrorKind.CACHE_MISS
    assert NoNetwork.calls == 0 and len(provider.requests) == seen
