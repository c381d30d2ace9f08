"""Result folders for the leaderboard tests, built from `RunResult` and `SampleLog` objects."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from fvqa.eval.records import JudgeStage, RunResult, SampleLog, Status, Verdict

BENCHMARK = "fvqa-test"
DATA_HASH = "3f9a1c0d5e7b2a4c6e8f0a1b2c3d4e5f"
JUDGE = {
    "kind": "llm",
    "rules_version": "1",
    "model": "judge-llm-8b",
    "template_hash": "aaaa1111bbbb2222",
    "template_source": "builtin",
    "temperature": 0.0,
    "max_tokens": 64,
    "base_url_host": "127.0.0.1:8001",
}
OTHER_JUDGE = JUDGE | {"model": "other-judge-70b", "template_hash": "cccc3333dddd4444"}
CATEGORIES = ("Arts", "Place", "People", "Nature")
LABELS = ("search_free", "image_search_required", "text_search_required")


def wald_ci(accuracy: float, n: int) -> tuple[float, float]:
    half = 1.96 * math.sqrt(accuracy * (1 - accuracy) / n)
    return max(0.0, round(accuracy - half, 4)), min(1.0, round(accuracy + half, 4))


def group_metrics(accuracy: float, search_ratio: float, n: int) -> dict[str, Any]:
    return {
        "n": n,
        "accuracy": accuracy,
        "accuracy_ci95": list(wald_ci(accuracy, n)),
        "search_ratio": search_ratio,
        "search_call_ratio": round(search_ratio * 0.4, 4),
        "not_attempted": 0.02,
        "correct_without_search": round(accuracy * (1 - search_ratio), 4),
    }


def make_result(
    model_id: str = "acme/vlm-7b",
    *,
    accuracy: float = 0.6,
    ci: tuple[float, float] | None = None,
    search_ratio: float | None = 0.4,
    n: int = 200,
    benchmark: str = BENCHMARK,
    data_hash: str = DATA_HASH,
    judge: dict[str, Any] | None = None,
    started: str = "2025-06-01T10:00:00+00:00",
    finished: str = "2025-06-01T11:30:00+00:00",
    errors: tuple[int, int, int] = (1, 2, 0),
    revision: str = "main@4e2f9c1",
) -> RunResult:
    """A plausible complete run: `errors` are (model, tool, judge) failures, not scored."""
    model_errors, tool_errors, judge_errors = errors
    scored = n - sum(errors)
    correct = round(accuracy * scored)
    ratio = search_ratio if search_ratio is not None else 0.0
    metrics: dict[str, Any] = {
        "accuracy": accuracy,
        "accuracy_ci95": list(ci or wald_ci(accuracy, scored)),
        "not_attempted": 0.03,
        "search_ratio": search_ratio,
        "search_call_ratio": None if search_ratio is None else round(ratio * 0.45, 4),
        "image_only_share": round(ratio * 0.5, 4),
        "text_only_share": round(ratio * 0.3, 4),
        "mixed_share": round(ratio * 0.2, 4),
        "no_search_share": round(1 - ratio, 4),
        "search_failure_rate": 0.01,
        "correct_without_search": round(accuracy * (1 - ratio), 4),
        "by_category": {name: group_metrics(accuracy, ratio, n // 4) for name in CATEGORIES},
        "by_search_label": {name: group_metrics(accuracy, ratio, n // 3) for name in LABELS},
    }
    calls = round(ratio * scored * 1.3)
    counts = {
        "samples": n,
        "scored": scored,
        "ok": scored - 3,
        "parse_errors": 3,
        "model_errors": model_errors,
        "tool_errors": tool_errors,
        "judge_errors": judge_errors,
        "correct": correct,
        "search_calls": calls,
        "image_search_calls": calls // 2,
        "text_search_calls": calls - calls // 2,
        "search_failures": 2,
        "judged_by_rules": scored // 2,
        "judged_by_llm": scored - scored // 2,
    }
    return RunResult(
        complete=True,
        metrics=metrics,
        counts=counts,
        benchmark={"name": benchmark, "data_hash": data_hash, "subset_rule": "all", "source": "local", "samples": n},
        model={
            "id": model_id,
            "revision": revision,
            "base_url_host": "127.0.0.1:8000",
            "generation": {"temperature": 0.0, "max_tokens": 512},
        },
        protocol={
            "mode": "agent",
            "protocol": "tags",
            "limits": {"max_rounds": 3, "image_search": 1, "text_search": 2},
            "prompt_hash": "p1p2p3p4",
        },
        search={"backend": "local", "cache_hash": "c0ffee00"},
        judge=dict(judge or JUDGE),
        provenance={
            "fvqa_version": "0.1.0",
            "git_revision": "abc1234",
            "seed": 0,
            "started": started,
            "finished": finished,
            "command": "fvqa eval run",
        },
    )


def sample_logs(outcomes: list[bool | None], *, searched_every: int = 2) -> list[SampleLog]:
    """One log per outcome: True correct, False incorrect, None a model error (not scored)."""
    logs = []
    for index, outcome in enumerate(outcomes):
        searched = index % searched_every == 0
        common: dict[str, Any] = {
            "id": f"fvqa_test_{index}",
            "category": CATEGORIES[index % len(CATEGORIES)],
            "search_label": LABELS[index % len(LABELS)],
            "question": f"Which landmark is shown in photo {index}?",
            "answers": [f"landmark {index}"],
            "image_searches": int(searched),
        }
        if outcome is None:
            logs.append(SampleLog(status=Status.MODEL_ERROR, error="endpoint timed out", **common))
            continue
        logs.append(
            SampleLog(
                status=Status.OK,
                answer=f"landmark {index}" if outcome else "somewhere else",
                verdict=Verdict.CORRECT if outcome else Verdict.INCORRECT,
                judge_stage=JudgeStage.RULES,
                **common,
            )
        )
    return logs


def write_run(folder: Path, result: RunResult, samples: list[SampleLog] | None = None) -> Path:
    """A run folder as the harness leaves it: result.json, and samples.jsonl when given."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "result.json").write_text(result.model_dump_json(indent=2), encoding="utf-8")
    if samples is not None:
        (folder / "samples.jsonl").write_text("".join(log.model_dump_json() + "\n" for log in samples))
    return folder


def default_samples(n: int = 12) -> list[SampleLog]:
    return sample_logs([index % 3 != 0 for index in range(n)])
