"""Facts about the code that ran: fvqa's version and the git revision of its source tree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fvqa import __version__


def git_revision() -> str:
    """The commit of the fvqa source tree (with "-dirty" if it has changes), or "unknown"."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return rev + ("-dirty" if dirty else "") if rev else "unknown"


def code_provenance() -> dict[str, str]:
    return {
        "fvqa_version": __version__,
        "git_revision": git_revision(),
        "python": sys.version.split()[0],
    }
