"""A persistent BM25 text index on tantivy: title and text searched, id, url, title and text stored.

Folder layout (manifest written last)::

    manifest.json   format, analyzer, corpus hash, counts, content hash
    tantivy/        the tantivy index

Queries come from a model and may hold anything (quotes, operators, field syntax, emoji,
thousands of characters), so they never reach tantivy's query parser: the query is cut into
terms with the same analyzer that indexed the text (simple tokenizer, lower case, ASCII
folding, English stemming) and the terms are OR-ed, each searched in the text and, at half
weight, in the title. Every query therefore either returns hits or an empty list.

Extension point: `TextIndex.search` returns more candidates than asked when given
``candidates``, so a re-ranker (e.g. a small embedding model) can reorder them later.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tantivy

from fvqa.search.corpus import CorpusReport, IndexFormatError, Passage, read_manifest

FORMAT = "fvqa-text-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
TANTIVY_DIR = "tantivy"
ANALYZER = "fvqa_en_v1"
TITLE_BOOST = 0.5
"""Weight of a title match against a text match. On the demo world's 68 questions with passage
evidence, hit@1 was 40 at 0.5, 41 at 0 (text only), 38 at 1 and 34 at 2: titles help little and
a strong boost lets short titles that merely share a word win."""
MAX_QUERY_TERMS = 64
SUMMARY_SENTENCES = 5
SUMMARY_CHARS = 600

_BOUNDARY = re.compile(r"[.!?][\"'\u201d)\]]*\s+")
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "no", "vs", "etc", "inc", "co", "ltd", "lt", "col", "gen", "gov"}
    | {"sen", "rep", "mt", "ft", "fig", "approx", "dept", "est", "e.g", "i.e", "ca", "cf"}
)


def analyzer() -> tantivy.TextAnalyzer:
    """Words (letters and digits), at most 40 bytes, lower-cased, ASCII-folded, English-stemmed."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("url", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", stored=True, tokenizer_name=ANALYZER)
    builder.add_text_field("text", stored=True, tokenizer_name=ANALYZER)
    return builder.build()


def summarize(text: str, max_sentences: int = SUMMARY_SENTENCES, max_chars: int = SUMMARY_CHARS) -> str:
    """The first whole sentences of ``text`` (at most ``max_sentences``, at most ``max_chars``).

    When even the first sentence is too long it is cut at a word boundary and ends with "…".
    """
    clean = " ".join(text.split())
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(clean):
        words = clean[start : match.start()].split()
        last = words[-1].lower().rstrip(".") if words else ""
        if last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha()):
            continue  # "Eileen M. Collins", "Dr. Ride": not the end of a sentence
        sentences.append(clean[start : match.end()].strip())
        start = match.end()
    if start < len(clean):
        sentences.append(clean[start:])
    summary = ""
    for sentence in sentences[:max_sentences]:
        longer = f"{summary} {sentence}".strip()
        if len(longer) > max_chars:
            break
        summary = longer
    if summary or not clean:
        return summary
    cut = clean[: max_chars - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(",;:-") + "…"


@dataclass(frozen=True)
class TextHit:
    id: str
    url: str
    title: str
    text: str
    score: float

    @property
    def summary(self) -> str:
        return summarize(self.text)


def build_text_index(
    passages: Iterable[Passage],
    folder: str | Path,
    *,
    report: CorpusReport,
    corpus: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
    heap_bytes: int = 128 * 2**20,
) -> dict[str, Any]:
    """Index ``passages`` into the empty or new ``folder``; returns the manifest (written last)."""
    folder = Path(folder)
    (folder / TANTIVY_DIR).mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).unlink(missing_ok=True)
    index = tantivy.Index(_schema(), path=str(folder / TANTIVY_DIR), reuse=False)
    index.register_tokenizer(ANALYZER, analyzer())
    writer = index.writer(heap_size=heap_bytes, num_threads=1)
    content = hashlib.sha256(ANALYZER.encode())
    count = 0
    for count, passage in enumerate(passages, start=1):
        writer.add_document(tantivy.Document(id=passage.id, url=passage.url, title=passage.title, text=passage.text))
        content.update(json.dumps([passage.id, passage.url, passage.title, passage.text]).encode())
        if progress is not None:
            progress(count)
    writer.commit()
    writer.wait_merging_threads()
    manifest = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "analyzer": ANALYZER,
        "corpus": corpus or {},
        "counts": {"passages": count, "skipped": len(report.problems)},
        "content_hash": "sha256:" + content.hexdigest(),
        "built": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


class TextIndex:
    """A loaded text index, searched with BM25 over title and text."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder, FORMAT, FORMAT_VERSION)
        if self.manifest.get("analyzer") != ANALYZER:
            raise IndexFormatError(
                f"{self.folder} was built with analyzer {self.manifest.get('analyzer')!r}, this fvqa uses "
                f"{ANALYZER!r}; rebuild the index (`fvqa search index CORPUS`)"
            )
        try:
            self.index = tantivy.Index.open(str(self.folder / TANTIVY_DIR))
        except (OSError, ValueError) as err:
            raise IndexFormatError(f"{self.folder}: the tantivy index cannot be opened ({err}); rebuild it") from None
        self._analyzer = analyzer()
        self.index.register_tokenizer(ANALYZER, self._analyzer)
        self.schema = self.index.schema
        self.searcher = self.index.searcher()

    @property
    def content_hash(self) -> str:
        return str(self.manifest["content_hash"])

    def terms(self, query: str) -> list[str]:
        """The distinct analysed terms of a query, in order, at most MAX_QUERY_TERMS."""
        return list(dict.fromkeys(self._analyzer.analyze(query)))[:MAX_QUERY_TERMS]

    def _query(self, terms: list[str]) -> tantivy.Query:
        clauses = []
        for term in terms:
            clauses.append((tantivy.Occur.Should, tantivy.Query.term_query(self.schema, "text", term)))
            title = tantivy.Query.term_query(self.schema, "title", term)
            clauses.append((tantivy.Occur.Should, tantivy.Query.boost_query(title, TITLE_BOOST)))
        return tantivy.Query.boolean_query(clauses)

    def search(self, query: str, k: int, *, candidates: int | None = None) -> list[TextHit]:
        """The best ``k`` passages (or ``candidates`` of them, for a re-ranker) for a free-text query."""
        limit = max(k, candidates or 0)
        terms = self.terms(query)
        if limit <= 0 or not terms:
            return []
        found = self.searcher.search(self._query(terms), limit=limit, count=False)
        hits = []
        for score, address in found.hits:
            doc = self.searcher.doc(address)
            fields = {name: (doc.get_first(name) or "") for name in ("id", "url", "title", "text")}
            hits.append(TextHit(score=float(score), **fields))
        return hits
