"""`fvqa validate`: check a dataset of either format and report every problem by sample.

Each row is checked on its own (fields, image, labels, hashes); a bad row is reported and
the scan goes on. Errors make a dataset unclean; warnings are worth a look but do not.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fvqa import dataset_io, imagefolder
from fvqa.images import DEFAULT_MAX_PIXELS, ImageDecodeError, decode_image, perceptual_hash
from fvqa.schema import Sample, SearchLabel
from fvqa.sources import DatasetFormat, Record, detect_format, iter_records
from fvqa.taxonomy import Category, subcategories

REQUIRED_TEXT = ("id", "source", "source_id", "split", "question", "answer")


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    severity: Severity
    kind: str
    location: str
    sample_id: str | None
    message: str


@dataclass
class ValidationReport:
    path: str
    format: str
    rows: int = 0
    clean_rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    splits: Counter[str] = field(default_factory=Counter)
    categories: Counter[str] = field(default_factory=Counter)
    search_labels: Counter[str] = field(default_factory=Counter)
    image_formats: Counter[str] = field(default_factory=Counter)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.WARNING]

    @property
    def rows_with_errors(self) -> int:
        return len({p.location for p in self.errors})

    def is_clean(self, strict: bool = False) -> bool:
        return not self.errors and not (strict and self.warnings)

    def problem_counts(self) -> dict[str, int]:
        return dict(Counter(f"{p.severity}:{p.kind}" for p in self.problems).most_common())

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "clean": self.is_clean(),
            "counts": {
                "rows": self.rows,
                "clean_rows": self.clean_rows,
                "rows_with_errors": self.rows_with_errors,
                "errors": len(self.errors),
                "warnings": len(self.warnings),
                "splits": dict(self.splits),
                "categories": dict(self.categories),
                "search_labels": dict(self.search_labels),
                "image_formats": dict(self.image_formats),
                "problems": self.problem_counts(),
            },
            "problems": [asdict(p) for p in self.problems],
        }


def _check_text(fields: dict[str, Any]) -> Iterator[tuple[Severity, str, str]]:
    for name in REQUIRED_TEXT:
        value = fields.get(name)
        if not isinstance(value, str) or not value.strip():
            yield Severity.ERROR, "missing_field", f"`{name}` is missing or empty"
    for alias in fields.get("aliases") or []:
        if not isinstance(alias, str) or not alias.strip():
            yield Severity.WARNING, "empty_alias", "an alias is empty"
            break


def _check_labels(fields: dict[str, Any]) -> Iterator[tuple[Severity, str, str]]:
    category, subcategory = fields.get("category"), fields.get("subcategory")
    known = {c.value for c in Category}
    if category in (None, ""):
        yield Severity.WARNING, "missing_category", "no knowledge category"
    elif category not in known:
        yield Severity.ERROR, "unknown_category", f"unknown category {category!r}"
    if subcategory and category in known and subcategory not in subcategories()[Category(category)]:
        yield Severity.ERROR, "unknown_subcategory", f"unknown subcategory {subcategory!r} for {category}"
    label = fields.get("search_label")
    if label is not None and label not in {s.value for s in SearchLabel}:
        yield Severity.ERROR, "unknown_search_label", f"unknown search label {label!r}"


def _check_image(record: Record, report: ValidationReport, max_pixels: int) -> Iterator[tuple[Severity, str, str]]:
    fields = record.fields or {}
    data = fields.get("image")
    if not isinstance(data, bytes | bytearray):
        yield Severity.ERROR, "missing_image", "the row holds no image"
        return
    try:
        decoded = decode_image(bytes(data), max_pixels=max_pixels)
    except ImageDecodeError as err:
        yield Severity.ERROR, "undecodable_image", f"image {err.reason}"
        return
    report.image_formats[decoded.format] += 1
    expected = imagefolder.EXTENSION_FORMATS.get(Path(record.file or "").suffix.lower())
    if record.file and expected != decoded.format:
        yield Severity.WARNING, "extension_mismatch", f"{record.file} holds a {decoded.format} image"
    recorded_sha = fields.get("image_sha256")
    if recorded_sha is not None and recorded_sha != decoded.sha256:
        yield (
            Severity.ERROR,
            "hash_mismatch",
            f"image_sha256 {recorded_sha} does not match the bytes ({decoded.sha256})",
        )
    recorded_phash = fields.get("phash")
    if recorded_phash is not None and recorded_phash != perceptual_hash(decoded.image):
        yield Severity.WARNING, "phash_mismatch", "phash differs from the image's recomputed perceptual hash"


def _check_record(fields: dict[str, Any], report: ValidationReport) -> Iterator[tuple[Severity, str, str]]:
    """Whatever pydantic still rejects once the specific checks have had their say."""
    probe = dict(fields)
    probe.setdefault("image_sha256", "0" * 64)
    try:
        Sample.model_validate(probe)
    except ValidationError as err:
        specific = {
            "id",
            "source",
            "source_id",
            "split",
            "question",
            "answer",
            "image",
            "category",
            "subcategory",
            "search_label",
        }
        for e in err.errors():
            loc = ".".join(map(str, e["loc"]))
            if e["loc"] and e["loc"][0] in specific:
                continue
            yield Severity.ERROR, "invalid_field", f"{loc or 'record'}: {e['msg']}"


def _check_manifest(path: Path, report: ValidationReport, digests: list[bytes]) -> None:
    manifest = dataset_io.read_manifest(path)
    where = dataset_io.MANIFEST_NAME

    def problem(message: str) -> None:
        report.problems.append(Problem(Severity.ERROR, "manifest_mismatch", where, None, message))

    if manifest["counts"]["samples"] != report.rows:
        problem(f"manifest counts {manifest['counts']['samples']} samples but the shards hold {report.rows}")
    for entry in manifest["files"]:
        file = path / entry["path"]
        if file.exists() and dataset_io.file_sha256(file) != entry["sha256"]:
            problem(f"{entry['path']} changed since the manifest was written (sha256 differs)")
    if report.rows == manifest["counts"]["samples"] and dataset_io.combine_digests(digests) != manifest["content_hash"]:
        problem("content hash differs from the manifest's")


def validate(
    path: str | Path,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: Callable[[int], None] | None = None,
) -> ValidationReport:
    """Check every row behind `path`; never stops at a bad row."""
    path = Path(path)
    fmt = detect_format(path)
    report = ValidationReport(path=str(path), format=str(fmt))
    first_seen: dict[str, str] = {}
    digests: list[bytes] = []
    is_fvqa_folder = path.is_dir() and (path / dataset_io.MANIFEST_NAME).exists()
    listed = fmt is DatasetFormat.IMAGEFOLDER and any((path / n).exists() for n in imagefolder.METADATA_NAMES)
    for record in iter_records(path):
        report.rows += 1
        found = list(_check(record, report, first_seen, max_pixels))
        if listed and record.image_only:
            found.append((Severity.WARNING, "unlisted_file", "no metadata row names this file"))
        for severity, kind, message in found:
            report.problems.append(Problem(severity, kind, record.location, record.sample_id, message))
        if not any(s is Severity.ERROR for s, _, _ in found):
            report.clean_rows += 1
        if is_fvqa_folder and record.fields is not None:
            digests.append(dataset_io.sample_digest(record.fields))
        if progress is not None:
            progress(report.rows)
    if is_fvqa_folder and fmt is DatasetFormat.FVQA:
        _check_manifest(path, report, digests)
    return report


def _check(
    record: Record, report: ValidationReport, first_seen: dict[str, str], max_pixels: int
) -> Iterator[tuple[Severity, str, str]]:
    if record.fields is None:
        yield Severity.ERROR, "unreadable_row", record.error or "row could not be read"
        return
    fields = record.fields
    if record.image_only:
        yield from _check_image(record, report, max_pixels)
        return
    sample_id = record.sample_id
    if sample_id:
        if sample_id in first_seen:
            yield Severity.ERROR, "duplicate_id", f"id already used at {first_seen[sample_id]}"
        else:
            first_seen[sample_id] = record.location
    report.splits[str(fields.get("split"))] += 1
    report.categories[str(fields.get("category") or "none")] += 1
    report.search_labels[str(fields.get("search_label") or "unknown")] += 1
    yield from _check_text(fields)
    yield from _check_labels(fields)
    yield from _check_image(record, report, max_pixels)
    yield from _check_record(fields, report)
