"""Read and check submitted runs: one folder with `result.json` (and `samples.jsonl` when submitted).

A submission is checked in three layers, and the first failure refuses it with the file and
the field it concerns (a pydantic location such as `judge.template_hash`):

1. `result.json` parses as JSON and as a `RunResult` (the harness's contract);
2. the fields the leaderboard needs to rank it fairly are there and typed
   (`requirements.Requirements`), and the run is `complete`;
3. every line of `samples.jsonl`, when present, is a `SampleLog`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from fvqa.eval.records import RESULT_SCHEMA_VERSION, RunResult, SampleLog
from fvqa.leaderboard.requirements import Requirements

RESULT_FILE = "result.json"
SAMPLES_FILE = "samples.jsonl"


class SubmissionError(ValueError):
    """A refused submission: which folder, which file, which field, and why."""

    def __init__(self, folder: Path, file: str, field: str | None, message: str) -> None:
        self.folder, self.file, self.field, self.message = folder, file, field, message
        where = f"{folder / file}" + (f": field {field}" if field else "")
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Refusal:
    """A submission that was not ranked, as the site and the report list it."""

    folder: str
    file: str
    field: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.folder}/{self.file}" + (f" [{self.field}]" if self.field else "") + f": {self.message}"


@dataclass(frozen=True)
class Submission:
    """One checked run: the raw result, its typed view, and where its files are."""

    folder: Path
    result: RunResult = dataclasses.field(repr=False)
    info: Requirements = dataclasses.field(repr=False)
    samples: Path | None
    digest: str
    """sha256 of the canonical result.json content."""

    @property
    def key(self) -> str:
        return run_key(self.result, self.digest)

    @property
    def judge_identity(self) -> tuple[str, str | None, str | None, str | None]:
        """(kind, model, template hash, rules version): runs are ranked together only when these agree."""
        judge = self.info.judge
        if judge.kind == "llm":
            return (judge.kind, judge.model, judge.template_hash, judge.rules_version)
        return ("rules", None, None, judge.rules_version)

    @property
    def run_time(self) -> str:
        """When the run finished (or started), as written; empty when unknown."""
        return self.info.provenance.finished or self.info.provenance.started or ""

    @property
    def run_epoch(self) -> float:
        """`run_time` as seconds since the epoch (naive times read as UTC); 0 when unknown or unparsable."""
        try:
            moment = datetime.fromisoformat(self.run_time)
        except ValueError:
            return 0.0
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def slug(text: str, limit: int = 60) -> str:
    """A file-name-safe lower-case form of `text` (never empty)."""
    cleaned = re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-.")
    return re.sub(r"-{2,}", "-", cleaned)[:limit].strip("-.") or "x"


def compact_time(stamp: str) -> str:
    """`2025-06-01T12:30:00+00:00` -> `20250601T123000`; the digits of anything unparsable."""
    try:
        return datetime.fromisoformat(stamp).strftime("%Y%m%dT%H%M%S")
    except ValueError:
        return re.sub(r"\D", "", stamp)[:14] or "undated"


def result_digest(result: RunResult) -> str:
    canonical = json.dumps(result.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def run_key(result: RunResult, digest: str | None = None) -> str:
    """The stable folder name of a run: benchmark, model id, start time and a content hash."""
    provenance = result.provenance
    stamp = str(provenance.get("started") or provenance.get("finished") or "")
    digest = digest or result_digest(result)
    return "__".join(
        (
            slug(str(result.benchmark.get("name", "")), 40),
            slug(str(result.model.get("id", "")), 60),
            f"{compact_time(stamp) if stamp else 'undated'}-{digest[:10]}",
        )
    )


def _location(error: ErrorDetails, prefix: tuple[str | int, ...] = ()) -> str:
    return ".".join(str(part) for part in (*prefix, *error["loc"])) or "(top level)"


def _refuse(folder: Path, file: str, err: ValidationError, prefix: tuple[str | int, ...] = ()) -> SubmissionError:
    first = err.errors()[0]
    more = f" (and {err.error_count() - 1} more problem(s))" if err.error_count() > 1 else ""
    message = first["msg"]
    if first["type"] == "missing":
        message = "missing, and required"
    elif first.get("input", "") is None:
        message = f"is null, but required ({first['msg']})"
    if first["type"] == "literal_error" and first["loc"] == ("complete",):
        message = "the run is not complete (complete is false): finish or resume it before submitting"
    message += more
    return SubmissionError(folder, file, _location(first, prefix), message)


def read_result(folder: Path) -> tuple[RunResult, Requirements]:
    """Parse and check `folder/result.json`; raise `SubmissionError` naming the file and field."""
    path = folder / RESULT_FILE
    if not path.is_file():
        raise SubmissionError(folder, RESULT_FILE, None, "missing: a submission is a folder holding result.json")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SubmissionError(folder, RESULT_FILE, None, f"not valid JSON ({err})") from None
    if not isinstance(raw, dict):
        raise SubmissionError(folder, RESULT_FILE, None, "not a JSON object")
    try:
        result = RunResult.model_validate(raw)
    except ValidationError as err:
        raise _refuse(folder, RESULT_FILE, err) from None
    if result.schema_version > RESULT_SCHEMA_VERSION:
        raise SubmissionError(
            folder, RESULT_FILE, "schema_version", f"{result.schema_version} is newer than this fvqa understands"
        )
    if isinstance(raw.get("metrics"), dict) and raw["metrics"].get("accuracy", 0) is None:
        raise SubmissionError(folder, RESULT_FILE, "metrics.accuracy", "is null: the run scored no sample")
    try:
        info = Requirements.model_validate(raw)
    except ValidationError as err:
        raise _refuse(folder, RESULT_FILE, err) from None
    lo, hi = info.metrics.accuracy_ci95
    if lo > hi:
        raise SubmissionError(folder, RESULT_FILE, "metrics.accuracy_ci95", f"lower bound {lo} is above upper {hi}")
    if info.judge.kind == "llm":
        for field in ("model", "template_hash"):
            if not (getattr(info.judge, field) or "").strip():
                raise SubmissionError(folder, RESULT_FILE, f"judge.{field}", "required for an LLM judge")
    return result, info


def read_samples(path: Path) -> list[SampleLog]:
    """Every line of a samples.jsonl, checked; raise `SubmissionError` naming the line and field."""
    logs: list[SampleLog] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                logs.append(SampleLog.model_validate_json(line))
            except ValidationError as err:
                raise _refuse(path.parent, SAMPLES_FILE, err, (f"line {number}",)) from None
    return logs


def load_submission(folder: Path, *, check_samples: bool = True) -> Submission:
    """Read one submitted run folder (or the folder of a given result.json)."""
    folder = folder.parent if folder.name == RESULT_FILE else folder
    result, info = read_result(folder)
    samples = folder / SAMPLES_FILE
    if samples.is_file() and check_samples:
        read_samples(samples)
    return Submission(folder, result, info, samples if samples.is_file() else None, result_digest(result))


def find_run_folders(results_dir: Path) -> tuple[list[Path], list[Path]]:
    """Folders holding a result.json (at any depth), and top-level folders that hold none."""
    if not results_dir.is_dir():
        raise FileNotFoundError(f"results folder not found: {results_dir}")
    runs = sorted({path.parent for path in results_dir.rglob(RESULT_FILE) if not _hidden(path, results_dir)})
    empty = sorted(
        child
        for child in results_dir.iterdir()
        if child.is_dir() and not child.name.startswith(".") and not any(run.is_relative_to(child) for run in runs)
    )
    return runs, empty


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def load_results(results_dir: Path) -> tuple[list[Submission], list[Refusal]]:
    """Every run under `results_dir`, checked: the accepted ones and the refused ones with reasons.

    The same run submitted twice (identical result.json) is kept once; the copy is listed as refused.
    """
    runs, empty = find_run_folders(results_dir)
    accepted: dict[str, Submission] = {}
    refused = [Refusal(_name(path, results_dir), RESULT_FILE, None, "no result.json in this folder") for path in empty]
    for folder in runs:
        try:
            submission = load_submission(folder)
        except SubmissionError as err:
            refused.append(Refusal(_name(folder, results_dir), err.file, err.field, err.message))
            continue
        if (twin := accepted.get(submission.digest)) is not None:
            message = f"the same run as {_name(twin.folder, results_dir)} (identical result.json), ranked once"
            refused.append(Refusal(_name(folder, results_dir), RESULT_FILE, None, message))
            continue
        accepted[submission.digest] = submission
    return list(accepted.values()), refused


def _name(folder: Path, root: Path) -> str:
    return folder.relative_to(root).as_posix() if folder != root else root.name
