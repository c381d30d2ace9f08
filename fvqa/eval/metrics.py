"""Run metrics from the per-sample logs: pure functions, no model calls, no files.

`compute_metrics` turns the `SampleLog`s of one run into ``(metrics, counts)`` for
result.json; `paired_bootstrap` compares two runs on the samples they share (the leaderboard
uses it). Definitions, as implemented:

- each sample id counts once: when a resumed run logged an id several times, the log with
  the highest ``attempt`` wins (the later one on a tie); ``counts["superseded_attempts"]``
  says how many logs were dropped that way;
- counts are over all samples (what the run did); ``samples`` equals ok + parse_errors +
  model_errors + tool_errors + judge_errors;
- rates are over the scored samples (status ok or parse_error, see `records.py`) and are
  None when there are none; a correct sample has status ok and verdict CORRECT (a
  parse_error is incorrect whatever its verdict field says);
- bootstrap intervals are percentile intervals (2.5 and 97.5) over resamples of the scored
  samples. Resampling n yes/no outcomes with replacement gives a count of yeses that is
  exactly Binomial(n, k/n) (and for paired outcomes a multinomial over the four cells), so
  the resamples are drawn from those distributions directly: the same bootstrap, at a cost
  that does not grow with n.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fvqa.eval.records import RATE_METRICS, JudgeStage, SampleLog, Status, Verdict

UNKNOWN_GROUP = "unknown"
"""The group of a sample with no category (or no search label)."""

_STATUS_COUNTS = {
    "ok": Status.OK,
    "parse_errors": Status.PARSE_ERROR,
    "model_errors": Status.MODEL_ERROR,
    "tool_errors": Status.TOOL_ERROR,
    "judge_errors": Status.JUDGE_ERROR,
}


@dataclass(frozen=True, slots=True)
class LogSummary:
    """The fields of a `SampleLog` that metrics read: a few hundred bytes, so a run of any size
    can be summed up in little memory. `compute_metrics` takes either."""

    id: str
    attempt: int
    status: Status
    verdict: Verdict | None
    category: str | None
    search_label: str | None
    image_searches: int
    text_searches: int
    search_failures: int
    judge_stage: JudgeStage | None
    rules_verdict: Verdict | None

    @classmethod
    def of(cls, log: SampleLog) -> LogSummary:
        return cls(**{name: getattr(log, name) for name in cls.__slots__})


def latest_attempts(logs: Iterable[SampleLog | LogSummary]) -> tuple[list[SampleLog | LogSummary], int]:
    """One log per sample id (the highest attempt, the later log on a tie) and how many were dropped."""
    kept: dict[str, SampleLog] = {}
    total = 0
    for log in logs:
        total += 1
        previous = kept.get(log.id)
        if previous is None or log.attempt >= previous.attempt:
            kept[log.id] = log
    return list(kept.values()), total - len(kept)


def bootstrap_accuracy_ci(
    n_correct: int, n: int, *, seed: int | list[int] = 0, n_bootstrap: int = 1000
) -> list[float] | None:
    """The 95% percentile-bootstrap interval of ``n_correct / n`` (None when n is 0)."""
    if n_bootstrap < 1:
        raise ValueError("n_bootstrap must be at least 1")
    if n <= 0:
        return None
    rng = np.random.default_rng(seed)
    means = rng.binomial(n, n_correct / n, size=n_bootstrap) / n
    low, high = np.percentile(means, [2.5, 97.5])
    return [float(low), float(high)]


@dataclass(frozen=True)
class _Columns:
    """The per-sample fields the metrics need, as numpy arrays in one order."""

    scored: np.ndarray
    correct: np.ndarray
    not_attempted: np.ndarray
    image: np.ndarray
    text: np.ndarray
    failures: np.ndarray

    @classmethod
    def of(cls, logs: list[SampleLog]) -> _Columns:
        status = np.array([log.status.value for log in logs], dtype=object)
        verdict = np.array([log.verdict.value if log.verdict else "" for log in logs], dtype=object)
        scored = (status == Status.OK.value) | (status == Status.PARSE_ERROR.value)
        return cls(
            scored=scored.astype(bool),
            correct=((status == Status.OK.value) & (verdict == Verdict.CORRECT.value)).astype(bool),
            not_attempted=(scored & (verdict == Verdict.NOT_ATTEMPTED.value)).astype(bool),
            image=np.array([log.image_searches for log in logs], dtype=np.int64),
            text=np.array([log.text_searches for log in logs], dtype=np.int64),
            failures=np.array([log.search_failures for log in logs], dtype=np.int64),
        )


def _rates(cols: _Columns, mask: np.ndarray, max_calls: int, seed: int | list[int], n_bootstrap: int) -> dict[str, Any]:
    """Every rate over the scored samples among ``mask`` (all None when there are none)."""
    chosen = mask & cols.scored
    n = int(chosen.sum())
    if n == 0:
        return dict.fromkeys(RATE_METRICS)
    image, text = cols.image[chosen], cols.text[chosen]
    correct = cols.correct[chosen]
    n_correct = int(correct.sum())
    calls = int(image.sum() + text.sum())
    searched = (image + text) > 0
    return {
        "accuracy": n_correct / n,
        "accuracy_ci95": bootstrap_accuracy_ci(n_correct, n, seed=seed, n_bootstrap=n_bootstrap),
        "not_attempted": int(cols.not_attempted[chosen].sum()) / n,
        "search_ratio": int(searched.sum()) / n,
        "search_call_ratio": calls / (n * max_calls) if max_calls > 0 else None,
        "image_only_share": int(((image > 0) & (text == 0)).sum()) / n,
        "text_only_share": int(((image == 0) & (text > 0)).sum()) / n,
        "mixed_share": int(((image > 0) & (text > 0)).sum()) / n,
        "no_search_share": int((~searched).sum()) / n,
        "search_failure_rate": int(cols.failures[chosen].sum()) / calls if calls else 0.0,
        "correct_without_search": int((correct & ~searched).sum()) / n,
    }


def _groups(
    keys: list[str], cols: _Columns, max_calls: int, seed: int, n_bootstrap: int, axis: str
) -> dict[str, dict[str, Any]]:
    """The rates of each group, with its sample and scored counts; seeds derive from the group name."""
    names = np.array(keys, dtype=object)
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(set(keys)):
        mask = names == name
        group_seed = [seed, zlib.crc32(f"{axis}:{name}".encode())]
        out[name] = {
            "n": int(mask.sum()),
            "scored": int((mask & cols.scored).sum()),
            "correct": int((mask & cols.correct).sum()),
            **_rates(cols, mask, max_calls, group_seed, n_bootstrap),
        }
    return out


def _judge_counts(logs: list[SampleLog], llm_judge: bool) -> dict[str, int]:
    """Which stage decided, and where the LLM's verdict and the rules' differ on correctness."""
    by_rules = sum(1 for log in logs if log.verdict is not None and log.judge_stage is JudgeStage.RULES)
    by_llm = [log for log in logs if log.verdict is not None and log.judge_stage is JudgeStage.LLM]
    upgrades = sum(1 for log in by_llm if log.verdict is Verdict.CORRECT and log.rules_verdict is not Verdict.CORRECT)
    downgrades = sum(1 for log in by_llm if log.verdict is not Verdict.CORRECT and log.rules_verdict is Verdict.CORRECT)
    return {
        "judged_by_rules": by_rules,
        "judged_by_llm": len(by_llm),
        "llm_calls_saved": by_rules if llm_judge else 0,
        "rules_llm_disagreements": upgrades + downgrades,
        "llm_correct_rules_no_match": upgrades,
        "llm_incorrect_rules_match": downgrades,
    }


def compute_metrics(
    logs: Iterable[SampleLog | LogSummary],
    *,
    max_image_searches: int,
    max_text_searches: int,
    seed: int = 0,
    n_bootstrap: int = 1000,
    llm_judge: bool = False,
) -> tuple[dict[str, Any], dict[str, int]]:
    """The metrics and counts of one run (see the module docstring for every definition).

    ``max_image_searches`` and ``max_text_searches`` are the run's per-sample limits (the
    denominator of ``search_call_ratio``); ``llm_judge`` says whether an LLM judge was
    configured (only then do rules decisions save LLM calls).
    """
    if max_image_searches < 0 or max_text_searches < 0:
        raise ValueError("search limits cannot be negative")
    if n_bootstrap < 1:
        raise ValueError("n_bootstrap must be at least 1")
    kept, superseded = latest_attempts(logs)
    cols = _Columns.of(kept)
    max_calls = max_image_searches + max_text_searches
    statuses = [log.status for log in kept]
    counts: dict[str, int] = {"samples": len(kept), "scored": int(cols.scored.sum())}
    counts.update({name: statuses.count(status) for name, status in _STATUS_COUNTS.items()})
    counts.update(
        correct=int(cols.correct.sum()),
        not_attempted=int(cols.not_attempted.sum()),
        search_calls=int(cols.image.sum() + cols.text.sum()),
        image_search_calls=int(cols.image.sum()),
        text_search_calls=int(cols.text.sum()),
        search_failures=int(cols.failures.sum()),
        superseded_attempts=superseded,
    )
    counts.update(_judge_counts(kept, llm_judge))
    everything = np.ones(len(kept), dtype=bool)
    metrics = _rates(cols, everything, max_calls, seed, n_bootstrap)
    categories = [log.category or UNKNOWN_GROUP for log in kept]
    labels = [log.search_label or UNKNOWN_GROUP for log in kept]
    metrics["by_category"] = _groups(categories, cols, max_calls, seed, n_bootstrap, "category")
    metrics["by_search_label"] = _groups(labels, cols, max_calls, seed, n_bootstrap, "search_label")
    return metrics, counts


def paired_bootstrap(
    correct_a: Mapping[str, bool], correct_b: Mapping[str, bool], *, seed: int = 0, n: int = 10000
) -> dict[str, Any]:
    """Compare the accuracy of run a and run b on the sample ids both hold, by a paired bootstrap.

    ``difference`` is accuracy(a) - accuracy(b) on the common ids; ``ci95`` its percentile
    interval; ``p_value`` the two-sided bootstrap p-value: the share of resampled differences
    on the other side of zero from the observed one (zero itself included), doubled and
    capped at 1 (1 when the observed difference is 0; 0 means fewer than one resample in
    ``n`` crossed). ``significant`` is ``p_value < 0.05``. Ids held by one run only are
    counted (``only_a``, ``only_b``), never compared.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    common = sorted(set(correct_a) & set(correct_b))
    size = len(common)
    result: dict[str, Any] = {
        "n_common": size,
        "only_a": len(set(correct_a) - set(correct_b)),
        "only_b": len(set(correct_b) - set(correct_a)),
        "n_resamples": n,
        "seed": seed,
    }
    if size == 0:
        empty = dict.fromkeys(("accuracy_a", "accuracy_b", "difference", "ci95", "p_value"))
        return {**result, **empty, "significant": False}
    a = np.array([bool(correct_a[key]) for key in common])
    b = np.array([bool(correct_b[key]) for key in common])
    only_a_right, only_b_right = int((a & ~b).sum()), int((~a & b).sum())
    difference = (only_a_right - only_b_right) / size
    rng = np.random.default_rng(seed)
    neither = size - only_a_right - only_b_right
    cells = rng.multinomial(size, [only_a_right / size, only_b_right / size, neither / size], n)
    diffs = (cells[:, 0] - cells[:, 1]) / size
    if difference > 0:
        p_value = min(1.0, 2 * float((diffs <= 0).mean()))
    elif difference < 0:
        p_value = min(1.0, 2 * float((diffs >= 0).mean()))
    else:
        p_value = 1.0
    low, high = np.percentile(diffs, [2.5, 97.5])
    return {
        **result,
        "accuracy_a": float(a.mean()),
        "accuracy_b": float(b.mean()),
        "difference": difference,
        "ci95": [float(low), float(high)],
        "p_value": p_value,
        "significant": p_value < 0.05,
    }
