"""Which runs are ranked together, and the CI-overlap tiers."""

from __future__ import annotations

from pathlib import Path

from fvqa.leaderboard import assign_tiers, group_runs, load_submission
from fvqa.leaderboard.submissions import Submission
from tests.leaderboard.factory import OTHER_JUDGE, make_result, write_run


def _run(tmp: Path, model: str, accuracy: float, ci: tuple[float, float], **kwargs) -> Submission:
    return load_submission(write_run(tmp / model, make_result(model, accuracy=accuracy, ci=ci, **kwargs)))


def test_a_run_shares_the_tier_of_the_best_run_above_whose_ci_overlaps_it(tmp_path):
    runs = [
        _run(tmp_path, "e", 0.40, (0.35, 0.45)),
        _run(tmp_path, "b", 0.62, (0.57, 0.67)),
        _run(tmp_path, "d", 0.53, (0.47, 0.59)),
        _run(tmp_path, "a", 0.65, (0.60, 0.70)),
        _run(tmp_path, "c", 0.55, (0.48, 0.58)),
    ]
    rows = assign_tiers(runs)
    ranked = [(row.submission.info.model.id, row.position, row.tier) for row in rows]
    # b overlaps the leader a; c does not overlap a (0.58 < 0.60) although it overlaps b: it opens tier 2,
    # d overlaps c; e overlaps nobody above it.
    assert ranked == [("a", 1, 1), ("b", 2, 1), ("c", 3, 2), ("d", 4, 2), ("e", 5, 3)]


def test_equal_accuracy_is_ordered_by_the_lower_ci_bound_then_model(tmp_path):
    runs = [_run(tmp_path, "z", 0.5, (0.40, 0.60)), _run(tmp_path, "y", 0.5, (0.45, 0.55))]
    runs.append(_run(tmp_path, "x", 0.5, (0.45, 0.55), revision="other"))
    assert [row.submission.info.model.id for row in assign_tiers(runs)] == ["x", "y", "z"]
    assert {row.tier for row in assign_tiers(runs)} == {1}


def test_other_judges_and_data_revisions_get_separate_tables_with_reasons(tmp_path):
    main = [_run(tmp_path, f"m{index}", 0.5 + index / 100, (0.45, 0.6)) for index in range(3)]
    judged = [_run(tmp_path, f"j{index}", 0.7, (0.65, 0.75), judge=OTHER_JUDGE) for index in range(2)]
    revised = [_run(tmp_path, "r0", 0.9, (0.85, 0.95), data_hash="feedbeef00112233")]
    elsewhere = [_run(tmp_path, "s0", 0.3, (0.2, 0.4), benchmark="simplevqa")]
    benchmarks = group_runs(main + judged + revised + elsewhere)
    assert [benchmark.name for benchmark in benchmarks] == ["fvqa-test", "simplevqa"]
    tables = benchmarks[0].tables
    assert [sorted(row.submission.info.model.id for row in table.rows) for table in tables] == [
        ["m0", "m1", "m2"],
        ["j0", "j1"],
        ["r0"],
    ]
    assert tables[0].main and tables[0].why_separate is None
    assert tables[1].why_separate == (
        "judged by LLM judge other-judge-70b with template cccc3333dddd (after rules v1) "
        "instead of LLM judge judge-llm-8b with template aaaa1111bbbb (after rules v1)"
    )
    assert tables[2].why_separate == "computed on data revision feedbeef0011 instead of 3f9a1c0d5e7b"
    assert [table.title for table in tables] == [
        "fvqa-test: main table",
        "fvqa-test: separate table (another judge)",
        "fvqa-test: separate table (another data revision)",
    ]


def test_of_two_groups_of_one_size_the_most_recent_is_the_main_table(tmp_path):
    old = _run(tmp_path, "old", 0.9, (0.85, 0.95), finished="2025-01-01T00:00:00+00:00")
    new = _run(tmp_path, "new", 0.5, (0.45, 0.55), judge=OTHER_JUDGE, finished="2025-07-01T00:00:00+02:00")
    tables = group_runs([old, new])[0].tables
    assert [table.rows[0].submission.info.model.id for table in tables] == ["new", "old"]
