"""Runs end to end against a real (fake) OpenAI-compatible server: statuses, counts, resume."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from fvqa.eval.logfile import SampleLogFile
from fvqa.eval.run import run_evaluation
from tests.eval.scripted_agent import policy, scripted_parts
from tests.models.fake_openai_server import FailureMix, FakeOpenAIServer, error, hang, malformed, truncated

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def expected_correct(n: int) -> int:
    return sum(1 for i in range(n) if i % 2 == 0 and i % 7 != 5)


def read_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def server():
    with FakeOpenAIServer(responder=policy) as fake:
        yield fake


def test_clean_run_writes_the_promised_files(server, tmp_path):
    n = 21
    outcome = run_evaluation(scripted_parts(server.base_url, n), tmp_path / "run", concurrency=4)
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    counts, metrics = result["counts"], result["metrics"]
    assert result["complete"] is True and outcome.ran == n
    assert (
        counts["samples"]
        == n
        == counts["ok"]
        + counts["parse_errors"]
        + counts["model_errors"]
        + counts["tool_errors"]
        + counts["judge_errors"]
    )
    assert counts["parse_errors"] == 0  # untagged replies are taken whole in the last round (and are wrong here)
    assert metrics["accuracy"] == pytest.approx(expected_correct(n) / counts["scored"])
    searched = sum(1 for i in range(n) if i % 7 != 5 and i % 3 in (0, 1))
    assert metrics["search_ratio"] == pytest.approx(searched / n)
    assert metrics["search_call_ratio"] == pytest.approx(searched / (n * 3))
    for key in ("accuracy_ci95", "not_attempted", "correct_without_search", "by_category", "by_search_label"):
        assert key in metrics
    for key in ("fvqa_version", "git_revision", "seed", "started", "finished"):
        assert key in result["provenance"]
    assert result["protocol"]["prompt_hash"].startswith("sha256:") and result["judge"]["kind"] == "rules"
    lines = read_lines(tmp_path / "run" / "samples.jsonl")
    assert [line["id"] for line in lines] == [f"synthetic:s{i}" for i in range(n)]
    image_turn = lines[0]["trajectory"][0]
    assert image_turn["action"] == "image_search" and image_turn["tool_call"]["pages"][0]["thumbnail_sha256"]
    assert "thumbnail" not in json.dumps(image_turn["tool_call"]).replace("thumbnail_sha256", "")
    untagged = lines[5]
    assert untagged["status"] == "ok" and untagged["verdict"] == "INCORRECT"
    assert "no_action" in untagged["trajectory"][0]["problems"]
    assert "no_answer_tags" in untagged["trajectory"][-1]["problems"]


def test_a_finished_run_reinvoked_makes_no_model_calls(server, tmp_path):
    run_evaluation(scripted_parts(server.base_url, 9), tmp_path / "run")
    before = server.requests
    started = time.perf_counter()
    again = run_evaluation(scripted_parts(server.base_url, 9), tmp_path / "run")
    assert server.requests == before and again.ran == 0
    assert time.perf_counter() - started < 5


def test_resuming_with_other_settings_is_refused(server, tmp_path):
    run_evaluation(scripted_parts(server.base_url, 3), tmp_path / "run")
    with pytest.raises(ValueError, match="different settings"):
        run_evaluation(scripted_parts(server.base_url, 4), tmp_path / "run")


def test_misbehaving_server_every_sample_ends_with_a_status(tmp_path):
    mix = FailureMix(
        rate=0.35,
        seed=3,
        failures=(error(429, retry_after="0"), error(500), error(503), malformed(), truncated(), hang(5)),
    )
    with FakeOpenAIServer(responder=policy, mix=mix) as fake:
        parts = scripted_parts(fake.base_url, 30, max_attempts=2, timeout_s=0.5)
        outcome = run_evaluation(parts, tmp_path / "run", concurrency=6)
    counts = outcome.result.counts
    statuses = [line["status"] for line in read_lines(tmp_path / "run" / "samples.jsonl")]
    assert len(statuses) == 30 == counts["samples"]
    assert (
        counts["ok"] + counts["parse_errors"] + counts["model_errors"] + counts["tool_errors"] + counts["judge_errors"]
        == 30
    )
    assert counts["model_errors"] > 0, "with two attempts and a 35% failure rate some calls must fail for good"
    assert outcome.result.complete


def test_failed_samples_are_retried_on_resume_unless_kept(tmp_path):
    with FakeOpenAIServer(responder=policy, default=error(500)) as broken:
        first = run_evaluation(scripted_parts(broken.base_url, 4, max_attempts=1), tmp_path / "run")
        assert first.result.counts["model_errors"] == 4
        kept = run_evaluation(scripted_parts(broken.base_url, 4, max_attempts=1), tmp_path / "run", keep_failed=True)
        assert kept.ran == 0 and broken.requests == 4
    with FakeOpenAIServer(responder=policy) as healthy:
        second = run_evaluation(scripted_parts(healthy.base_url, 4), tmp_path / "run")
    assert second.ran == 4 and second.result.counts["model_errors"] == 0
    assert {line["attempt"] for line in read_lines(tmp_path / "run" / "samples.jsonl")} == {2}


def test_sigkill_at_any_moment_then_resume_gives_the_clean_metrics(tmp_path):
    n = 40
    with FakeOpenAIServer(responder=policy, latency_s=0.02) as fake:
        clean = run_evaluation(scripted_parts(fake.base_url, n, concurrency=2), tmp_path / "clean", concurrency=2)
        out = tmp_path / "killed"
        log = out / "samples.jsonl"
        for stop_after in (5, 14, 23):
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.eval.run_target", fake.base_url, str(out), str(n)], cwd=ROOT
            )
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if log.exists() and log.read_text().count("\n") >= stop_after:
                    break
                time.sleep(0.005)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            with log.open("a") as handle:  # what a kill in the middle of a write leaves behind
                handle.write('{"id": "synthetic:s3", "status": "o')
        assert not (out / "result.json").exists()
        resumed = run_evaluation(scripted_parts(fake.base_url, n, concurrency=2), out, concurrency=2)
    assert resumed.result.metrics == clean.result.metrics
    assert resumed.result.counts == clean.result.counts
    ids = [line["id"] for line in read_lines(log)]
    assert ids == [f"synthetic:s{i}" for i in range(n)], "no sample lost, none duplicated"
    assert SampleLogFile(log).scan().keys() == set(ids)
