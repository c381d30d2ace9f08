"""`samples.jsonl`: the per-sample log of a run, append-only and safe to kill at any moment.

Every finished sample is appended as one JSON line and flushed at once. A retried sample
is appended again with a higher attempt number; the latest line of an id wins. A line cut
short by a kill is dropped (and cut off the file) when the log is opened again. When the
run completes, the log is rewritten, atomically, to one line per sample in benchmark order.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from fvqa.eval.records import SampleLog, Status

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class LogEntry:
    offset: int
    status: Status
    attempt: int


class SampleLogFile:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._compact = False
        """Whether the last scan found one readable line per id."""

    def _repair_tail(self) -> None:
        """Cut a last line left without its newline by a killed writer."""
        if not self.path.exists():
            return
        with self.path.open("rb+") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            if size == 0:
                return
            handle.seek(max(0, size - 1))
            if handle.read(1) == b"\n":
                return
            handle.seek(0)
            data = handle.read()
            keep = data.rfind(b"\n") + 1
            handle.truncate(keep)
            _LOG.warning(
                "%s: dropped an unfinished last line (%d bytes) left by an interrupted run", self.path, size - keep
            )

    def scan(self) -> dict[str, LogEntry]:
        """Where the latest line of every id is, and its status: a small index, however long the
        run (the trajectories stay on disk). Repairs an interrupted tail first."""
        self._repair_tail()
        entries: dict[str, LogEntry] = {}
        self._compact = True
        if not self.path.exists():
            return entries
        with self.path.open("rb") as handle:
            offset = 0
            for number, line in enumerate(handle, 1):
                entry = self._entry(line, offset, number)
                if entry is not None:
                    sample_id, found = entry
                    self._compact = self._compact and sample_id not in entries
                    entries[sample_id] = found
                offset += len(line)
        return entries

    def _entry(self, line: bytes, offset: int, number: int) -> tuple[str, LogEntry] | None:
        """The id, status and attempt of one line (read without validating the whole record)."""
        if not line.strip():
            return None
        try:
            data = json.loads(line)
            return data["id"], LogEntry(offset, Status(data["status"]), int(data.get("attempt", 1)))
        except (ValueError, KeyError, TypeError) as err:
            _LOG.warning("%s:%d is not a sample log line (%s); ignored", self.path, number, err)
            self._compact = False
            return None

    def read_at(self, offset: int) -> SampleLog:
        with self.path.open("rb") as handle:
            handle.seek(offset)
            return SampleLog.model_validate_json(handle.readline())

    def iter_latest(self, order: Sequence[str], entries: dict[str, LogEntry]) -> Iterator[SampleLog]:
        """The latest log of each id in `order` that has one, read one at a time."""
        with self.path.open("rb") as handle:
            for sample_id in order:
                entry = entries.get(sample_id)
                if entry is None:
                    continue
                handle.seek(entry.offset)
                log = SampleLog.model_validate_json(handle.readline())
                yield log

    def append(self, log: SampleLog) -> None:
        """Append one finished sample and flush it to the operating system."""
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(log.model_dump_json() + "\n")
            handle.flush()

    def compact(self, order: Sequence[str]) -> int:
        """Rewrite as one line per id (latest attempt), in `order`, atomically; returns the lines kept.
        A log that already is exactly that is left alone."""
        entries = self.scan()
        present = [sample_id for sample_id in order if sample_id in entries]
        if self._compact and len(present) == len(entries) and _in_file_order(present, entries):
            return len(present)
        tmp = self.path.with_name(self.path.name + ".compacting")
        kept = 0
        with tmp.open("w", encoding="utf-8") as handle:
            for log in self.iter_latest(order, entries):
                handle.write(log.model_dump_json() + "\n")
                kept += 1
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(self.path)
        return kept


def _in_file_order(ids: Sequence[str], entries: dict[str, LogEntry]) -> bool:
    offsets = [entries[sample_id].offset for sample_id in ids]
    return all(a < b for a, b in itertools.pairwise(offsets))


def dump_json_atomic(path: Path, data: object) -> None:
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)
