"""`fvqa demo` end to end, as a user runs it: a subprocess, offline, every stage, resumable."""

import json
import subprocess
import sys

import datasets

from fvqa.dataset_io import MANIFEST_NAME, read_dataset


def run_demo(out) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fvqa", "demo", "--out", str(out), "--eval-limit", "4"],
        capture_output=True,
        text=True,
        timeout=900,
        env={"COLUMNS": "250", "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
    )


def test_demo_runs_every_stage_and_resumes(tmp_path):
    out = tmp_path / "demo"
    first = run_demo(out)
    assert first.returncode == 0, first.stdout + first.stderr
    for where in (
        "world",
        "datasets/demo-seed",
        "world/index",
        "runs/direct",
        "runs/rag",
        "runs/agent",
        "leaderboard/site/index.html",
    ):
        assert str(out / where) in first.stdout, where
    assert "clean" in first.stdout and "two searches over the demo world" in first.stdout
    assert "embedded model on the demo benchmark" in first.stdout
    for mode in ("direct", "rag", "agent"):
        result = json.loads((out / "runs" / mode / "result.json").read_text())
        assert result["complete"] and result["counts"]["samples"] == 4 and result["protocol"]["mode"] == mode
    board = json.loads((out / "leaderboard" / "site" / "leaderboard.json").read_text())
    assert board and (out / "leaderboard" / "site" / "index.html").exists()

    seed = out / "datasets" / "demo-seed"
    stamp = (seed / MANIFEST_NAME).stat().st_mtime_ns
    second = run_demo(out)
    assert second.returncode == 0, second.stdout + second.stderr
    assert (seed / MANIFEST_NAME).stat().st_mtime_ns == stamp, "a finished stage must not be redone"
    assert second.stdout.count("(0 run now") == 3, "finished evaluation runs must not run again"

    samples = {s.id: s for s in read_dataset(seed)}
    loaded = datasets.load_dataset(str(seed), split="test").cast_column("image", datasets.Image(decode=False))
    assert loaded.num_rows == len(samples)
    for row in loaded.select(range(5)):
        assert row["image"]["bytes"] == samples[row["id"]].image
