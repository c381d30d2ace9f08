"""Which runs are ranked together, and in which tiers.

Comparable runs: the same benchmark name, the same benchmark data hash and the same judge
(kind and rules version, and for an LLM judge its model and template hash). Each comparable
group is one table. A benchmark's main table is its largest group (ties: the one with the most recent run); every
other group gets its own table whose title says why it is separate.

Tiers (`TIER_RULE`): within a table, rows are sorted by accuracy. The first row opens tier 1;
each next row joins the current tier when its 95% CI overlaps the CI of that tier's first
(best) row, otherwise it opens the next tier. Overlapping CIs do not prove two models equal,
but they do mean the data cannot tell them apart with confidence, so they share a tier.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from fvqa.leaderboard.submissions import Submission

TIER_RULE = (
    "Rows are sorted by accuracy. The best row opens tier 1; each next row joins the current tier "
    "when its 95% confidence interval overlaps the interval of that tier's best row, otherwise it opens "
    "the next tier. Models in one tier cannot be told apart with confidence on this data: read them as "
    "equally good, not as ranked. Shading alternates by tier."
)

JudgeIdentity = tuple[str, str | None, str | None, str | None]
"""kind, model, template hash, rules version."""


@dataclass(frozen=True)
class Row:
    """A ranked run: its place in the sorted table and its tier."""

    submission: Submission
    position: int
    tier: int


@dataclass
class Table:
    """One comparable group of runs of one benchmark."""

    benchmark: str
    data_hash: str
    judge: JudgeIdentity
    rows: list[Row] = field(default_factory=list)
    main: bool = True
    why_separate: str | None = None
    """None for the main table; otherwise the reason it is not ranked with the main table."""

    main_data_hash: str | None = None
    main_judge: JudgeIdentity | None = None
    """For a separate table: the main table's data hash and judge (what this one differs from)."""

    @property
    def difference(self) -> str:
        """In a few words, what sets a separate table apart ("" for the main table)."""
        parts = []
        if self.main_data_hash is not None and self.data_hash != self.main_data_hash:
            parts.append("another data revision")
        if self.main_judge is not None and self.judge != self.main_judge:
            parts.append("another judge")
        return " and ".join(parts)

    @property
    def title(self) -> str:
        if self.main:
            return f"{self.benchmark}: main table"
        return f"{self.benchmark}: separate table ({self.difference})"


@dataclass
class Benchmark:
    """A benchmark with its tables, the main one first."""

    name: str
    tables: list[Table]

    @property
    def main(self) -> Table:
        return self.tables[0]


def describe_judge(judge: JudgeIdentity) -> str:
    kind, model, template, rules = judge
    rules_text = f"rules v{rules}" if rules else "rules"
    if kind != "llm":
        return f"{rules_text} only (normalised exact match)"
    return f"LLM judge {model} with template {short_hash(template)} (after {rules_text})"


def short_hash(value: str | None, length: int = 12) -> str:
    return (value or "unknown")[:length]


def ci_overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def sort_runs(runs: list[Submission]) -> list[Submission]:
    """Best first: accuracy, then the higher CI lower bound, then model id (for a stable order)."""
    return sorted(
        runs,
        key=lambda run: (-run.info.metrics.accuracy, -run.info.metrics.accuracy_ci95[0], run.info.model.id, run.key),
    )


def assign_tiers(runs: list[Submission]) -> list[Row]:
    """Rank `runs` and put them in CI-overlap tiers (see `TIER_RULE`)."""
    rows: list[Row] = []
    leader: Submission | None = None
    tier = 0
    for position, run in enumerate(sort_runs(runs), 1):
        if leader is None or not ci_overlap(run.info.metrics.accuracy_ci95, leader.info.metrics.accuracy_ci95):
            leader, tier = run, tier + 1
        rows.append(Row(run, position, tier))
    return rows


def why_separate(table: Table, main: Table) -> str:
    """The reason `table` is not ranked with `main`, in words."""
    reasons = []
    if table.data_hash != main.data_hash:
        reasons.append(
            f"computed on data revision {short_hash(table.data_hash)} instead of {short_hash(main.data_hash)}"
        )
    if table.judge != main.judge:
        reasons.append(f"judged by {describe_judge(table.judge)} instead of {describe_judge(main.judge)}")
    return "; ".join(reasons)


def group_runs(runs: list[Submission]) -> list[Benchmark]:
    """Split runs into benchmarks and comparable tables; benchmarks sorted by name."""
    groups: dict[str, dict[tuple[str, JudgeIdentity], list[Submission]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        groups[run.info.benchmark.name][(run.info.benchmark.data_hash, run.judge_identity)].append(run)
    benchmarks = []
    for name in sorted(groups):
        tables = [
            Table(name, data_hash, judge, assign_tiers(members)) for (data_hash, judge), members in groups[name].items()
        ]
        tables.sort(key=lambda table: (len(table.rows), _latest(table)), reverse=True)
        for table in tables[1:]:
            table.main = False
            table.main_data_hash, table.main_judge = tables[0].data_hash, tables[0].judge
            table.why_separate = why_separate(table, tables[0])
        benchmarks.append(Benchmark(name, tables))
    return benchmarks


def _latest(table: Table) -> float:
    return max((row.submission.run_epoch for row in table.rows), default=0.0)
