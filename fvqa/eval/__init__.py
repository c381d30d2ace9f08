"""Evaluation: benchmarks (dataset), the search agent (solver), the two-stage judge (scorer),
metrics, and resumable runs that leave a complete log (`samples.jsonl`, `result.json`)."""
