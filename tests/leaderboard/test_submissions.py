"""Checking submissions: every refusal names the file and the field, good runs get a stable name."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from fvqa.eval.metrics import compute_metrics
from fvqa.leaderboard import SubmissionError, load_results, load_submission, run_key
from tests.leaderboard.factory import default_samples, make_result, sample_logs, write_run


def test_a_good_run_is_accepted_with_a_stable_name(tmp_path):
    folder = write_run(tmp_path / "run", make_result("Qwen/Qwen2.5-VL-7B-Instruct"), default_samples())
    submission = load_submission(folder)
    assert submission.info.model.id == "Qwen/Qwen2.5-VL-7B-Instruct"
    assert submission.samples == folder / "samples.jsonl"
    assert submission.key.startswith("fvqa-test__qwen-qwen2.5-vl-7b-instruct__20250601T100000-")
    assert submission.key == load_submission(folder / "result.json").key == run_key(submission.result)
    other = load_submission(write_run(tmp_path / "other", make_result("Qwen/Qwen2.5-VL-7B-Instruct", accuracy=0.61)))
    assert other.key != submission.key


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for part in parents:
            raw = raw[part]
        del raw[last]

    return mutate


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for part in parents:
            raw = raw[part]
        raw[last] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (_drop("model.revision"), "model.revision", "missing"),
        (_set("model.id", "  "), "model.id", "at least 1 character"),
        (_drop("benchmark.data_hash"), "benchmark.data_hash", "missing"),
        (_drop("judge.template_hash"), "judge.template_hash", "required for an LLM judge"),
        (_set("judge.kind", "vibes"), "judge.kind", "'rules' or 'llm'"),
        (_drop("protocol.limits.max_rounds"), "protocol.limits.max_rounds", "missing"),
        (_set("protocol.mode", "oracle"), "protocol.mode", "'direct', 'rag' or 'agent'"),
        (_set("complete", False), "complete", "not complete"),
        (_set("metrics.accuracy", 1.7), "metrics.accuracy", "less than or equal to 1"),
        (_set("metrics.accuracy", None), "metrics.accuracy", "scored no sample"),
        (_set("metrics.accuracy_ci95", [0.7, 0.5]), "metrics.accuracy_ci95", "lower bound"),
        (_drop("counts.judge_errors"), "counts.judge_errors", "missing"),
        (_set("surprise", 1), "surprise", "Extra inputs are not permitted"),
        (_set("judge", "gpt"), "judge", "valid dictionary"),
    ],
)
def test_a_malformed_result_is_refused_naming_file_and_field(tmp_path, mutate, field, words):
    folder = write_run(tmp_path / "bad", make_result())
    raw = json.loads((folder / "result.json").read_text())
    mutate(raw)
    (folder / "result.json").write_text(json.dumps(raw))
    with pytest.raises(SubmissionError) as caught:
        load_submission(folder)
    assert (caught.value.file, caught.value.field) == ("result.json", field)
    assert words in caught.value.message
    assert f"{folder / 'result.json'}: field {field}" in str(caught.value)


def test_a_rules_only_judge_needs_no_model_or_template(tmp_path):
    folder = write_run(tmp_path / "rules", make_result(judge={"kind": "rules", "rules_version": "1"}))
    assert load_submission(folder).judge_identity == ("rules", None, None, "1")


def test_unreadable_files_are_refused(tmp_path):
    (tmp_path / "notjson").mkdir()
    (tmp_path / "notjson" / "result.json").write_text("{not json")
    with pytest.raises(SubmissionError, match="not valid JSON"):
        load_submission(tmp_path / "notjson")
    with pytest.raises(SubmissionError, match=r"missing: a submission is a folder holding result\.json"):
        load_submission(tmp_path / "nothing")


def test_a_bad_samples_line_is_refused_with_its_line_number(tmp_path):
    folder = write_run(tmp_path / "run", make_result(), default_samples(3))
    lines = (folder / "samples.jsonl").read_text().splitlines()
    broken = json.loads(lines[1]) | {"status": "exploded"}
    (folder / "samples.jsonl").write_text("\n".join([lines[0], json.dumps(broken), lines[2]]) + "\n")
    with pytest.raises(SubmissionError) as caught:
        load_submission(folder)
    assert (caught.value.file, caught.value.field) == ("samples.jsonl", "line 2.status")


def test_load_results_keeps_good_runs_and_lists_refusals(tmp_path):
    write_run(tmp_path / "good", make_result("a/model"), default_samples())
    write_run(tmp_path / "copy-of-good", make_result("a/model"))
    write_run(tmp_path / "nested" / "deeper", make_result("b/model"))
    incomplete = make_result("c/model").model_copy(update={"complete": False})
    write_run(tmp_path / "stopped", incomplete)
    (tmp_path / "empty").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "README.md").write_text("results")
    accepted, refused = load_results(tmp_path)
    assert sorted(run.info.model.id for run in accepted) == ["a/model", "b/model"]
    reasons = {item.folder: (item.field, item.message) for item in refused}
    assert set(reasons) == {"good", "empty", "stopped"}  # folders are read in name order: copy-of-good first
    assert reasons["good"][1] == "the same run as copy-of-good (identical result.json), ranked once"
    assert reasons["stopped"][0] == "complete"
    assert "no result.json" in reasons["empty"][1]


def test_the_harness_metrics_fit_the_leaderboard_contract(tmp_path):
    """A result whose metrics and counts come from the real `compute_metrics` is accepted."""
    logs = sample_logs([True, False, True, None, True, True])
    metrics, counts = compute_metrics(logs, max_image_searches=1, max_text_searches=2)
    result = make_result().model_copy(update={"metrics": metrics, "counts": counts})
    submission = load_submission(write_run(tmp_path / "real", result, logs))
    assert submission.info.metrics.accuracy == pytest.approx(0.8)
    assert submission.info.counts.model_errors == 1
