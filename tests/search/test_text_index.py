"""Local text search: BM25 finds the right passage, hostile queries never raise, summaries are short."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fvqa.search.corpus import IndexFormatError
from fvqa.search.local import LocalTextSearch, build_indexes
from fvqa.search.text_index import MAX_QUERY_TERMS, TextIndex, summarize
from fvqa.search.tools import TextSearchTool
from fvqa.search.types import SearchErrorKind, SearchFailure

ROOT = Path(__file__).resolve().parents[2]

PASSAGES = [
    (
        "collins",
        "Eileen Collins, Shuttle pilot",
        "Eileen Collins became the first woman to pilot a Space Shuttle "
        "on STS-63 in 1995. She later commanded STS-93 aboard Columbia in 1999.",
    ),
    (
        "ride",
        "Sally Ride",
        "Sally Ride was the first American woman in space, flying aboard Challenger on STS-7 "
        "in June 1983. She was a physicist and later taught at the University of California, San Diego.",
    ),
    (
        "falcon9",
        "Falcon 9 rocket",
        "Falcon 9 is a two-stage rocket designed and manufactured by SpaceX. Its first "
        "stage lands on a drone ship or a landing pad so that it can be flown again.",
    ),
    (
        "falcon1",
        "Falcon 1",
        "Falcon 1 was a small launch vehicle built by SpaceX. In September 2008 it became the "
        "first privately developed liquid-fuel rocket to reach orbit.",
    ),
    (
        "dscovr",
        "DSCOVR satellite",
        "The Deep Space Climate Observatory watches the solar wind from the Sun-Earth "
        "L1 point. It was launched on a Falcon 9 from Cape Canaveral in February 2015.",
    ),
    (
        "summer-palace",
        "The Summer Palace, Beijing",
        "The Summer Palace is an imperial garden in Beijing, dominated "
        "by Longevity Hill and Kunming Lake. The Tower of Buddhist Incense stands on Longevity Hill.",
    ),
    (
        "old-palace",
        "Old Summer Palace",
        "The Old Summer Palace, Yuanmingyuan, was looted and burned in 1860 by "
        "British and French troops. Its ruins are now a public park.",
    ),
    (
        "hopper",
        "Grace Hopper",
        "Grace Hopper was a United States Navy rear admiral and a pioneer of computer "
        "programming. She developed the first compiler and helped create COBOL.",
    ),
    (
        "espresso",
        "Espresso",
        "Espresso is coffee brewed by forcing hot water under pressure through finely ground "
        "beans. It is served in small cups, often with a layer of crema.",
    ),
    (
        "hubble",
        "Hubble Deep Field",
        "The Hubble Deep Field is an image of a small region of the constellation Ursa "
        "Major taken over ten days in December 1995. It shows about 3,000 galaxies.",
    ),
    (
        "cat",
        "Tabby cats",
        "A tabby is a domestic cat with a coat of stripes, dots or swirling patterns, usually "
        "with an M-shaped marking on the forehead.",
    ),
    (
        "moon",
        "The Moon",
        "The Moon is Earth's only natural satellite. Its surface is covered with craters, and its "
        "dark plains, the maria, are ancient lava flows.",
    ),
]

QUERIES = {
    "first woman to pilot the Space Shuttle": "collins",
    "Who was the first American woman in space?": "ride",
    "SpaceX rocket whose first stage lands on a drone ship": "falcon9",
    "first privately developed liquid-fuel rocket to reach orbit": "falcon1",
    "solar wind observatory at L1": "dscovr",
    "Tower of Buddhist Incense Longevity Hill": "summer-palace",
    "Yuanmingyuan looted burned 1860": "old-palace",
    "who developed the first compiler? COBOL": "hopper",
    "coffee brewed under pressure crema": "espresso",
    "how many galaxies are in the Hubble Deep Field": "hubble",
    "M-shaped marking forehead striped cat": "cat",
    "maria lava flows craters": "moon",
    "launches from Cape Canaveral": "dscovr",
}

HOSTILE = [
    '"',
    '"unbalanced quote',
    "AND OR (",
    "title:foo",
    "text:[a TO z]",
    "*",
    "+-!(){}[]^~*?:\\/",
    "a" * 2000,
    "rocket " * 400,
    "🚀🛰️🌕",
    "Falcon 9 🚀 launch?",
    "NOT",
    "\x00\x01 control",
    "SELECT * FROM passages; --",
    "émigré naïve Straße 北京",
]


@pytest.fixture(scope="module")
def text_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    corpus = tmp_path_factory.mktemp("text-corpus")
    with (corpus / "passages.jsonl").open("w", encoding="utf-8") as handle:
        for pid, title, text in PASSAGES:
            row = {"id": pid, "url": f"https://text.example/{pid}", "title": title, "text": text}
            handle.write(json.dumps(row) + "\n")
    build_indexes(corpus)
    return corpus / "index"


@pytest.fixture(scope="module")
def backend(text_index: Path) -> LocalTextSearch:
    return LocalTextSearch(text_index)


@pytest.mark.parametrize(("query", "expected"), QUERIES.items())
def test_queries_find_their_passage_first(backend, query, expected):
    hits = backend.search_text(query, 5)
    assert hits and hits[0].url == f"https://text.example/{expected}", [h.title for h in hits]


def test_hits_have_title_url_summary_and_falling_scores(backend):
    hits = backend.search_text("Falcon rocket SpaceX", 3)
    assert len(hits) == 3 and all(h.summary and h.title and h.url.startswith("https://") for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert {h.url for h in hits[:2]} == {"https://text.example/falcon9", "https://text.example/falcon1"}


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_never_raise(backend, query):
    hits = backend.search_text(query, 5)
    assert isinstance(hits, list) and len(hits) <= 5
    result = TextSearchTool(backend)(query)
    assert result.ok, result.error


def test_query_terms_are_capped(text_index):
    index = TextIndex(text_index / "text")
    assert len(index.terms(" ".join(f"word{n}" for n in range(500)))) == MAX_QUERY_TERMS
    assert index.terms("Launches LAUNCHED launch") == ["launch"]


def test_empty_query_is_bad_input(backend):
    for query in ("", "   \n"):
        with pytest.raises(SearchFailure) as caught:
            backend.search_text(query, 5)
        assert caught.value.kind is SearchErrorKind.BAD_INPUT
    assert backend.search_text("?!", 5) == []


def test_a_fresh_process_gets_identical_results(backend, text_index):
    queries = list(QUERIES)[:5]
    script = (
        "import json, sys\nfrom fvqa.search.local import LocalTextSearch\n"
        "b = LocalTextSearch(sys.argv[1])\n"
        "print(json.dumps([[(p.url, p.score, p.summary) for p in b.search_text(q, 5)] for q in sys.argv[2:]]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(text_index), *queries], capture_output=True, text=True, check=True, cwd=ROOT
    )
    here = [[[p.url, p.score, p.summary] for p in backend.search_text(q, 5)] for q in queries]
    assert json.loads(out.stdout) == here


def test_corrupt_or_missing_manifest_is_a_clear_error(text_index, tmp_path):
    with pytest.raises(IndexFormatError, match=r"manifest\.json is missing"):
        LocalTextSearch(tmp_path)
    copy = tmp_path / "copy"
    shutil.copytree(text_index / "text", copy)
    (copy / "manifest.json").write_text("][")
    with pytest.raises(IndexFormatError, match="corrupt"):
        LocalTextSearch(copy)


def test_params_name_the_index_content(backend, text_index):
    params = backend.params()
    assert params["index"].startswith("sha256:") and params == LocalTextSearch(text_index).params()


def test_summary_keeps_at_most_five_sentences_and_600_characters():
    text = " ".join(f"Sentence number {n} says something." for n in range(1, 10))
    summary = summarize(text)
    assert summary.count(".") == 5 and summary.endswith("5 says something.")
    long = " ".join(["A sentence that is long enough to matter here and there."] * 20)
    assert len(summarize(long)) <= 600 and summarize(long).endswith(".")
    assert summarize("Eileen M. Collins flew with Dr. Ride. Second one.", max_sentences=1) == (
        "Eileen M. Collins flew with Dr. Ride."
    )
    run_on = "word " * 400
    cut = summarize(run_on)
    assert len(cut) <= 600 and cut.endswith("…") and not cut.startswith(" ")
    assert summarize("") == "" and summarize("  No full stop at the end  ") == "No full stop at the end"
