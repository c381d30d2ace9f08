"""`leaderboard.json` and `leaderboard.csv`: every ranked row with its numbers, table, tier and reasons.

The numbers are copied from the submitted result.json files, never recomputed, so a reader can
check the site against the submissions.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from fvqa import __version__
from fvqa.eval.records import RATE_METRICS
from fvqa.leaderboard.pages import BenchmarkSite
from fvqa.leaderboard.submissions import Refusal
from fvqa.leaderboard.tables import TIER_RULE, Row, Table

METRIC_COLUMNS = [key for key in RATE_METRICS if key != "accuracy_ci95"]
COUNT_COLUMNS = [
    "samples",
    "scored",
    "ok",
    "correct",
    "parse_errors",
    "model_errors",
    "tool_errors",
    "judge_errors",
    "search_calls",
    "image_search_calls",
    "text_search_calls",
    "search_failures",
    "judged_by_rules",
    "judged_by_llm",
]
ROW_COLUMNS = [
    "benchmark",
    "table",
    "why_separate",
    "data_hash",
    "judge_kind",
    "judge_model",
    "judge_template_hash",
    "judge_rules_version",
    "position",
    "tier",
    "run",
    "model_id",
    "model_revision",
    "mode",
    "protocol",
    "max_rounds",
    "image_search_limit",
    "text_search_limit",
    "accuracy_ci95_lo",
    "accuracy_ci95_hi",
    *METRIC_COLUMNS,
    *COUNT_COLUMNS,
    "started",
    "finished",
    "page",
    "samples_log",
]


def row_record(site: BenchmarkSite, table: Table, row: Row) -> dict[str, Any]:
    """One ranked run as a flat record, plus the metrics and counts exactly as submitted."""
    run = row.submission
    info = run.info
    lo, hi = info.metrics.accuracy_ci95
    scalar_metrics = {key: value for key, value in run.result.metrics.items() if not key.startswith("by_")}
    record: dict[str, Any] = {
        "benchmark": info.benchmark.name,
        "table": "main" if table.main else "separate",
        "why_separate": table.why_separate,
        "data_hash": info.benchmark.data_hash,
        "judge_kind": table.judge[0],
        "judge_model": table.judge[1],
        "judge_template_hash": table.judge[2],
        "judge_rules_version": table.judge[3],
        "position": row.position,
        "tier": row.tier,
        "run": run.key,
        "model_id": info.model.id,
        "model_revision": info.model.revision,
        "mode": info.protocol.mode,
        "protocol": info.protocol.protocol,
        "max_rounds": info.protocol.limits.max_rounds,
        "image_search_limit": info.protocol.limits.image_search,
        "text_search_limit": info.protocol.limits.text_search,
        "accuracy_ci95_lo": lo,
        "accuracy_ci95_hi": hi,
        **{key: scalar_metrics.get(key) for key in METRIC_COLUMNS},
        **{key: run.result.counts.get(key) for key in COUNT_COLUMNS},
        "started": info.provenance.started,
        "finished": info.provenance.finished,
        "page": f"runs/{run.key}.html",
        "samples_log": f"runs/{run.key}.samples.jsonl" if run.samples else None,
    }
    return record | {"metrics": scalar_metrics, "counts": dict(run.result.counts)}


def leaderboard_data(sites: list[BenchmarkSite], refused: list[Refusal], generated: str) -> dict[str, Any]:
    benchmarks = []
    for site in sites:
        tables = [
            {
                "title": table.title,
                "main": table.main,
                "why_separate": table.why_separate,
                "data_hash": table.data_hash,
                "judge": dict(zip(("kind", "model", "template_hash", "rules_version"), table.judge, strict=True)),
                "plot": f"benchmarks/{plot}" if plot else None,
                "rows": [row_record(site, table, row) for row in table.rows],
            }
            for table, plot in zip(site.benchmark.tables, site.plots, strict=True)
        ]
        benchmarks.append({"name": site.benchmark.name, "page": f"benchmarks/{site.slug}.html", "tables": tables})
    return {
        "generated": generated,
        "fvqa_version": __version__,
        "tier_rule": TIER_RULE,
        "benchmarks": benchmarks,
        "refused": [
            {"folder": item.folder, "file": item.file, "field": item.field, "message": item.message} for item in refused
        ],
    }


def write_exports(out_dir: Path, data: dict[str, Any]) -> tuple[Path, Path]:
    """Write `leaderboard.json` and `leaderboard.csv` (one line per ranked run) into `out_dir`."""
    json_path, csv_path = out_dir / "leaderboard.json", out_dir / "leaderboard.csv"
    json_path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=ROW_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for benchmark in data["benchmarks"]:
            for table in benchmark["tables"]:
                writer.writerows(table["rows"])
    return json_path, csv_path
