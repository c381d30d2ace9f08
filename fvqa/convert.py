"""`fvqa convert`: stream a dataset from one format to the other, keeping bad rows on record."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fvqa import dataset_io, official
from fvqa.images import DEFAULT_MAX_PIXELS
from fvqa.schema import Sample
from fvqa.sources import DatasetFormat, Rejected, describe_error, iter_records, to_sample


@dataclass
class ConvertResult:
    output: Path
    rejects_path: Path
    written: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def read(self) -> int:
        return self.written + len(self.rejected)


def rejects_path_for(dst: Path, to: DatasetFormat) -> Path:
    """Where the rows that could not be converted are listed (JSON lines)."""
    return dst / "rejects.jsonl" if to is DatasetFormat.FVQA else dst.with_name(dst.name + ".rejects.jsonl")


def convert(
    src: str | Path,
    dst: str | Path,
    *,
    to: DatasetFormat,
    split: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ConvertResult:
    """Convert `src` (either format) into `dst` in format `to`.

    Rows that cannot become valid samples, and repeated ids, are skipped and listed in
    the rejects file with their location and reason; every other row is written.
    """
    dst = Path(dst)
    if to is DatasetFormat.OFFICIAL and dst.exists() and not overwrite:
        raise FileExistsError(f"{dst} exists; pass overwrite to replace it")
    result = ConvertResult(output=dst, rejects_path=rejects_path_for(dst, to))
    seen: set[str] = set()

    def samples() -> Iterator[Sample]:
        for record in iter_records(src):
            if progress is not None:
                progress(result.read + 1)
            try:
                sample = to_sample(record, max_pixels=max_pixels)
            except ValueError as err:
                result.rejected.append(Rejected(record.location, record.sample_id, describe_error(err)))
                continue
            if sample.id in seen:
                reason = "duplicate sample id; the first row with it was kept"
                result.rejected.append(Rejected(record.location, sample.id, reason))
                continue
            seen.add(sample.id)
            result.written += 1
            yield sample if split is None else sample.model_copy(update={"split": split})

    if to is DatasetFormat.FVQA:
        dataset_io.write_dataset(samples(), dst, overwrite=overwrite, description=f"Converted from `{Path(src).name}`.")
    else:
        official.write_official(samples(), dst)
    result.rejects_path.unlink(missing_ok=True)
    if result.rejected:
        with result.rejects_path.open("w", encoding="utf-8") as handle:
            for rejected in result.rejected:
                handle.write(json.dumps(asdict(rejected), ensure_ascii=False) + "\n")
    return result
