"""HTTP for the web search backends: the SerpApi client, result pages as text, thumbnails.

`SerpApiClient` maps every provider or network failure to a `SearchFailure` and keeps the API
key out of what it produces: its messages are redacted, and a logging filter scrubs the
request lines httpx logs (they print the query string, key included). Page and thumbnail
fetches are bounded (timeout, byte limit, a few redirects, http(s) only) and never fail a
search; thumbnails are decoded by `fvqa.images` and re-encoded as small JPEGs.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import httpx

from fvqa.images import decode_image, make_thumbnail
from fvqa.search.types import SearchErrorKind, SearchFailure

_LOG = logging.getLogger(__name__)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
"""Content types read as pages; anything else (PDF, images, JSON) gives no page text."""

_SKIPPED_TAGS = frozenset(
    {"script", "style", "noscript", "template", "svg", "nav", "footer", "aside", "form", "button"}
)
_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "li", "ul", "ol", "tr", "td", "th", "table", "section", "article", "main", "header",
     "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "dd", "dt", "figcaption", "caption"}
)  # fmt: skip
_SPACES = re.compile(r"[ \t\r\f\v]+")

SERPAPI_URL = "https://serpapi.com"
DEFAULT_KEY_ENV = "SERPAPI_API_KEY"
_NO_RESULTS = "hasn't returned any results"  # SerpApi's `error` text for an empty result page
_KEY_IN_TEXT = re.compile(r"(api_key=)[^&\s\"'<>]+", re.IGNORECASE)
_HTTP_LOGGERS = ("httpx", "httpcore", "httpcore.connection", "httpcore.http11", "httpcore.http2", __name__)
_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()


@dataclass(frozen=True)
class FetchLimits:
    """Bounds on fetching result pages and thumbnails."""

    timeout_s: float = 10.0
    max_page_bytes: int = 2 * 2**20  # a longer page is cut (its start is what a summary needs)
    max_thumbnail_bytes: int = 4 * 2**20  # a larger thumbnail is dropped
    thumbnail_max_side: int = 256
    max_page_chars: int = 20_000  # extracted text kept per page: the most a summarizer sees


class FetchError(Exception):
    """A page or image could not be fetched; the message names the URL's host, never its query."""


def describe_url(url: str | httpx.URL) -> str:
    """The scheme, host and path of a URL, without its query string (which may hold secrets)."""
    parts = urlsplit(str(url))
    return f"{parts.scheme}://{parts.hostname or ''}{parts.path}"


def _read_capped(response: httpx.Response, max_bytes: int) -> tuple[bytes, bool]:
    """At most ``max_bytes`` of a streamed body, and whether it was longer."""
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            return b"".join(chunks)[:max_bytes], True
    return b"".join(chunks), False


def read_limited(
    client: httpx.Client, url: str, max_bytes: int, timeout_s: float, *, truncate: bool
) -> tuple[bytes, str, str | None]:
    """GET ``url`` following redirects; the body (at most ``max_bytes``), its media type and charset.

    With ``truncate`` a longer body is cut; without, it raises FetchError. Raises FetchError for
    a non-http(s) URL, a transport failure or a status other than 200.
    """
    if urlsplit(url).scheme not in ("http", "https"):
        raise FetchError(f"not an http(s) URL: {describe_url(url)}")
    try:
        with client.stream("GET", url, follow_redirects=True, timeout=timeout_s) as response:
            if response.status_code != 200:
                raise FetchError(f"{describe_url(url)} answered HTTP {response.status_code}")
            media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            declared = response.headers.get("content-length", "")
            if not truncate and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"{describe_url(url)} is {int(declared):,} bytes, over {max_bytes:,}")
            body, cut = _read_capped(response, max_bytes)
            if cut and not truncate:
                raise FetchError(f"{describe_url(url)} is over {max_bytes:,} bytes")
            return body, media_type, response.charset_encoding
    except (httpx.HTTPError, httpx.InvalidURL) as err:
        raise FetchError(f"{describe_url(url)}: {type(err).__name__}") from None


class _TextExtractor(HTMLParser):
    """Collects a page's title and visible text, skipping scripts, styles and navigation."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title_parts: list[str] = []
        self.parts: list[str] = []
        self._skip_depth = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth += 1
        elif tag == "title":
            self._in_title = True
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS and self._skip_depth:
            self._skip_depth -= 1
        elif tag == "title":
            self._in_title = False
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)
        elif not self._skip_depth:
            self.parts.append(data)


def html_to_text(html: str) -> tuple[str, str]:
    """The title and the readable text of an HTML document, one paragraph per line."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except Exception as err:  # html.parser is lenient; keep whatever was read before a failure
        _LOG.debug("HTML parsing stopped early: %s", err)
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(parser.parts).split("\n"))
    title = _SPACES.sub(" ", "".join(parser.title_parts)).strip()
    return title, "\n".join(line for line in lines if line)


def fetch_page_text(client: httpx.Client, url: str, limits: FetchLimits) -> str:
    """The readable text of the HTML page at ``url`` ("" for a non-HTML page); raises FetchError."""
    body, media_type, charset = read_limited(client, url, limits.max_page_bytes, limits.timeout_s, truncate=True)
    if media_type not in HTML_TYPES:
        _LOG.debug("skipping %s: content type %r is not HTML", describe_url(url), media_type)
        return ""
    try:
        html = body.decode(charset or "utf-8", errors="replace")
    except LookupError:  # an unknown charset name in the header
        html = body.decode("utf-8", errors="replace")
    return html_to_text(html)[1][: limits.max_page_chars]


def fetch_thumbnail(client: httpx.Client, url: str, limits: FetchLimits) -> bytes | None:
    """A JPEG thumbnail of the image at ``url``, or None when it cannot be fetched or decoded."""
    if not url:
        return None
    try:
        body, _, _ = read_limited(client, url, limits.max_thumbnail_bytes, limits.timeout_s, truncate=False)
        decoded = decode_image(body, source=describe_url(url))
        return make_thumbnail(decoded.image, limits.thumbnail_max_side)
    except (FetchError, ValueError) as err:  # ImageDecodeError is a ValueError
        _LOG.debug("no thumbnail: %s", err)
        return None


def redact(text: str, *secrets: str) -> str:
    """``text`` with every known API key and any ``api_key=...`` query value replaced by ***."""
    for secret in {*_SECRETS, *secrets}:
        if secret:
            text = text.replace(secret, "***")
    return _KEY_IN_TEXT.sub(r"\1***", text)


class _RedactingFilter(logging.Filter):
    """Scrubs API keys from records of the HTTP libraries' loggers before any handler sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's business, not ours
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


_FILTER = _RedactingFilter()


def _protect(secret: str) -> None:
    """Remember a key so that `redact` and the log filter remove it."""
    with _SECRETS_LOCK:
        _SECRETS.add(secret)
        for name in _HTTP_LOGGERS:
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)


class SerpApiClient:
    """SerpApi's ``/search.json`` behind one `httpx.Client`; every failure is a `SearchFailure`.

    ``base_url`` points the same code at a local fake provider in tests. The same client also
    fetches result pages and thumbnails (absolute URLs, sent without the key).
    """

    def __init__(
        self,
        *,
        base_url: str = SERPAPI_URL,
        key_env: str = DEFAULT_KEY_ENV,
        timeout_s: float = 30.0,
        max_response_bytes: int = 8 * 2**20,
        max_redirects: int = 3,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.key_env, self.timeout_s, self.max_response_bytes = key_env, timeout_s, max_response_bytes
        headers = {"User-Agent": "fvqa-web-search/0.1", "Accept": "application/json, text/html;q=0.9, */*;q=0.5"}
        self.http = httpx.Client(base_url=base_url, transport=transport, max_redirects=max_redirects, headers=headers)

    def close(self) -> None:
        self.http.close()

    def _key(self) -> str:
        key = os.environ.get(self.key_env, "").strip()
        if not key:
            hint = f"set {self.key_env} to a SerpApi API key to use web search (https://serpapi.com/manage-api-key)"
            raise SearchFailure(SearchErrorKind.NOT_CONFIGURED, hint)
        _protect(key)
        return key

    def search(self, params: Mapping[str, str | None]) -> dict[str, Any]:
        """One search; the provider's JSON object (empty when the provider found nothing)."""
        key = self._key()
        engine = params.get("engine") or "?"
        query = {name: value for name, value in params.items() if value is not None}
        _LOG.debug("SerpApi %s search", engine)
        failure: SearchFailure | None = None  # raised after the except block: no httpx error as its context
        try:
            with self.http.stream("GET", "/search.json", params={**query, "api_key": key}, timeout=self.timeout_s) as r:
                body, cut = _read_capped(r, self.max_response_bytes)
            if cut:
                too_big = f"SerpApi's {engine} answer is over {self.max_response_bytes:,} bytes"
                raise SearchFailure(SearchErrorKind.BAD_RESPONSE, too_big)
        except httpx.TimeoutException:
            message = f"SerpApi ({engine}) did not answer within {self.timeout_s:g} s"
            failure = SearchFailure(SearchErrorKind.TIMEOUT, message)
        except httpx.HTTPError as err:
            message = redact(f"could not reach SerpApi ({engine}): {type(err).__name__}: {err}", key)
            failure = SearchFailure(SearchErrorKind.UNAVAILABLE, message)
        if failure is not None:
            raise failure
        return self._parse(r.status_code, body, engine, key)

    def _parse(self, status: int, body: bytes, engine: str, key: str) -> dict[str, Any]:
        try:
            data: Any = json.loads(body)
        except ValueError:
            data = None
        said = redact(data["error"], key) if isinstance(data, dict) and isinstance(data.get("error"), str) else ""
        detail = f": {said}" if said else ""
        if status == 429:
            raise SearchFailure(SearchErrorKind.RATE_LIMITED, f"SerpApi rate limit or quota reached (HTTP 429){detail}")
        if status >= 500:
            raise SearchFailure(SearchErrorKind.UNAVAILABLE, f"SerpApi is unavailable (HTTP {status}){detail}")
        if status in (401, 403):
            message = f"SerpApi refused the key in {self.key_env} (HTTP {status}){detail}"
            raise SearchFailure(SearchErrorKind.NOT_CONFIGURED, message)
        if status != 200:
            raise SearchFailure(SearchErrorKind.BAD_RESPONSE, f"SerpApi answered HTTP {status}{detail}")
        if not isinstance(data, dict):
            raise SearchFailure(SearchErrorKind.BAD_RESPONSE, f"SerpApi's {engine} answer is not a JSON object")
        if said:
            if _NO_RESULTS in said:
                return {}
            raise SearchFailure(SearchErrorKind.BAD_RESPONSE, f"SerpApi reported an error: {said}")
        meta = data.get("search_metadata")
        if isinstance(meta, dict) and meta.get("status") == "Error":
            raise SearchFailure(SearchErrorKind.BAD_RESPONSE, f"SerpApi's {engine} search ended with status Error")
        return data
