"""`fvqa leaderboard add | build | compare` as a user runs them (typer's runner on `leaderboard_app`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fvqa.leaderboard import compare_runs, load_submission
from fvqa.leaderboard.cli import leaderboard_app
from tests.leaderboard.factory import OTHER_JUDGE, default_samples, make_result, sample_logs, write_run

runner = CliRunner(env={"COLUMNS": "250"})


def invoke(*args: str | Path):
    return runner.invoke(leaderboard_app, [str(arg) for arg in args])


def test_add_copies_a_good_run_under_its_stable_name(tmp_path):
    run = write_run(tmp_path / "my-run", make_result("acme/vlm-7b"), default_samples())
    results = tmp_path / "results"
    done = invoke("add", run, "--results", results)
    assert done.exit_code == 0, done.output
    key = load_submission(run).key
    assert "added acme/vlm-7b on fvqa-test with samples.jsonl" in done.stdout
    assert [path.name for path in results.iterdir()] == [key]
    for name in ("result.json", "samples.jsonl"):
        assert (results / key / name).read_bytes() == (run / name).read_bytes()
    again = invoke("add", run, "--results", results)
    assert again.exit_code == 0 and "already there" in again.stdout


def test_add_never_overwrites_a_different_run(tmp_path):
    run = write_run(tmp_path / "my-run", make_result(), default_samples())
    results = tmp_path / "results"
    assert invoke("add", run, "--results", results).exit_code == 0
    (run / "samples.jsonl").write_text((run / "samples.jsonl").read_text().replace("somewhere else", "elsewhere"))
    done = invoke("add", run, "--results", results)
    assert done.exit_code == 2
    assert "already holds a different run" in done.stderr and "not overwritten" in done.stderr
    [stored] = results.iterdir()
    assert "somewhere else" in (stored / "samples.jsonl").read_text()


def test_add_refuses_a_malformed_run_naming_file_and_field(tmp_path):
    run = write_run(tmp_path / "bad-run", make_result())
    raw = json.loads((run / "result.json").read_text())
    raw["protocol"]["limits"]["text_search"] = "twice"
    (run / "result.json").write_text(json.dumps(raw))
    done = invoke("add", run, "--results", tmp_path / "results")
    assert done.exit_code == 2
    assert "refused:" in done.stderr and "bad-run/result.json" in done.stderr
    assert "field protocol.limits.text_search" in done.stderr
    assert not (tmp_path / "results").exists()


def test_build_reports_what_it_wrote_and_refused(tmp_path):
    results = tmp_path / "results"
    write_run(results / "a", make_result("acme/a"))
    write_run(results / "b", make_result("acme/b").model_copy(update={"complete": False}))
    done = invoke("build", "--results", results, "--out", tmp_path / "site")
    assert done.exit_code == 0, done.output
    assert "1 benchmark(s), 1 run(s)" in done.stdout
    assert "refused: b/result.json [complete]" in done.stderr
    assert (tmp_path / "site" / "index.html").is_file()
    missing = invoke("build", "--results", tmp_path / "nowhere", "--out", tmp_path / "site2")
    assert missing.exit_code == 2 and "results folder not found" in missing.stderr


def paired_runs(tmp_path: Path, right_a: int, right_b: int, n: int = 200, **b_kwargs) -> tuple[Path, Path]:
    """Two runs on the same n samples: A right on the first `right_a`, B on the first `right_b`."""
    a = write_run(tmp_path / "a", make_result("acme/a"), sample_logs([i < right_a for i in range(n)]))
    b_result = make_result("acme/b", **b_kwargs)
    b = write_run(tmp_path / "b", b_result, sample_logs([i < right_b for i in range(n)] + [None]))
    return a, b


def test_compare_finds_a_clearly_better_run_significant(tmp_path):
    a, b = paired_runs(tmp_path, right_a=170, right_b=100)
    comparison = compare_runs(a, b)
    assert comparison.significant
    assert comparison.bootstrap["difference"] == pytest.approx(0.35)
    assert comparison.bootstrap["n_common"] == 200
    assert (comparison.accuracy_a, comparison.accuracy_b) == (0.85, 0.5)
    done = invoke("compare", a, b)
    assert done.exit_code == 0, done.output
    assert "difference A - B: +35.0 points" in done.stdout
    assert "significant at the 5% level" in done.stdout and "not significant" not in done.stdout


def test_compare_says_when_a_difference_is_not_significant(tmp_path):
    a, b = paired_runs(tmp_path, right_a=101, right_b=100)
    done = invoke("compare", a / "result.json", b)
    assert done.exit_code == 0, done.output
    assert "not significant at the 5% level" in done.stdout


def test_compare_warns_when_judges_differ(tmp_path):
    a, b = paired_runs(tmp_path, right_a=150, right_b=100, judge=OTHER_JUDGE)
    done = invoke("compare", a, b)
    assert done.exit_code == 0 and "judged differently" in done.stderr


@pytest.mark.parametrize(
    ("b_kwargs", "words"),
    [
        ({"benchmark": "simplevqa"}, "different benchmarks: 'fvqa-test' and 'simplevqa'"),
        ({"data_hash": "0123456789abcdef"}, "different data revisions of 'fvqa-test'"),
    ],
)
def test_compare_refuses_runs_on_different_data(tmp_path, b_kwargs, words):
    a, b = paired_runs(tmp_path, right_a=150, right_b=100, **b_kwargs)
    done = invoke("compare", a, b)
    assert done.exit_code == 2
    assert "cannot compare:" in done.stderr and words in done.stderr


def test_compare_refuses_a_run_without_samples(tmp_path):
    a, _ = paired_runs(tmp_path, right_a=150, right_b=100)
    bare = write_run(tmp_path / "bare", make_result("acme/bare"))
    done = invoke("compare", a, bare)
    assert done.exit_code == 2
    assert "samples.jsonl is missing" in done.stderr
