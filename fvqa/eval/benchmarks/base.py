"""What every benchmark loader shares: the `Benchmark` record, candidate rows, seeded selection and the data hash.

A loader reads its source cheaply and returns `Candidates`: one `Row` per question its subset
rule keeps (an id, a location a person can find, and a function that builds the `Sample`),
the rows it could not even identify, and the subset rule in words. `assemble` then draws the
seeded `--limit` subset by id, builds only the chosen rows (so a 2,000-item subset of a large
source decodes 2,000 images, not 70,000), sends every row that fails to `skipped` with its
reason, and hashes what was kept.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fvqa import dataset_io
from fvqa.schema import Sample
from fvqa.sources import describe_error

Skipped = tuple[str, str]
"""(location or id, reason) of a row that did not become a sample."""


class BenchmarkError(ValueError):
    """A benchmark that cannot be loaded at all: a bad suite file, a missing path, no usable rows."""


@dataclass(frozen=True)
class Benchmark:
    """The questions of one evaluation, with what was kept, why, and what could not be used."""

    name: str
    samples: list[Sample]
    data_hash: str
    """`sha256:` over the kept samples' content, independent of their order."""
    subset_rule: str
    source: str
    skipped: list[Skipped] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.samples)

    def describe(self) -> dict[str, Any]:
        """What a result file records about the data it evaluated."""
        return {
            "name": self.name,
            "data_hash": self.data_hash,
            "samples": len(self.samples),
            "subset_rule": self.subset_rule,
            "source": self.source,
            "skipped": len(self.skipped),
        }


@dataclass(frozen=True)
class Row:
    """One question a loader kept: its sample id, where it is, and how to build it."""

    key: str
    location: str
    build: Callable[[], Sample]


@dataclass
class Candidates:
    """A loader's answer: the rows its subset rule keeps, the rows it had to skip, and the rule."""

    rows: list[Row]
    skipped: list[Skipped]
    rule: str


def data_hash(samples: Iterable[Sample]) -> str:
    """The order-independent content hash of a set of samples, as fvqa datasets compute it."""
    return dataset_io.combine_digests(
        dataset_io.sample_digest(dataset_io.row_to_fields(dataset_io.sample_to_row(s))) for s in samples
    )


def pick(rows: list[Row], count: int, seed: int) -> list[Row]:
    """A seeded random `count` of `rows`, drawn over sorted ids so file order never matters; input order kept."""
    if count < 1:
        raise BenchmarkError(f"a subset size must be at least 1 (got {count})")
    if count >= len(rows):
        return list(rows)
    chosen = set(random.Random(seed).sample(sorted(row.key for row in rows), count))
    return [row for row in rows if row.key in chosen]


def unique(rows: list[Row], skipped: list[Skipped]) -> list[Row]:
    """Rows with distinct ids; a repeated id is skipped, naming where it was first seen."""
    first: dict[str, str] = {}
    kept = []
    for row in rows:
        if row.key in first:
            skipped.append((row.location, f"duplicate id {row.key} (first at {first[row.key]})"))
            continue
        first[row.key] = row.location
        kept.append(row)
    return kept


def assemble(name: str, found: Candidates, *, source: str, limit: int | None = None, seed: int = 0) -> Benchmark:
    """Draw the `--limit` subset, build the chosen rows (failures go to `skipped`) and hash the result."""
    skipped = list(found.skipped)
    rows = unique(found.rows, skipped)
    rule = found.rule
    if limit is not None:
        available = len(rows)
        rows = pick(rows, limit, seed)
        if limit < available:
            rule += f"; then --limit {limit}: a seeded random {limit} of those {available} (seed {seed})"
        else:
            rule += f"; --limit {limit} keeps all {available} (seed {seed} unused)"
    samples = []
    for row in rows:
        try:
            samples.append(row.build())
        except (ValueError, OSError) as err:
            skipped.append((row.location, describe_error(err)))
    if not samples:
        reasons = "; ".join(f"{where}: {why}" for where, why in skipped[:3]) or "the source holds no rows"
        raise BenchmarkError(f"benchmark {name!r} has no usable samples ({len(skipped)} skipped: {reasons})")
    return Benchmark(name, samples, data_hash(samples), rule, source, skipped)


def texts(value: Any) -> list[str]:
    """Every non-empty string in a value that may be a string, a number or a (nested) list of them."""
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, int | float):
        return [number_text(value)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in texts(item)]
    return []


def listed(value: Any) -> Any:
    """A JSON list written as text (some copies store answer lists that way) decoded; anything else as it is."""
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            decoded = json.loads(value)
        except json.JSONDecodeError:
            return value
        return decoded if isinstance(decoded, list) else value
    return value


def number_text(value: float) -> str:
    """A number as an answer is written: 3, not 3.0; 0.25 as it is."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def answer_and_aliases(candidates: Iterable[str]) -> tuple[str, list[str]]:
    """The first candidate as the answer and the other distinct ones as aliases; ValueError when there is none."""
    answers = list(dict.fromkeys(candidates))
    if not answers:
        raise ValueError("no answer")
    return answers[0], answers[1:]


def question_text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("empty question")
    return value.strip()


def json_records(path: Path, skipped: list[Skipped]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(location, object) for each record of a JSON Lines file or a JSON list; unreadable ones go to `skipped`."""
    if path.suffix == ".jsonl":
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                where = f"{path.name}:{number}"
                try:
                    data = json.loads(line)
                except json.JSONDecodeError as err:
                    skipped.append((where, f"not valid JSON ({err.msg})"))
                    continue
                if isinstance(data, dict):
                    yield where, data
                else:
                    skipped.append((where, "not a JSON object"))
        return
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise BenchmarkError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None
    if isinstance(data, dict):
        data = next((data[k] for k in ("data", "samples", "qa") if isinstance(data.get(k), list)), None)
    if not isinstance(data, list):
        raise BenchmarkError(f"{path}: expected a JSON list of records")
    for index, item in enumerate(data):
        where = f"{path.name}[{index}]"
        if isinstance(item, dict):
            yield where, item
        else:
            skipped.append((where, "not a JSON object"))


def require_path(paths: Mapping[str, Path], key: str, what: str, *, folder: bool | None = False) -> Path:
    """The path a suite names under `paths.<key>`, checked to exist (a folder, a file, or either when `folder`
    is None); BenchmarkError or FileNotFoundError name the key."""
    if key not in paths:
        raise BenchmarkError(f"the suite needs paths.{key}: {what}")
    path = paths[key]
    if not path.exists():
        raise FileNotFoundError(f"paths.{key} = {path} does not exist ({what})")
    if folder is True and not path.is_dir():
        raise BenchmarkError(f"paths.{key} = {path} is not a folder ({what})")
    if folder is False and path.is_dir():
        raise BenchmarkError(f"paths.{key} = {path} is a folder; expected a file ({what})")
    return path
