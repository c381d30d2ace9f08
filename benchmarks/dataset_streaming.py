"""Memory of reading an fvqa dataset folder: streaming reader against loading the table whole.

Writes a dataset of N samples with incompressible ~100 KB images, then reads it back in
fresh subprocesses two ways and prints each one's peak RSS growth and time:

- baseline: `pyarrow.parquet.read_table` of every shard (what a naive loader does);
- fvqa: `fvqa.dataset_io.read_dataset`, validating every sample as it streams.

The fvqa figure should stay flat as N grows; the baseline grows with the dataset.
Usage: python benchmarks/dataset_streaming.py [--samples 2000] [--image-kb 100]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

READERS = {
    "baseline": "import pyarrow.parquet as pq\n"
    "from fvqa.dataset_io import dataset_files\n"
    "tables = [pq.read_table(p) for p in dataset_files(FOLDER)]\n"
    "n = sum(t.num_rows for t in tables)\n",
    "fvqa": "from fvqa.dataset_io import read_dataset\nn = sum(1 for _ in read_dataset(FOLDER))\n",
}

PROBE = """
import resource, time, json
FOLDER = {folder!r}
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
{body}
print(json.dumps({{"rows": n, "seconds": time.perf_counter() - start,
                  "peak_growth_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024}}))
"""


def build(folder: Path, samples: int, image_kb: int) -> None:
    import numpy as np

    from fvqa.dataset_io import write_dataset
    from fvqa.images import sha256_hex
    from fvqa.schema import new_sample

    side = int((image_kb * 1024 / 3) ** 0.5)
    rng = np.random.default_rng(0)
    template = new_sample(
        source="bench", source_id="0", split="train", question="q?", answer="a", image=_noise_png(rng, side)
    )

    def rows():  # every image distinct noise, so parquet can neither compress nor deduplicate it
        for i in range(samples):
            image = _noise_png(rng, side)
            yield template.model_copy(
                update={"id": f"bench:{i}", "source_id": str(i), "image": image, "image_sha256": sha256_hex(image)}
            )

    write_dataset(rows(), folder, shard_rows=500)


def _noise_png(rng, side: int) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype="uint8")).save(buffer, format="PNG", compress_level=0)
    return buffer.getvalue()


def measure(folder: Path, reader: str) -> dict[str, float]:
    code = PROBE.format(folder=str(folder), body=READERS[reader])
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--image-kb", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ds"
        start = time.perf_counter()
        build(folder, args.samples, args.image_kb)
        size_mb = sum(p.stat().st_size for p in folder.rglob("*.parquet")) / 2**20
        print(
            f"dataset: {args.samples} samples, {size_mb:.0f} MB of parquet, "
            f"written in {time.perf_counter() - start:.1f} s"
        )
        results = {name: measure(folder, name) for name in READERS}
    for name, r in results.items():
        print(f"{name:9s} rows={r['rows']:.0f} peak RSS growth={r['peak_growth_mb']:.0f} MB time={r['seconds']:.2f} s")
    ratio = results["fvqa"]["peak_growth_mb"] / max(results["baseline"]["peak_growth_mb"], 1)
    print(f"fvqa peak memory / baseline peak memory = {ratio:.3f}")


if __name__ == "__main__":
    main()
