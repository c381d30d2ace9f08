"""Run a scripted evaluation in its own process (the resume tests kill it with SIGKILL)."""

import sys

from fvqa.eval.run import run_evaluation
from tests.eval.scripted_agent import scripted_parts

if __name__ == "__main__":
    base_url, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    run_evaluation(scripted_parts(base_url, n, concurrency=2), out, concurrency=2)
