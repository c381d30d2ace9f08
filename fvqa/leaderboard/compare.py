"""`compare_runs`: a paired comparison of two runs of one benchmark from their per-sample logs.

Per sample, correct means status ok with verdict CORRECT, as in `fvqa.eval.metrics` (a
parse_error is scored and incorrect); samples that were not scored (model, tool or judge
errors) are left out of the pair. When a resumed run logged a sample more than once, its
last attempt counts (`fvqa.eval.metrics.latest_attempts`). The statistics come from
`fvqa.eval.metrics.paired_bootstrap` over the samples both runs scored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fvqa.eval.records import Status, Verdict
from fvqa.leaderboard.submissions import Submission, load_submission, read_samples
from fvqa.leaderboard.tables import describe_judge


class CompareError(ValueError):
    """Two runs that cannot be compared, and why."""


@dataclass(frozen=True)
class Comparison:
    a: Submission
    b: Submission
    accuracy_a: float
    accuracy_b: float
    """Accuracies on the samples both runs scored (may differ from the runs' overall accuracy)."""
    bootstrap: dict[str, Any]
    """paired_bootstrap's answer: difference (A minus B), ci95, p_value, significant, n_common."""
    warnings: list[str] = field(default_factory=list)

    @property
    def significant(self) -> bool:
        return bool(self.bootstrap["significant"])


def correctness(submission: Submission) -> dict[str, bool]:
    """Sample id -> correct, for the scored samples of a run's samples.jsonl (last attempt wins)."""
    if submission.samples is None:
        raise CompareError(
            f"{submission.folder}: samples.jsonl is missing, and a paired comparison needs per-sample results"
        )
    from fvqa.eval.metrics import latest_attempts

    logs, _ = latest_attempts(read_samples(submission.samples))
    return {log.id: log.status is Status.OK and log.verdict is Verdict.CORRECT for log in logs if log.status.scored}


def _check_comparable(a: Submission, b: Submission) -> list[str]:
    bench_a, bench_b = a.info.benchmark, b.info.benchmark
    if bench_a.name != bench_b.name:
        raise CompareError(f"the runs are on different benchmarks: {bench_a.name!r} and {bench_b.name!r}")
    if bench_a.data_hash != bench_b.data_hash:
        raise CompareError(
            f"the runs are on different data revisions of {bench_a.name!r}: "
            f"data_hash {bench_a.data_hash} and {bench_b.data_hash}"
        )
    warnings = []
    if a.judge_identity != b.judge_identity:
        warnings.append(
            f"the runs were judged differently (A: {describe_judge(a.judge_identity)}; "
            f"B: {describe_judge(b.judge_identity)}), so part of the difference may be the judge's"
        )
    return warnings


def compare_runs(a_dir: Path, b_dir: Path, *, seed: int = 0, n: int = 10000) -> Comparison:
    """Compare run A with run B (folders, or their result.json); raise `CompareError` when they cannot be."""
    a, b = load_submission(Path(a_dir), check_samples=False), load_submission(Path(b_dir), check_samples=False)
    warnings = _check_comparable(a, b)
    correct_a, correct_b = correctness(a), correctness(b)
    common = correct_a.keys() & correct_b.keys()
    if not common:
        raise CompareError("the runs have no scored sample in common (different sample ids?)")
    left_out = len(correct_a.keys() | correct_b.keys()) - len(common)
    if left_out:
        warnings.append(f"{left_out} sample(s) scored by only one of the runs are left out of the pair")
    from fvqa.eval.metrics import paired_bootstrap  # the harness's statistics, loaded only when comparing

    bootstrap = paired_bootstrap(correct_a, correct_b, seed=seed, n=n)
    return Comparison(
        a,
        b,
        sum(correct_a[sample] for sample in common) / len(common),
        sum(correct_b[sample] for sample in common) / len(common),
        dict(bootstrap),
        warnings,
    )
