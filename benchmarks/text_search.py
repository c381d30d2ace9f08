"""Text search benchmark: tantivy (what fvqa uses) against bm25s on 100k synthetic passages.

Passages are seeded and word-realistic: English function words and a long tail of made-up
words drawn with Zipf-like frequencies, 2 to 5 sentences each, with a short title made of
words from its own text (as real titles are). Each of
the 1000 queries takes 3 to 6 words from one passage (its target), so hit@1 is reported as a
sanity check beside build time and per-query latency (one query at a time, as the agent asks).

    .venv/bin/python benchmarks/text_search.py [--passages 100000] [--queries 1000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from fvqa.search.corpus import CorpusReport, Passage
from fvqa.search.text_index import TextIndex, build_text_index

_COMMON_TEXT = (
    "the of and to in a is that for it as was with be by on not he this are or his from at which but have an they "
    "you were her she there would their we him been has when who will more no if out so said what up its about into "
    "than them can only other new some could time these two may then do first any my now such like our over man "
    "even most made after also did many before must through back years where much your way well down should because "
    "each just those people how too little state good very make world still own see men work long get here between "
    "both life being under never day same another know while last might us great old year off come since against go "
    "came right used take three"
)
COMMON = _COMMON_TEXT.split()
ONSETS = ["b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "br", "st", "tr", "ch", "sh"]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "io"]
CODAS = ["", "", "n", "r", "s", "t", "l", "m", "nd", "rt", "st", "ck"]


def vocabulary(rng: np.random.Generator, size: int) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        syllables = rng.integers(1, 4)
        word = "".join(
            ONSETS[rng.integers(len(ONSETS))] + VOWELS[rng.integers(len(VOWELS))] + CODAS[rng.integers(len(CODAS))]
            for _ in range(syllables)
        )
        if len(word) > 2 and word not in COMMON:
            words.add(word)
    return COMMON + sorted(words)


def make_passages(n: int, seed: int = 7) -> list[Passage]:
    rng = np.random.default_rng(seed)
    words = vocabulary(rng, 40_000)
    ranks = np.arange(1, len(words) + 1, dtype=np.float64)
    probs = ranks**-1.07
    probs /= probs.sum()
    draws = iter(rng.choice(len(words), size=n * 80, p=probs))
    passages = []
    for i in range(n):
        sentences = []
        for _ in range(rng.integers(2, 6)):
            count = int(rng.integers(6, 20))
            sentence = " ".join(words[next(draws, 0)] for _ in range(count))
            sentences.append(sentence[0].upper() + sentence[1:] + ".")
        text = " ".join(sentences)
        content = [w.strip(".").lower() for w in text.split() if w.strip(".").lower() not in COMMON]
        title = " ".join(rng.choice(content, size=min(len(content), int(rng.integers(2, 6))), replace=False))
        passages.append(Passage(f"p{i}", f"https://bench.example/{i}", title.title(), text, i))
    return passages


def make_queries(passages: list[Passage], n: int, seed: int = 11) -> list[tuple[str, int]]:
    rng = np.random.default_rng(seed)
    queries = []
    for _ in range(n):
        target = int(rng.integers(len(passages)))
        tokens = [w.strip(".").lower() for w in passages[target].text.split()]
        content = [w for w in tokens if w not in COMMON] or tokens
        picked = rng.choice(content, size=min(len(content), int(rng.integers(3, 7))), replace=False)
        queries.append((" ".join(picked), target))
    return queries


def percentiles(times: list[float]) -> tuple[float, float]:
    ms = sorted(t * 1000 for t in times)
    return statistics.median(ms), ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]


def bench_tantivy(passages: list[Passage], queries: list[tuple[str, int]], folder: Path) -> dict[str, float]:
    start = time.perf_counter()
    build_text_index(passages, folder, report=CorpusReport())
    index = TextIndex(folder)
    build = time.perf_counter() - start
    times, hits = [], 0
    for query, target in queries:
        t = time.perf_counter()
        found = index.search(query, 5)
        times.append(time.perf_counter() - t)
        hits += bool(found) and found[0].id == f"p{target}"
    p50, p99 = percentiles(times)
    return {"build_s": build, "p50_ms": p50, "p99_ms": p99, "hit1": hits / len(queries), "total_s": sum(times)}


def bench_bm25s(passages: list[Passage], queries: list[tuple[str, int]]) -> dict[str, float]:
    import bm25s

    start = time.perf_counter()
    tokens = bm25s.tokenize([f"{p.title} {p.text}" for p in passages], stopwords="en", show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    build = time.perf_counter() - start
    times, hits = [], 0
    for query, target in queries:
        t = time.perf_counter()
        q = bm25s.tokenize([query], stopwords="en", show_progress=False)
        docs, _ = retriever.retrieve(q, k=5, show_progress=False, n_threads=1)
        times.append(time.perf_counter() - t)
        hits += int(docs[0][0]) == target
    p50, p99 = percentiles(times)
    return {"build_s": build, "p50_ms": p50, "p99_ms": p99, "hit1": hits / len(queries), "total_s": sum(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()
    t = time.perf_counter()
    passages = make_passages(args.passages)
    queries = make_queries(passages, args.queries)
    words = sum(len(p.text.split()) for p in passages) / len(passages)
    made = time.perf_counter() - t
    print(f"corpus: {len(passages):,} passages, {words:.0f} words each on average (made in {made:.1f} s)")
    print(f"queries: {len(queries):,}, one at a time, top 5")
    with tempfile.TemporaryDirectory() as tmp:
        results = {"tantivy": bench_tantivy(passages, queries, Path(tmp) / "tantivy")}
    results["bm25s"] = bench_bm25s(passages, queries)
    print(f"{'engine':8} {'build s':>8} {'p50 ms':>8} {'p99 ms':>8} {'all queries s':>14} {'hit@1':>6}")
    for name, r in results.items():
        row = f"{r['build_s']:8.2f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['total_s']:14.2f} {r['hit1']:6.3f}"
        print(f"{name:8} {row}")
    tan, bm = results["tantivy"], results["bm25s"]
    print(f"bm25s / tantivy: build x{bm['build_s'] / tan['build_s']:.1f}, p50 x{bm['p50_ms'] / tan['p50_ms']:.1f}")
    verdict = "met" if tan["p50_ms"] < 5 else "MISSED"
    print(f"target tantivy p50 < 5 ms: {verdict} ({tan['p50_ms']:.2f} ms)")


if __name__ == "__main__":
    main()
