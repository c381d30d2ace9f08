"""`add_run`: check one run folder and copy it into a results folder under its stable name."""

from __future__ import annotations

import filecmp
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fvqa.leaderboard.submissions import RESULT_FILE, SAMPLES_FILE, Submission, load_submission, read_result
from fvqa.leaderboard.submissions import result_digest as digest_of


@dataclass(frozen=True)
class Added:
    """Where the run now lives, and whether this call copied it (False: it was already there)."""

    submission: Submission
    path: Path
    copied: bool


def _same_run(submission: Submission, target: Path) -> bool:
    """Does `target` already hold exactly this run (same result and the same samples log, or none)?"""
    try:
        existing, _ = read_result(target)
    except ValueError:
        return False
    if digest_of(existing) != submission.digest:
        return False
    theirs = target / SAMPLES_FILE
    if submission.samples is None:
        return not theirs.exists()
    return theirs.is_file() and filecmp.cmp(submission.samples, theirs, shallow=False)


def add_run(run_dir: Path, results_dir: Path) -> Added:
    """Check the run in `run_dir` (result.json, samples.jsonl when present) and copy it into `results_dir`.

    The folder name is `Submission.key` (benchmark, model id, start time, content hash). A folder
    of that name holding the same run is left alone; one holding a different run is never
    overwritten: `FileExistsError`. A malformed run raises `SubmissionError` naming file and field.
    """
    submission = load_submission(Path(run_dir))
    results_dir = Path(results_dir)
    target = results_dir / submission.key
    if target.exists():
        if _same_run(submission, target):
            return Added(submission, target, copied=False)
        raise FileExistsError(
            f"{target} already holds a different run (its result.json or samples.jsonl differ); "
            "it was not overwritten: remove it yourself if it should be replaced"
        )
    results_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{submission.key}.", dir=results_dir))
    try:
        shutil.copyfile(submission.folder / RESULT_FILE, staging / RESULT_FILE)
        if submission.samples is not None:
            shutil.copyfile(submission.samples, staging / SAMPLES_FILE)
        staging.chmod(0o755)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Added(submission, target, copied=True)
