"""`fvqa demo` end to end, as a user runs it: a subprocess, offline, resumable."""

import subprocess
import sys

import datasets

from fvqa.dataset_io import MANIFEST_NAME, read_dataset


def run_demo(out) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fvqa", "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
    )


def test_demo_builds_validates_and_resumes(tmp_path):
    out = tmp_path / "demo"
    first = run_demo(out)
    assert first.returncode == 0, first.stdout + first.stderr
    assert str(out / "world") in first.stdout and str(out / "datasets" / "demo-seed") in first.stdout
    assert "clean" in first.stdout

    seed = out / "datasets" / "demo-seed"
    stamp = (seed / MANIFEST_NAME).stat().st_mtime_ns
    second = run_demo(out)
    assert second.returncode == 0, second.stdout + second.stderr
    assert (seed / MANIFEST_NAME).stat().st_mtime_ns == stamp, "a finished stage must not be redone"

    samples = {s.id: s for s in read_dataset(seed)}
    loaded = datasets.load_dataset(str(seed), split="test").cast_column("image", datasets.Image(decode=False))
    assert loaded.num_rows == len(samples)
    for row in loaded.select(range(5)):
        assert row["image"]["bytes"] == samples[row["id"]].image
