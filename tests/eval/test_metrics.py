"""Tests for fvqa.eval.metrics: every number worked out by hand on small runs."""

from __future__ import annotations

import time

import numpy as np
import pytest

from fvqa.eval.metrics import bootstrap_accuracy_ci, compute_metrics, latest_attempts, paired_bootstrap
from fvqa.eval.records import JudgeStage, SampleLog, Status, Verdict

C, X, NA = Verdict.CORRECT, Verdict.INCORRECT, Verdict.NOT_ATTEMPTED  # X: incorrect
R, L = JudgeStage.RULES, JudgeStage.LLM
RATE_KEYS = {
    "accuracy",
    "accuracy_ci95",
    "not_attempted",
    "search_ratio",
    "search_call_ratio",
    "image_only_share",
    "text_only_share",
    "mixed_share",
    "no_search_share",
    "search_failure_rate",
    "correct_without_search",
}


def log(
    id: str,
    status: Status,
    category: str | None = None,
    label: str | None = None,
    verdict: Verdict | None = None,
    stage: JudgeStage | None = None,
    rules: Verdict | None = None,
    image: int = 0,
    text: int = 0,
    failures: int = 0,
    attempt: int = 1,
) -> SampleLog:
    return SampleLog(
        id=id,
        status=status,
        category=category,
        search_label=label,
        question="q",
        answers=["a"],
        verdict=verdict,
        judge_stage=stage,
        rules_verdict=rules,
        image_searches=image,
        text_searches=text,
        search_failures=failures,
        attempt=attempt,
    )


OK, PE = Status.OK, Status.PARSE_ERROR
SF, IMG, TXT, MIX = "search_free", "image_search_required", "text_search_required", "mixed_search_required"

# Ten samples, limits 1 image + 2 text searches (3 calls per sample at most).
#  id status       category label verdict stage rules  img txt fail
RUN = [
    log("1", OK, "Arts", SF, C, R, C),
    log("2", OK, "Arts", IMG, C, L, None, image=1),
    log("3", OK, "Place", TXT, X, L, None, text=2, failures=1),
    log("4", OK, "Place", MIX, C, L, None, image=1, text=1),
    log("5", OK, "Place", SF, NA, R, NA),
    log("6", PE, "People", None, X, None, None, image=1, text=2, failures=1),
    log("7", Status.MODEL_ERROR, "People", SF, text=1),
    log("8", Status.TOOL_ERROR, "Arts", IMG, image=1, failures=1),
    log("9", Status.JUDGE_ERROR, None, TXT, text=1),
    log("10", OK, "People", TXT, C, R, C, text=1),
]


def run_metrics(logs: list[SampleLog] = RUN, **kwargs: object) -> tuple[dict, dict]:
    options: dict[str, object] = {"max_image_searches": 1, "max_text_searches": 2, "llm_judge": True}
    options.update(kwargs)
    return compute_metrics(logs, **options)  # type: ignore[arg-type]


def test_counts_by_hand() -> None:
    _, counts = run_metrics()
    assert counts == {
        "samples": 10,
        "scored": 7,  # 1-6 and 10
        "ok": 6,
        "parse_errors": 1,
        "model_errors": 1,
        "tool_errors": 1,
        "judge_errors": 1,
        "correct": 4,  # 1, 2, 4, 10
        "not_attempted": 1,  # 5
        "search_calls": 12,
        "image_search_calls": 4,  # 2, 4, 6, 8
        "text_search_calls": 8,  # 3:2, 4:1, 6:2, 7:1, 9:1, 10:1
        "search_failures": 3,  # 3, 6, 8
        "superseded_attempts": 0,
        "judged_by_rules": 3,  # 1, 5, 10
        "judged_by_llm": 3,  # 2, 3, 4
        "llm_calls_saved": 3,
        "rules_llm_disagreements": 2,  # 2 and 4: LLM CORRECT, rules no match
        "llm_correct_rules_no_match": 2,
        "llm_incorrect_rules_match": 0,
    }
    assert counts["samples"] == sum(
        counts[k] for k in ("ok", "parse_errors", "model_errors", "tool_errors", "judge_errors")
    )


def test_overall_metrics_by_hand() -> None:
    metrics, _ = run_metrics()
    rates = {key: value for key, value in metrics.items() if key not in ("by_category", "by_search_label")}
    ci = rates.pop("accuracy_ci95")
    # Scored: 1-6 and 10 (n = 7); their searches: 2 image-only, 3 and 10 text-only, 4 and 6 mixed, 1 and 5 none;
    # their calls: 1 + 2 + 2 + 3 + 1 = 9, of which 2 failed (3 and 6).
    assert rates == pytest.approx(
        {
            "accuracy": 4 / 7,
            "not_attempted": 1 / 7,
            "search_ratio": 5 / 7,
            "search_call_ratio": 9 / (7 * 3),
            "image_only_share": 1 / 7,
            "text_only_share": 2 / 7,
            "mixed_share": 2 / 7,
            "no_search_share": 2 / 7,
            "search_failure_rate": 2 / 9,
            "correct_without_search": 1 / 7,  # 1 (10 searched)
        }
    )
    assert sum(
        rates[k] for k in ("image_only_share", "text_only_share", "mixed_share", "no_search_share")
    ) == pytest.approx(1)
    assert ci[0] <= 4 / 7 <= ci[1]


def test_per_category_metrics_by_hand() -> None:
    groups = run_metrics()[0]["by_category"]
    assert sorted(groups) == ["Arts", "People", "Place", "unknown"]
    for group in groups.values():
        group.pop("accuracy_ci95")
    assert groups["Arts"] == pytest.approx(  # 1, 2 scored; 8 a tool error
        {
            "n": 3,
            "scored": 2,
            "correct": 2,
            "accuracy": 1.0,
            "not_attempted": 0.0,
            "search_ratio": 1 / 2,
            "search_call_ratio": 1 / 6,
            "image_only_share": 1 / 2,
            "text_only_share": 0.0,
            "mixed_share": 0.0,
            "no_search_share": 1 / 2,
            "search_failure_rate": 0.0,
            "correct_without_search": 1 / 2,
        }
    )
    assert groups["Place"] == pytest.approx(  # 3, 4, 5
        {
            "n": 3,
            "scored": 3,
            "correct": 1,
            "accuracy": 1 / 3,
            "not_attempted": 1 / 3,
            "search_ratio": 2 / 3,
            "search_call_ratio": 4 / 9,
            "image_only_share": 0.0,
            "text_only_share": 1 / 3,
            "mixed_share": 1 / 3,
            "no_search_share": 1 / 3,
            "search_failure_rate": 1 / 4,
            "correct_without_search": 0.0,
        }
    )
    assert groups["People"] == pytest.approx(  # 6 and 10 scored; 7 a model error
        {
            "n": 3,
            "scored": 2,
            "correct": 1,
            "accuracy": 1 / 2,
            "not_attempted": 0.0,
            "search_ratio": 1.0,
            "search_call_ratio": 4 / 6,
            "image_only_share": 0.0,
            "text_only_share": 1 / 2,
            "mixed_share": 1 / 2,
            "no_search_share": 0.0,
            "search_failure_rate": 1 / 4,
            "correct_without_search": 0.0,
        }
    )
    unknown = groups["unknown"]  # only 9, a judge error: nothing scored, every rate None
    assert (unknown["n"], unknown["scored"], unknown["correct"]) == (1, 0, 0)
    assert all(unknown[key] is None for key in RATE_KEYS - {"accuracy_ci95"})


def test_per_search_label_metrics_by_hand() -> None:
    groups = run_metrics()[0]["by_search_label"]
    assert sorted(groups) == sorted([SF, IMG, TXT, MIX, "unknown"])
    free, text, unknown = groups[SF], groups[TXT], groups["unknown"]
    assert (free["n"], free["scored"], free["correct"]) == (3, 2, 1)  # 1, 5 (7 a model error)
    assert free["accuracy"] == free["not_attempted"] == free["correct_without_search"] == 1 / 2
    assert (free["search_ratio"], free["search_call_ratio"], free["search_failure_rate"]) == (0.0, 0.0, 0.0)
    assert (text["n"], text["scored"], text["accuracy"]) == (3, 2, 1 / 2)  # 3, 10 (9 a judge error)
    assert text["search_call_ratio"] == pytest.approx(3 / 6)
    assert text["search_failure_rate"] == pytest.approx(1 / 3)
    assert text["text_only_share"] == 1.0
    assert (unknown["n"], unknown["accuracy"], unknown["mixed_share"], unknown["search_call_ratio"]) == (
        1,
        0.0,
        1.0,
        1.0,
    )


def test_empty_inputs_give_none_not_a_division_by_zero() -> None:
    metrics, counts = compute_metrics([], max_image_searches=1, max_text_searches=2)
    assert all(metrics[key] is None for key in RATE_KEYS)
    assert metrics["by_category"] == metrics["by_search_label"] == {}
    assert set(counts.values()) == {0}
    metrics, counts = run_metrics([log("x", Status.MODEL_ERROR), log("y", Status.TOOL_ERROR, image=1, failures=1)])
    assert all(metrics[key] is None for key in RATE_KEYS)
    assert (counts["samples"], counts["scored"], counts["search_failures"]) == (2, 0, 1)


def test_no_search_calls_mean_a_zero_failure_rate_and_zero_limits_no_call_ratio() -> None:
    metrics, _ = run_metrics([log("a", OK, verdict=C, stage=R, rules=C)], max_image_searches=0, max_text_searches=0)
    assert metrics["search_failure_rate"] == 0.0
    assert metrics["search_call_ratio"] is None
    with pytest.raises(ValueError, match="negative"):
        compute_metrics([], max_image_searches=-1, max_text_searches=2)


def test_a_parse_error_is_never_correct_and_rules_only_runs_save_no_llm_calls() -> None:
    logs = [log("a", PE, verdict=C), log("b", OK, verdict=C, stage=R, rules=C)]
    metrics, counts = run_metrics(logs, llm_judge=False)
    assert (counts["correct"], metrics["accuracy"]) == (1, 1 / 2)
    assert (counts["judged_by_rules"], counts["llm_calls_saved"]) == (1, 0)


def test_disagreements_in_both_directions() -> None:
    logs = [
        log("up", OK, verdict=C, stage=L, rules=None),  # LLM said yes where the rules found no match
        log("down", OK, verdict=X, stage=L, rules=C),  # an LLM that also graded a rules match, and said no
        log("agree", OK, verdict=X, stage=L, rules=None),
        log("na", OK, verdict=NA, stage=L, rules=None),  # not a disagreement on correctness
    ]
    counts = run_metrics(logs)[1]
    assert (counts["llm_correct_rules_no_match"], counts["llm_incorrect_rules_match"]) == (1, 1)
    assert counts["rules_llm_disagreements"] == 2


def test_a_retried_sample_counts_once_with_its_latest_attempt() -> None:
    logs = [
        log("a", Status.MODEL_ERROR, attempt=1),
        log("b", OK, verdict=X, stage=R),
        log("a", OK, verdict=C, stage=R, rules=C, attempt=2),
    ]
    kept, dropped = latest_attempts(logs)
    assert [(x.id, x.attempt) for x in kept] == [("a", 2), ("b", 1)]
    assert dropped == 1
    metrics, counts = run_metrics(logs)
    assert (counts["samples"], counts["model_errors"], counts["superseded_attempts"]) == (2, 0, 1)
    assert metrics["accuracy"] == 1 / 2


# --- bootstrap intervals -----------------------------------------------------------------------


def test_the_interval_contains_the_estimate_and_narrows_with_n() -> None:
    widths = []
    for n in (20, 200, 2000, 20000):
        low, high = bootstrap_accuracy_ci(int(0.6 * n), n, seed=3)  # type: ignore[misc]
        assert low <= 0.6 <= high
        widths.append(high - low)
    assert widths == sorted(widths, reverse=True)
    assert widths[-1] < widths[0] / 10  # about 1/sqrt(n): 31 times narrower
    assert bootstrap_accuracy_ci(0, 0) is None
    assert bootstrap_accuracy_ci(5, 5) == [1.0, 1.0]


def test_the_binomial_draw_is_the_index_resampling_bootstrap() -> None:
    outcomes = np.array([1] * 30 + [0] * 50)
    rng = np.random.default_rng(7)
    resampled = outcomes[rng.integers(0, len(outcomes), size=(20000, len(outcomes)))].mean(axis=1)
    naive = np.percentile(resampled, [2.5, 97.5])
    fast = bootstrap_accuracy_ci(30, 80, seed=7, n_bootstrap=20000)
    assert fast == pytest.approx(list(naive), abs=0.0126)  # one outcome in 80


def test_seeded_determinism() -> None:
    first, second = run_metrics(seed=11)[0], run_metrics(seed=11)[0]
    assert first == second
    many = [log(str(i), OK, "Arts", verdict=C if i % 3 else X, stage=R) for i in range(300)]
    assert run_metrics(many, seed=1)[0]["accuracy_ci95"] != run_metrics(many, seed=2)[0]["accuracy_ci95"]
    assert (
        run_metrics(many, seed=1)[0]["by_category"]["Arts"]["accuracy_ci95"]
        == run_metrics(many, seed=1)[0]["by_category"]["Arts"]["accuracy_ci95"]
    )


def test_twenty_thousand_samples_in_well_under_a_second() -> None:
    rng = np.random.default_rng(0)
    categories = ["Arts", "Place", "People", "Industry", "Science", "Nature", "Entities", "Events"]
    labels = [SF, IMG, TXT, MIX]
    statuses = [OK] * 17 + [PE, Status.MODEL_ERROR, Status.JUDGE_ERROR]
    logs = [
        log(
            f"s{i}",
            statuses[int(rng.integers(0, len(statuses)))],
            categories[i % 8],
            labels[i % 4],
            verdict=C if rng.random() < 0.4 else X,
            stage=R,
            image=int(rng.integers(0, 2)),
            text=int(rng.integers(0, 3)),
        )
        for i in range(20000)
    ]
    started = time.perf_counter()
    metrics, counts = compute_metrics(logs, max_image_searches=1, max_text_searches=2, n_bootstrap=1000)
    elapsed = time.perf_counter() - started
    assert counts["samples"] == 20000
    assert len(metrics["by_category"]) == 8
    assert elapsed < 0.5, f"compute_metrics took {elapsed:.2f} s"


# --- paired bootstrap --------------------------------------------------------------------------


def test_identical_runs_do_not_differ() -> None:
    run = {f"s{i}": i % 3 == 0 for i in range(200)}
    result = paired_bootstrap(run, dict(run))
    assert result["difference"] == 0.0
    assert result["ci95"] == [0.0, 0.0]
    assert result["p_value"] == 1.0
    assert result["significant"] is False
    assert (result["n_common"], result["only_a"], result["only_b"]) == (200, 0, 0)


def test_clearly_different_runs_differ_significantly() -> None:
    a = {f"s{i}": i % 10 < 8 for i in range(500)}  # 80% right
    b = {f"s{i}": i % 10 < 5 for i in range(500)}  # 50% right, a subset of a's right answers
    b.update({"extra1": True, "extra2": False})
    a["only-in-a"] = True
    result = paired_bootstrap(a, b, seed=5)
    assert result["difference"] == pytest.approx(0.3)
    assert (result["accuracy_a"], result["accuracy_b"]) == (0.8, 0.5)
    assert result["ci95"][0] > 0.2 and result["ci95"][1] < 0.4
    assert result["p_value"] < 0.001
    assert result["significant"] is True
    assert (result["n_common"], result["only_a"], result["only_b"]) == (500, 1, 2)
    reverse = paired_bootstrap(b, a, seed=5)
    assert reverse["difference"] == pytest.approx(-0.3)
    assert reverse["significant"] is True


def test_a_small_difference_has_the_p_value_worked_out_by_hand() -> None:
    # 100 samples, a right on 2 that b gets wrong, otherwise the same: a resample shows no gain only when it
    # draws neither of the 2, with probability 0.98 ** 100; doubled, p is about 0.265.
    a = {f"s{i}": i < 52 for i in range(100)}
    b = {f"s{i}": i < 50 for i in range(100)}
    result = paired_bootstrap(a, b, seed=0, n=20000)
    assert result["difference"] == pytest.approx(0.02)
    assert result["p_value"] == pytest.approx(2 * 0.98**100, abs=0.02)
    assert result["significant"] is False
    assert paired_bootstrap(a, b, seed=0, n=20000) == result


def test_runs_without_common_samples_cannot_be_compared() -> None:
    result = paired_bootstrap({"a": True}, {"b": False})
    assert (result["n_common"], result["only_a"], result["only_b"]) == (0, 1, 1)
    assert result["difference"] is None and result["p_value"] is None and result["significant"] is False
