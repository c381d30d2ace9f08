"""Suite files: the `eval/benchmarks/<name>.yaml` definitions users edit.

A suite names its loader, the paths of its data, the subset rule's settings, a description
and the source to cite. Paths may use `${VAR}` or `${VAR:-default}` and `~`; a relative path
is relative to the yaml file. The folder of suite files is `$FVQA_BENCHMARKS_DIR` when set,
else `eval/benchmarks/` of the checkout fvqa runs from, else of the current directory.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fvqa.eval.benchmarks.base import BenchmarkError

ENV_DIR = "FVQA_BENCHMARKS_DIR"
KEYS = frozenset({"name", "loader", "description", "source", "paths", "subset", "assumed_layout", "layout_note"})
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class Suite:
    """One benchmark definition, its paths resolved."""

    name: str
    loader: str
    paths: dict[str, Path]
    subset: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    source: str = ""
    assumed_layout: bool = False
    layout_note: str = ""
    file: Path | None = None


def benchmarks_dir() -> Path:
    """Where registered suite files live."""
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR]).expanduser()
    checkout = Path(__file__).resolve().parents[3] / "eval" / "benchmarks"
    return checkout if checkout.is_dir() else Path.cwd() / "eval" / "benchmarks"


def registered() -> list[str]:
    """The names of the suite files in `benchmarks_dir()`."""
    folder = benchmarks_dir()
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def suite_file(name: str) -> Path | None:
    path = benchmarks_dir() / f"{name}.yaml"
    return path if path.is_file() else None


def expand(text: str, where: str) -> str:
    """`text` with every `${VAR}` / `${VAR:-default}` replaced; an unset variable without default is an error."""

    def value(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if os.environ.get(name):
            return os.environ[name]
        if default is not None:
            return default
        raise BenchmarkError(f"{where} uses ${{{name}}}, which is not set; set it or give a default: ${{{name}:-...}}")

    return _VARIABLE.sub(value, text)


def resolve(text: str, base: Path, where: str) -> Path:
    path = Path(expand(text, where)).expanduser()
    return path if path.is_absolute() else base / path


def read_suite(path: str | Path) -> Suite:
    """Parse and check a suite file; raises BenchmarkError naming the file and the problem."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise BenchmarkError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(raw, dict):
        raise BenchmarkError(f"{path}: expected a mapping with at least `loader` and `paths`")
    unknown = sorted(set(raw) - KEYS)
    if unknown:
        raise BenchmarkError(f"{path}: unknown keys {unknown}; expected some of {sorted(KEYS)}")
    if not isinstance(raw.get("loader"), str):
        raise BenchmarkError(f"{path}: `loader` must name a benchmark loader")
    paths = raw.get("paths") or {}
    subset = raw.get("subset") or {}
    if not isinstance(paths, dict) or not all(isinstance(v, str) for v in paths.values()):
        raise BenchmarkError(f"{path}: `paths` must map names to path strings")
    if not isinstance(subset, dict):
        raise BenchmarkError(f"{path}: `subset` must be a mapping of settings")
    base = path.resolve().parent
    return Suite(
        name=str(raw.get("name") or path.stem),
        loader=raw["loader"],
        paths={key: resolve(value, base, f"{path}: paths.{key}") for key, value in paths.items()},
        subset=dict(subset),
        description=str(raw.get("description") or "").strip(),
        source=str(raw.get("source") or "").strip(),
        assumed_layout=bool(raw.get("assumed_layout", False)),
        layout_note=str(raw.get("layout_note") or "").strip(),
        file=path,
    )
