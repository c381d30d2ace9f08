"""Image search and text search: typed results, backends (local and web), one shared cache."""

from fvqa.search.tools import ImageSearchTool, TextSearchTool
from fvqa.search.types import SearchError, SearchErrorKind, SearchFailure, SearchResult, WebPage

__all__ = [
    "ImageSearchTool",
    "SearchError",
    "SearchErrorKind",
    "SearchFailure",
    "SearchResult",
    "TextSearchTool",
    "WebPage",
]
