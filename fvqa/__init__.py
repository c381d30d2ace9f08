"""fvqa: the open toolkit around FactualVQA (FVQA).

The import package holds the library; the `fvqa` command line lives in `fvqa.cli`.
Layer one (the sample record, dataset I/O, safe images) is importable without any of the
heavy optional stacks.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fvqa")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
