"""Image search benchmark: top-5 latency over a 100k-vector index and top-1 accuracy on edited photos.

The index holds the real demo-world photos plus 100k distractor vectors, in the on-disk
format `fvqa.search.image_index.ImageIndex` loads (features memory-mapped). Two kinds of
distractors are measured: random unit vectors (as asked) and, harder, random vectors shaped
like real features (non-negative, per-dimension mean and spread of the real ones); for the
pHash baseline, random 64-bit hashes. Queries are edited copies of the photos (crops,
mirror, rotation, colour shift, rescale, JPEG); a query is right when its source photo is
the best picture. Feature extraction (decode, resize, network passes) is timed separately.
Search is timed both ways: two-stage (what the index does from 16k rows on: a pass over
256-d projected rows, then exact cosine for the candidates) and exact (every row).

    .venv/bin/python benchmarks/image_search.py [--distractors 100000]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.search.perturbations

from fvqa.images import decode_image
from fvqa.search.image_features import PHASH, ImageEncoder, PHashEncoder, encoder_id, load_encoder
from fvqa.search.image_index import (
    FEATURES,
    FORMAT,
    FORMAT_VERSION,
    IMAGES,
    MANIFEST,
    PAGES,
    THUMBNAILS,
    ImageIndex,
    write_coarse,
)
from tests.search.perturbations import PERTURBATIONS

EDITS: dict[str, Callable[[Image.Image], Image.Image]] = {k: v for k, v in PERTURBATIONS.items() if k != "same"}


def demo_photos(folder: Path) -> dict[str, Image.Image]:
    from fvqa.demo.world import build_world

    manifest = build_world(folder)
    return {p["id"]: decode_image((folder / p["file"]).read_bytes()).image for p in manifest["photos"]}


def write_index(folder: Path, encoder: ImageEncoder, real: np.ndarray, distractors: np.ndarray) -> None:
    """An index folder of the real vectors first, then the distractors (no thumbnails)."""
    folder.mkdir(parents=True)
    features = np.concatenate([real, distractors]).astype(np.float32)
    np.save(folder / FEATURES, features)
    n = len(features) // encoder.views
    with (folder / PAGES).open("w") as pages, (folder / IMAGES).open("w") as images:
        for i in range(n):
            pages.write(json.dumps({"id": f"p{i}", "url": f"https://bench.example/{i}", "title": f"t{i}", "image": i}))
            images.write(json.dumps({"sha256": "", "file": "", "width": 1, "height": 1, "offset": 0, "length": 0}))
            pages.write("\n")
            images.write("\n")
    (folder / THUMBNAILS).write_bytes(b"")
    encoder_row = {"name": encoder.name, "version": encoder.version, "dim": encoder.dim, "views": encoder.views}
    coarse = write_coarse(folder, features)
    manifest = {"format": FORMAT, "version": FORMAT_VERSION, "encoder": encoder_row, "counts": {"pages": n}}
    manifest["coarse"] = coarse
    (folder / MANIFEST).write_text(json.dumps({**manifest, "content_hash": "bench"}))


def distractors(kind: str, real: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    dim = real.shape[1]
    if kind == "random 64-bit hash":  # what other pictures look like to the perceptual hash
        return np.where(rng.random((n, dim)) < 0.5, -1.0, 1.0).astype(np.float32) / np.sqrt(dim)
    if kind == "random unit":
        raw = rng.standard_normal((n, dim), dtype=np.float32)
    else:  # shaped like real features: non-negative, per-dimension mean and spread of the real ones
        raw = np.abs(real.mean(0) + real.std(0) * rng.standard_normal((n, dim), dtype=np.float32))
    return raw / np.linalg.norm(raw, axis=1, keepdims=True)


def pct(values: list[float]) -> tuple[float, float]:
    ms = sorted(v * 1000 for v in values)
    return statistics.median(ms), ms[round(0.99 * (len(ms) - 1))]


def run(encoder: ImageEncoder, photos: dict[str, Image.Image], n_distractors: int, tmp: Path) -> None:
    names = list(photos)
    real = encoder.index_vectors([photos[n] for n in names])
    queries, truth, extract = [], [], []
    for i, name in enumerate(names):
        for label, edit in EDITS.items():
            buffer = io.BytesIO()
            edit(photos[name]).save(buffer, "PNG", compress_level=1)
            start = time.perf_counter()
            vector = encoder.query_vector(decode_image(buffer.getvalue()).image)
            extract.append(time.perf_counter() - start)
            queries.append(vector)
            truth.append((i, label))
    p50, p99 = pct(extract)
    print(f"  query feature extraction (decode + {encoder.name}): p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    rng = np.random.default_rng(3)
    kinds = ("random 64-bit hash",) if encoder.name == PHASH else ("random unit", "feature-shaped")
    for kind in kinds:
        folder = tmp / f"{encoder.name}-{kind.replace(' ', '-')}"
        noise = distractors(kind, real, n_distractors * encoder.views, rng)
        write_index(folder, encoder, real, noise)
        start = time.perf_counter()
        index = ImageIndex(folder)
        loaded = time.perf_counter() - start
        shape = f"{index.features.shape[0]:,} vectors x {index.features.shape[1]}"
        print(f"  {kind} distractors: {shape}, load {loaded:.2f} s")
        coarse = index.coarse
        for mode, layer in [("two-stage", coarse), ("exact", None)] if coarse is not None else [("exact", None)]:
            index.coarse = layer  # None: score every row
            measure(index, mode, queries, truth, len(names))


def measure(index: ImageIndex, mode: str, queries: list[np.ndarray], truth: list[tuple[int, str]], n: int) -> None:
    right: dict[str, int] = dict.fromkeys(EDITS, 0)
    latency = []
    for _ in range(1000 // len(queries) + 1):
        for vector, (source, label) in zip(queries, truth, strict=True):
            start = time.perf_counter()
            hits = index.search(vector, 5)
            latency.append(time.perf_counter() - start)
            right[label] += hits[0].page.image == source
    rounds = len(latency) // len(queries)
    p50, p99 = pct(latency[:1000])
    total = sum(right.values()) / rounds
    edits = " ".join(f"{label} {right[label] // rounds}/{n}" for label in EDITS)
    print(f"    {mode:9} top-5 search p50 {p50:6.2f} ms, p99 {p99:6.2f} ms (1000 queries)")
    print(f"    {mode:9} top-1 {total:.0f}/{len(queries)} = {total / len(queries):.1%}: {edits}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--distractors", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        photos = demo_photos(Path(tmp) / "world")
        print(f"{len(photos)} demo photos x {len(EDITS)} edits = {len(photos) * len(EDITS)} queries")
        for encoder in (load_encoder("efficientnet-lite0"), PHashEncoder()):
            print(f"encoder {encoder_id(encoder)}")
            run(encoder, photos, args.distractors, Path(tmp))
    print("targets: network p50 < 20 ms, network top-1 >= 95%")


if __name__ == "__main__":
    main()
