"""Leaderboard: check submitted runs, rank comparable ones in CI tiers, and publish a static site.

It reads the files an evaluation run leaves (`result.json`, `samples.jsonl`; see
`fvqa.eval.records`), never the harness's internals.

- `build_site(results_dir, out_dir) -> BuildReport`: the whole site, refused submissions listed;
- `add_run(run_dir, results_dir) -> Added`: check one run and copy it in under its stable name;
- `compare_runs(a, b) -> Comparison`: paired bootstrap of two runs on the same benchmark;
- `load_results`, `load_submission`, `Submission`, `Refusal`, `SubmissionError`: reading and checking;
- `group_runs`, `assign_tiers`, `TIER_RULE`: which runs are ranked together, and in which tiers.

The command line (`fvqa leaderboard add|build|compare`) is `fvqa.leaderboard.cli.leaderboard_app`.
"""

from fvqa.leaderboard.add import Added, add_run
from fvqa.leaderboard.build import BuildReport, build_site
from fvqa.leaderboard.compare import CompareError, Comparison, compare_runs
from fvqa.leaderboard.submissions import Refusal, Submission, SubmissionError, load_results, load_submission, run_key
from fvqa.leaderboard.tables import TIER_RULE, assign_tiers, group_runs

__all__ = [
    "TIER_RULE",
    "Added",
    "BuildReport",
    "CompareError",
    "Comparison",
    "Refusal",
    "Submission",
    "SubmissionError",
    "add_run",
    "assign_tiers",
    "build_site",
    "compare_runs",
    "group_runs",
    "load_results",
    "load_submission",
    "run_key",
]
