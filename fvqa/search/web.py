"""Web search backends for users with a SerpApi key, and the page summarizers text search uses.

Image search sends the image's PUBLIC URL to Google Lens (SerpApi takes no uploaded bytes).
The image-search tool passes bytes and keys its cache by their sha256, so
`SerpApiImageSearch` is given a lookup from sha256 to URL (a dict built from the samples'
``image_url`` by `image_urls_from_samples`, or any function); an image without a known URL
is a NOT_CONFIGURED failure. Callers that hold a URL can call `search_image_url` directly.

Text search takes Google's organic results, reads each result page and condenses it to at
most five sentences with a `Summarizer`: `LLMSummarizer` (the project's chat client) when a
model is configured, else `SnippetSummarizer` (the search snippet and the page's first
sentences, no model).

The API key is read from the environment at call time: constructing a backend, or replaying
searches from the cache, needs none. See `fvqa.search.web_fetch` for how it is kept out of
results, cache entries, exceptions and logs.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from fvqa.schema import Sample
from fvqa.search.types import SearchErrorKind, SearchFailure, WebPage
from fvqa.search.web_fetch import FetchError, FetchLimits, SerpApiClient, fetch_page_text, fetch_thumbnail

_LOG = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

MAX_SUMMARY_SENTENCES = 5
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_THINKING = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
_LABEL = re.compile(r"^\s*(summary|answer)\s*:\s*", re.IGNORECASE)

SUMMARY_SYSTEM_PROMPT = (
    "You condense one web page for a question-answering assistant. You get a search query, the page's"
    " title and the page's text. Write a summary of at most five sentences that keeps every fact on the page"
    " that helps answer the query: names, dates, places, and numbers with their units. Use only what the page"
    " says, never your own knowledge. If the page holds nothing relevant to the query, say in one sentence"
    " what the page is about. Write plain sentences: no lists, no headings, no preamble."
)
SUMMARY_USER_TEMPLATE = "Query: {query}\nPage title: {title}\n\nPage text:\n{text}\n\nSummary (at most five sentences):"

ImageUrls = Mapping[str, str] | Callable[[str], str | None]
"""An image's sha256 -> its public URL: a dict, or a function returning None when unknown."""


def split_sentences(text: str) -> list[str]:
    """Split text into sentences at ., ! or ? followed by a capital or a digit (a heuristic)."""
    sentences: list[str] = []
    for line in text.splitlines():
        sentences.extend(s.strip() for s in _SENTENCE_END.split(line) if s.strip())
    return sentences


def clip_sentences(text: str, n: int = MAX_SUMMARY_SENTENCES, max_chars: int | None = None) -> str:
    """The first ``n`` sentences of ``text`` on one line; within ``max_chars`` when given."""
    kept: list[str] = []
    for sentence in split_sentences(text)[:n]:
        if max_chars is not None and kept and len(" ".join([*kept, sentence])) > max_chars:
            break
        kept.append(sentence)
    joined = " ".join(kept)
    return joined if max_chars is None else joined[:max_chars]


class Summarizer(Protocol):
    """Condenses one result page to a few sentences that answer the query."""

    def summarize(self, query: str, title: str, text: str) -> str: ...


def summarizer_params(summarizer: Summarizer) -> dict[str, Any]:
    """What about a summarizer changes summaries (it is part of the text-search cache key)."""
    params = getattr(summarizer, "params", None)
    return dict(params()) if callable(params) else {"kind": type(summarizer).__name__}


@dataclass(frozen=True)
class SnippetSummarizer:
    """No model: the text's first sentences (the search snippet comes first, then the page)."""

    sentences: int = 3
    max_chars: int = 600

    def params(self) -> dict[str, Any]:
        return {"kind": "snippet", "sentences": self.sentences, "max_chars": self.max_chars}

    def summarize(self, query: str, title: str, text: str) -> str:
        return clip_sentences(text, min(self.sentences, MAX_SUMMARY_SENTENCES), self.max_chars)


class ChatLike(Protocol):
    """What `LLMSummarizer` needs of a chat client (`fvqa.models.client.ChatClient` has it)."""

    def complete_sync(self, messages: list[dict[str, Any]], *, temperature: float, max_tokens: int) -> Any: ...


class SummaryError(RuntimeError):
    """The summary model gave no usable answer."""


def summary_messages(query: str, title: str, text: str) -> list[dict[str, Any]]:
    """The chat messages that ask a model for one page's summary."""
    user = SUMMARY_USER_TEMPLATE.format(query=query, title=title or "(untitled)", text=text)
    return [{"role": "system", "content": SUMMARY_SYSTEM_PROMPT}, {"role": "user", "content": user}]


class LLMSummarizer:
    """Summaries written by a chat model at temperature 0, clipped to five sentences."""

    def __init__(
        self, client: ChatLike, *, model: str | None = None, max_tokens: int = 300, max_input_chars: int = 12_000
    ):
        self.client = client
        config = getattr(client, "config", None)
        self.model = model or getattr(client, "model", None) or getattr(config, "model", None) or type(client).__name__
        self.max_tokens = max_tokens
        self.max_input_chars = max_input_chars

    def params(self) -> dict[str, Any]:
        prompt = hashlib.sha256((SUMMARY_SYSTEM_PROMPT + SUMMARY_USER_TEMPLATE).encode()).hexdigest()[:16]
        return {"kind": "llm", "model": str(self.model), "prompt": prompt, "max_tokens": self.max_tokens,
                "max_input_chars": self.max_input_chars}  # fmt: skip

    def summarize(self, query: str, title: str, text: str) -> str:
        messages = summary_messages(query, title, text[: self.max_input_chars])
        result = self.client.complete_sync(messages, temperature=0, max_tokens=self.max_tokens)
        error = getattr(result, "error", None)
        if error is not None:
            raise SummaryError(f"the summary model failed: {getattr(error, 'message', error)}")
        summary = clip_sentences(_LABEL.sub("", _THINKING.sub("", getattr(result, "text", None) or "")))
        if not summary:
            raise SummaryError("the summary model returned no text")
        return summary


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _parallel(function: Callable[[T], R], items: Sequence[T], workers: int = 8) -> list[R]:
    """``[function(x) for x in items]``, run on a few threads, in order."""
    if len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="fvqa-web") as pool:
        return list(pool.map(function, items))


def image_urls_from_samples(samples: Iterable[Sample]) -> dict[str, str]:
    """The sha256 -> public URL lookup for every sample that has an ``image_url``."""
    return {s.image_sha256: s.image_url for s in samples if s.image_url}


class SerpApiImageSearch:
    """Google Lens through SerpApi: pages whose image looks like the query image, with thumbnails."""

    name = "serpapi_google_lens"

    def __init__(
        self,
        image_urls: ImageUrls | None = None,
        *,
        api: SerpApiClient | None = None,
        hl: str | None = "en",
        country: str | None = None,
        limits: FetchLimits | None = None,
    ) -> None:
        self.image_urls: ImageUrls = image_urls if image_urls is not None else {}
        self.api = api or SerpApiClient()
        self.hl, self.country = hl, country
        self.limits = limits or FetchLimits()

    def params(self) -> dict[str, Any]:
        return {
            "provider": "serpapi",
            "engine": "google_lens",
            "hl": self.hl,
            "country": self.country,
            "thumbnail_max_side": self.limits.thumbnail_max_side,
        }

    def image_url(self, sha256: str) -> str | None:
        """The public URL known for the image with this sha256, if any."""
        if isinstance(self.image_urls, Mapping):
            return self.image_urls.get(sha256)
        return self.image_urls(sha256)

    def search_image(self, image: bytes, k: int) -> list[WebPage]:
        digest = hashlib.sha256(image).hexdigest()
        url = self.image_url(digest)
        if not url:
            raise SearchFailure(
                SearchErrorKind.NOT_CONFIGURED,
                f"web image search needs the image's public URL; none is known for image {digest[:12]}"
                " (give SerpApiImageSearch the samples' image_url values)",
            )
        return self.search_image_url(url, k)

    def search_image_url(self, url: str, k: int) -> list[WebPage]:
        """Search by the image at a public URL (what Google Lens needs)."""
        if not url.startswith(("http://", "https://")):
            raise SearchFailure(SearchErrorKind.BAD_INPUT, "the image URL must be a public http(s) URL")
        data = self.api.search({"engine": "google_lens", "url": url, "hl": self.hl, "country": self.country})
        matches = [m for m in data.get("visual_matches") or [] if isinstance(m, dict)]
        matches = [m for m in matches if _text(m.get("title")) and _text(m.get("link"))][:k]

        def thumbnail(match: dict[str, Any]) -> bytes | None:
            return fetch_thumbnail(
                self.api.http, _text(match.get("thumbnail")) or _text(match.get("image")), self.limits
            )

        thumbnails = _parallel(thumbnail, matches)
        return [
            WebPage(title=_text(m["title"]), url=_text(m["link"]), thumbnail=thumb)
            for m, thumb in zip(matches, thumbnails, strict=True)
        ]


class SerpApiTextSearch:
    """Google through SerpApi: the top pages for a query, each read and summarised."""

    name = "serpapi_google"

    def __init__(
        self,
        summarizer: Summarizer | None = None,
        *,
        api: SerpApiClient | None = None,
        hl: str | None = "en",
        gl: str | None = "us",
        location: str | None = None,
        limits: FetchLimits | None = None,
    ) -> None:
        self.summarizer: Summarizer = summarizer or SnippetSummarizer()
        self.api = api or SerpApiClient()
        self.hl, self.gl, self.location = hl, gl, location
        self.limits = limits or FetchLimits()

    def params(self) -> dict[str, Any]:
        return {
            "provider": "serpapi",
            "engine": "google",
            "hl": self.hl,
            "gl": self.gl,
            "location": self.location,
            "summarizer": summarizer_params(self.summarizer),
            "max_page_chars": self.limits.max_page_chars,
        }

    def search_text(self, query: str, k: int) -> list[WebPage]:
        query = query.strip()
        if not query:
            raise SearchFailure(SearchErrorKind.BAD_INPUT, "the query is empty")
        request = {"engine": "google", "q": query, "hl": self.hl, "gl": self.gl, "location": self.location}
        data = self.api.search(request)
        hits = [h for h in data.get("organic_results") or [] if isinstance(h, dict)]
        hits = [h for h in hits if _text(h.get("title")) and _text(h.get("link"))][:k]
        return _parallel(lambda hit: self._page(query, hit), hits)

    def _page(self, query: str, hit: dict[str, Any]) -> WebPage:
        title, link, snippet = _text(hit["title"]), _text(hit["link"]), _text(hit.get("snippet"))
        try:
            page_text = fetch_page_text(self.api.http, link, self.limits)
        except FetchError as err:
            _LOG.debug("page not read, summarising the snippet only: %s", err)
            page_text = ""
        text = "\n".join(part for part in (snippet, page_text) if part)
        try:
            summary = self.summarizer.summarize(query, title, text) if text else ""
        except Exception as err:  # a failed summary must not fail the search: fall back to the snippet
            _LOG.warning("summarizer failed for a result of %r, using the snippet: %s", query[:80], err)
            summary = ""
        if not summary.strip():
            summary = SnippetSummarizer().summarize(query, title, text)
        return WebPage(title=title, url=link, summary=clip_sentences(summary, MAX_SUMMARY_SENTENCES))
