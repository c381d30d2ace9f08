"""`fvqa eval` as a user runs it: a subprocess, the demo benchmark, local search, a real HTTP model."""

import json
import os
import subprocess
import sys
from pathlib import Path

from fvqa.demo.world import build_world
from fvqa.search.local import build_indexes
from tests.eval.scripted_agent import policy
from tests.models.fake_openai_server import FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[2]


def test_eval_command_runs_resumes_and_reports(tmp_path):
    world = tmp_path / "world"
    build_world(world)
    build_indexes(world, world / "index")
    env = {**os.environ, "FVQA_DEMO_WORLD": str(world), "COLUMNS": "200", "OPENAI_API_KEY": "sk-test-never-printed"}
    with FakeOpenAIServer(responder=policy) as fake:
        command = [
            sys.executable,
            "-m",
            "fvqa",
            "eval",
            "--benchmark",
            "demo",
            "--limit",
            "6",
            "--model",
            "scripted",
            "--base-url",
            fake.base_url,
            "--out",
            str(tmp_path / "run"),
            "--search",
            "local",
            "--search-index",
            str(world / "index"),
            "--model-revision",
            "r1",
        ]
        first = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert first.returncode == 0, first.stdout + first.stderr
        calls = fake.requests
        again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0 and fake.requests == calls, "a finished run makes no model calls"
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["complete"] and result["counts"]["samples"] == 6
    assert result["benchmark"]["name"] == "demo" and result["search"]["backend"] == "local"
    assert result["model"]["revision"] == "r1" and result["provenance"]["command"].startswith("fvqa eval")
    assert "search ratio" in first.stdout and "result.json" in first.stdout
    written = "".join(p.read_text() for p in (tmp_path / "run").iterdir() if p.is_file())
    assert "sk-test-never-printed" not in written + first.stdout + first.stderr
