"""Building the site from a results folder: refusals, separate tables, exports that match the submissions."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from fvqa.eval.records import RunResult
from fvqa.leaderboard import build_site, run_key
from tests.leaderboard.factory import OTHER_JUDGE, default_samples, make_result, write_run

EVIL = '<script>alert("owned")</script><img src=x onerror=alert(1)>'


def mixed_results(root: Path) -> Path:
    """Four comparable runs, two judged by another judge, one malformed."""
    write_run(root / "qwen", make_result("Qwen/Qwen2.5-VL-7B", accuracy=0.51, search_ratio=0.62), default_samples())
    write_run(root / "r1", make_result("mmsearch-r1/MMSearch-R1-7B", accuracy=0.58, search_ratio=0.41))
    write_run(root / "gpt", make_result("openai/gpt-4o", accuracy=0.60, search_ratio=0.55), default_samples())
    write_run(root / "evil", make_result(EVIL, accuracy=0.33, search_ratio=None))
    write_run(root / "judge-b-1", make_result("openai/gpt-4o", accuracy=0.66, judge=OTHER_JUDGE))
    write_run(root / "judge-b-2", make_result("google/gemma-3-4b", accuracy=0.41, judge=OTHER_JUDGE))
    bad = write_run(root / "broken", make_result("acme/broken"))
    raw = json.loads((bad / "result.json").read_text())
    del raw["judge"]["template_hash"]
    (bad / "result.json").write_text(json.dumps(raw))
    (root / "README.md").write_text("submitted runs\n")
    return root


@pytest.fixture
def site(tmp_path):
    results = mixed_results(tmp_path / "results")
    return results, build_site(results, tmp_path / "site", generated="2025-06-10 12:00 UTC")


def test_a_malformed_run_is_refused_by_name_and_the_rest_builds(site):
    _, report = site
    assert [(item.folder, item.file, item.field) for item in report.refused] == [
        ("broken", "result.json", "judge.template_hash")
    ]
    assert report.ranked == 6
    index = report.index.read_text()
    assert "broken/result.json" in index and "judge.template_hash" in index and "required for an LLM judge" in index


def test_runs_of_another_judge_get_a_separate_table_that_says_why(site):
    _, report = site
    data = json.loads(report.leaderboard_json.read_text())
    [benchmark] = data["benchmarks"]
    main, other = benchmark["tables"]
    assert main["main"] and main["why_separate"] is None
    assert sorted(row["model_id"] for row in main["rows"]) == sorted(
        ["Qwen/Qwen2.5-VL-7B", "mmsearch-r1/MMSearch-R1-7B", "openai/gpt-4o", EVIL]
    )
    assert sorted(row["model_id"] for row in other["rows"]) == ["google/gemma-3-4b", "openai/gpt-4o"]
    assert not other["main"]
    assert other["why_separate"].startswith("judged by LLM judge other-judge-70b with template cccc3333dddd")
    assert "instead of LLM judge judge-llm-8b with template aaaa1111bbbb" in other["why_separate"]
    page = report.benchmark_pages["fvqa-test"].read_text()
    assert "Separate table: another judge" in page
    assert "Not ranked with the main table: these runs were judged by LLM judge other-judge-70b" in page
    assert page.count('<table class="sortable"') == 2
    assert [row["tier"] for row in main["rows"]] == [1, 1, 1, 2]  # n=200: CIs of about ±7 points


def test_leaderboard_json_and_csv_agree_with_the_submitted_files(site):
    results, report = site
    submitted = {}
    for path in results.glob("*/result.json"):
        result = RunResult.model_validate_json(path.read_text())
        submitted[run_key(result)] = result
    data = json.loads(report.leaderboard_json.read_text())
    rows = [row for table in data["benchmarks"][0]["tables"] for row in table["rows"]]
    assert len(rows) == 6
    for row in rows:
        result = submitted[row["run"]]
        assert row["model_id"] == result.model["id"] and row["model_revision"] == result.model["revision"]
        assert row["data_hash"] == result.benchmark["data_hash"]
        assert row["judge_template_hash"] == result.judge["template_hash"]
        assert row["metrics"] == {k: v for k, v in result.metrics.items() if not k.startswith("by_")}
        assert row["counts"] == result.counts
        assert [row["accuracy_ci95_lo"], row["accuracy_ci95_hi"]] == result.metrics["accuracy_ci95"]
        for key in ("accuracy", "search_ratio", "search_call_ratio", "correct_without_search"):
            assert row[key] == result.metrics[key]
        for key in ("model_errors", "tool_errors", "judge_errors", "samples", "scored"):
            assert row[key] == result.counts[key]
        assert (report.out_dir / row["page"]).is_file()
    with report.leaderboard_csv.open() as handle:
        lines = list(csv.DictReader(handle))
    assert [line["run"] for line in lines] == [row["run"] for row in rows]
    for line, row in zip(lines, rows, strict=True):
        assert float(line["accuracy"]) == row["accuracy"] and int(line["tier"]) == row["tier"]
        assert line["why_separate"] == (row["why_separate"] or "")
    assert data["refused"] == [
        {
            "folder": "broken",
            "file": "result.json",
            "field": "judge.template_hash",
            "message": "required for an LLM judge",
        }
    ]


def test_every_submitted_string_is_escaped(site):
    _, report = site
    pages = [report.index, *report.benchmark_pages.values(), *report.run_pages.values()]
    for page in pages:
        text = page.read_text()
        assert "<script>alert" not in text and "<img src=x" not in text, page
    benchmark = report.benchmark_pages["fvqa-test"].read_text()
    assert "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;" in benchmark
    assert "1 run(s) without a search ratio are not shown" in benchmark


def test_run_pages_link_the_samples_log_or_say_it_was_not_submitted(site):
    _, report = site
    with_log = [page for key, page in report.run_pages.items() if "qwen" in key]
    without = [page for key, page in report.run_pages.items() if "mmsearch" in key]
    qwen_page = with_log[0].read_text()
    log_name = with_log[0].name.replace(".html", ".samples.jsonl")
    assert f'href="{log_name}"' in qwen_page and (with_log[0].parent / log_name).is_file()
    assert "was not submitted" in without[0].read_text()
    for heading in ("By category", "By search label", "Counts and failures", "Provenance", "template_hash"):
        assert heading in qwen_page
    assert (report.out_dir / "benchmarks" / "fvqa-test-1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_rebuild_replaces_the_site_but_never_a_foreign_folder(site, tmp_path):
    results, report = site
    (report.out_dir / "stale.html").write_text("old")
    again = build_site(results, report.out_dir)
    assert not (again.out_dir / "stale.html").exists() and again.index.is_file()
    foreign = tmp_path / "my-documents"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(FileExistsError, match="not a leaderboard site built by fvqa"):
        build_site(results, foreign)
    assert (foreign / "thesis.tex").read_text() == "precious"


def test_an_empty_results_folder_builds_an_empty_site(tmp_path):
    (tmp_path / "results").mkdir()
    report = build_site(tmp_path / "results", tmp_path / "site")
    assert "No accepted runs yet" in report.index.read_text()
    assert json.loads(report.leaderboard_json.read_text())["benchmarks"] == []
