"""Importing the FVQA release's image-search caches into the fvqa cache, without running code.

The release (dataset ``lmms-lab/FVQA``, ``fvqa_{train,test}_image_search_results_cache.pkl``)
pickles ``{data_id: {"tool_returned_web_title_list": [title, ...], "tool_returned_images_urls":
[thumbnail, ...]}}``: up to five ranked results per official ``data_id`` (``fvqa_train_17``),
thumbnails as pickled PIL images (``JpegImageFile`` and other plugin classes; their pickled
state changed across Pillow versions) or URL strings, and no page URLs (imported pages have
``url == ""``).

`SafeUnpickler` admits only `ALLOWED_GLOBALS`, each mapped to an inert stand-in (a PIL image
becomes a `PickledImage` that keeps its state; no Pillow code runs); any other global
(``os.system``, ``builtins.eval``, ...) raises `UnsafePickleError` naming it. Pixels are
rebuilt with size checks and re-encoded through `fvqa.images`.

Keys: each entry is stored where `ImageSearchTool` looks, ``cache_key("image_search/<backend.name>",
{**backend.params(), "k": k}, image_sha256)`` for each ``k`` in ``ks``. ``key_for_entry`` maps a
release key to its image's sha256 (`data_id_index` builds it from the official parquet files);
sha256 keys map to themselves. The default backend, `ReleaseImageSearch`, serves only imports.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from fvqa.cache import Cache, CacheMode, cache_key
from fvqa.images import DEFAULT_MAX_PIXELS, decode_image, encode_image, make_thumbnail, sha256_hex
from fvqa.official import iter_official_rows
from fvqa.search.types import DEFAULT_TOP_K, ImageSearchBackend, SearchErrorKind, SearchFailure, WebPage
from fvqa.search.types import pages_to_bytes as _encode_pages

_LOG = logging.getLogger(__name__)

TITLES_FIELD = "tool_returned_web_title_list"
IMAGES_FIELD = "tool_returned_images_urls"
RELEASE_BACKEND_NAME = "fvqa_release"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_PNG_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"})

KeyForEntry = Mapping[str, str] | Callable[[str], str | None]  # release key -> image sha256 (None: skip)
Fetch = Callable[[str], bytes | None]  # downloads the image at a URL (None when it cannot)


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle asks for a global the importer does not admit; nothing was executed."""


class ReleaseCacheError(ValueError):
    """The file is not a readable release cache (truncated, corrupt, or another layout)."""


class PickledImage:
    """Stands in for a pickled PIL image: keeps the state Pillow would restore, runs nothing."""

    state: Sequence[Any] = ()

    def __setstate__(self, state: Any) -> None:
        self.state = list(state) if isinstance(state, list | tuple) else []

    def to_image(self, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
        """Rebuild the pixels from ``[info, mode, size, palette, data, ...]``, checking each part."""
        if len(self.state) < 5:
            raise ValueError("the pickled image has no pixel data")
        _, mode, size, palette, data = self.state[:5]
        if not isinstance(mode, str) or mode not in Image.MODES:
            raise ValueError(f"the pickled image has an unknown mode {mode!r}")
        if not (isinstance(size, list | tuple) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
            raise ValueError(f"the pickled image has an invalid size {size!r}")
        if size[0] * size[1] > max_pixels:
            raise ValueError(f"the pickled image is {size[0]}x{size[1]}, over {max_pixels:,} pixels")
        if not isinstance(data, bytes | bytearray):
            raise ValueError("the pickled image's pixel data is not bytes")
        image = Image.frombytes(mode, (size[0], size[1]), bytes(data))
        if mode in ("P", "PA") and isinstance(palette, list | tuple) and palette:
            image.putpalette([int(v) for v in palette])
        return image if mode in _PNG_MODES else image.convert("RGB")


class _Inert:
    """Stands in for harmless metadata objects (resolution rationals) that the import ignores."""

    def __init__(self, *args: Any) -> None:
        del args

    def __setstate__(self, state: Any) -> None:
        del state


class _InertText(str):
    """Stands in for Pillow's iTXt text chunks (a str subclass)."""

    def __new__(cls, text: Any = "", *args: Any) -> _InertText:
        return super().__new__(cls, text if isinstance(text, str) else "")

    def __setstate__(self, state: Any) -> None:
        del state


def _reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """copyreg._reconstructor (protocols 0 and 1), restricted to our stand-ins."""
    if (cls, base) in ((PickledImage, object), (_Inert, object)):
        return cls.__new__(cls)
    if cls is _InertText and base is str:
        return _InertText(state)
    raise UnsafePickleError(f"refusing to reconstruct {getattr(cls, '__name__', cls)!r} from {base!r}")


def _latin1(text: Any, encoding: str = "latin1") -> bytes:
    """_codecs.encode as protocols 0-2 use it for bytes: latin-1 only."""
    if not isinstance(text, str) or encoding.lower() not in ("latin1", "latin-1", "iso-8859-1"):
        raise UnsafePickleError(f"refusing _codecs.encode with encoding {encoding!r}")
    return text.encode("latin-1")


def _bytes(value: Any = b"", *args: Any) -> bytes:
    """bytes() that refuses an int (``bytes(10**12)`` would exhaust memory)."""
    if isinstance(value, int):
        raise UnsafePickleError(f"refusing bytes({value!r})")
    return bytes(value, *args)


_PIL_IMAGE_CLASSES = (
    "PIL.Image.Image", "PIL.ImageFile.ImageFile", "PIL.JpegImagePlugin.JpegImageFile",
    "PIL.MpoImagePlugin.MpoImageFile", "PIL.PngImagePlugin.PngImageFile", "PIL.WebPImagePlugin.WebPImageFile",
    "PIL.GifImagePlugin.GifImageFile", "PIL.BmpImagePlugin.BmpImageFile", "PIL.TiffImagePlugin.TiffImageFile",
)  # fmt: skip
_BUILTINS = {"object": object, "str": str, "unicode": str, "bytes": _bytes, "set": set, "frozenset": frozenset}
ALLOWED_GLOBALS: dict[str, Any] = {
    **dict.fromkeys(_PIL_IMAGE_CLASSES, PickledImage),
    **{f"{module}.{name}": value for module in ("builtins", "__builtin__") for name, value in _BUILTINS.items()},
    "PIL.PngImagePlugin.iTXt": _InertText,  # text chunks in a PNG's info
    "PIL.TiffImagePlugin.IFDRational": _Inert,  # EXIF resolutions in a JPEG's info
    "fractions.Fraction": _Inert,  # inside IFDRational's state
    "copyreg._reconstructor": _reconstructor,  # protocols 0 and 1
    "copy_reg._reconstructor": _reconstructor,
    "_codecs.encode": _latin1,  # bytes in protocols 0 to 2
}
"""Every global a release cache may name, and what loading it gives instead."""


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that resolves globals only through `ALLOWED_GLOBALS`."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[f"{module}.{name}"]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to unpickle {module}.{name}: a release cache holds only containers, text and PIL"
                " images, so this global is not admitted (nothing was executed)"
            ) from None


def load_release_pickle(path: str | Path) -> Any:
    """Unpickle ``path`` with `SafeUnpickler`; UnsafePickleError or ReleaseCacheError on failure."""
    try:
        with open(path, "rb") as handle:
            return SafeUnpickler(handle).load()
    except (UnsafePickleError, OSError):
        raise
    except Exception as err:  # EOFError, UnpicklingError, ValueError, ...: the bytes are not a whole pickle
        raise ReleaseCacheError(f"{path}: a truncated or corrupt pickle ({type(err).__name__}: {err})") from None


@dataclass
class ReleaseImageSearch:
    """The backend name imported release results are filed under; it has no results of its own."""

    release: str = "lmms-lab/FVQA"
    name: str = RELEASE_BACKEND_NAME

    def params(self) -> dict[str, Any]:
        return {"release": self.release}

    def search_image(self, image: bytes, k: int) -> list[WebPage]:
        digest = hashlib.sha256(image).hexdigest()[:12]
        raise SearchFailure(SearchErrorKind.CACHE_MISS, f"no imported {self.release} result for image {digest}, k={k}")


@dataclass
class ImportReport:
    """What an import did."""

    entries: int = 0
    imported: int = 0
    pages: int = 0
    thumbnails: int = 0
    unmapped: list[str] = field(default_factory=list)  # release keys with no known image sha256
    empty: list[str] = field(default_factory=list)  # release keys without a usable result
    problems: list[str] = field(default_factory=list)  # unusable thumbnails, malformed entries (first 100)

    def note(self, problem: str) -> None:
        if len(self.problems) < 100:
            self.problems.append(problem)


def _thumbnail(value: Any, max_side: int, fetch: Fetch | None) -> bytes | None:
    """A JPEG thumbnail from a pickled image, raw image bytes, or (with ``fetch``) a URL."""
    if isinstance(value, PickledImage):
        data: bytes | None = encode_image(value.to_image(), "PNG")
    elif isinstance(value, bytes | bytearray):
        data = bytes(value)
    elif isinstance(value, str) and value.startswith(("http://", "https://")) and fetch is not None:
        data = fetch(value)
    else:
        return None
    return None if not data else make_thumbnail(decode_image(data, source="release thumbnail").image, max_side)


def release_pages(entry: Any, key: str, report: ImportReport, max_side: int, fetch: Fetch | None) -> list[WebPage]:
    """The pages of one release entry; unusable thumbnails become None and are noted in ``report``."""
    if not isinstance(entry, Mapping) or TITLES_FIELD not in entry:
        raise ReleaseCacheError(f"an entry is a {type(entry).__name__} without {TITLES_FIELD!r}")
    titles, images = list(entry.get(TITLES_FIELD) or []), list(entry.get(IMAGES_FIELD) or [])
    pages = []
    for rank, title in enumerate(titles, start=1):
        try:
            thumbnail = _thumbnail(images[rank - 1] if rank <= len(images) else None, max_side, fetch)
        except Exception as err:  # one bad thumbnail leaves that page without one
            report.note(f"{key} result {rank}: thumbnail unusable ({type(err).__name__}: {err})")
            thumbnail = None
        title = title.strip() if isinstance(title, str) else ""
        if title or thumbnail is not None:
            pages.append(WebPage(title=title, url="", thumbnail=thumbnail))
    return pages


def import_release_cache(
    pickle_path: str | Path,
    cache: Cache,
    *,
    key_for_entry: KeyForEntry | None = None,
    backend: ImageSearchBackend | None = None,
    ks: Iterable[int] = (DEFAULT_TOP_K,),
    thumbnail_max_side: int = 256,
    fetch_thumbnail: Fetch | None = None,
) -> ImportReport:
    """Store every usable release entry in ``cache`` (mode rw) under ``backend``'s image-search keys."""
    if cache.mode is not CacheMode.READ_WRITE:
        raise ValueError(f"importing needs a cache opened in rw mode, not {cache.mode}")
    data = load_release_pickle(pickle_path)
    if not isinstance(data, Mapping):
        raise ReleaseCacheError(f"{pickle_path}: the top level is a {type(data).__name__}, not a dict of entries")
    target: ImageSearchBackend = backend or ReleaseImageSearch()
    namespace = f"image_search/{target.name}"
    report = ImportReport(entries=len(data))
    lookup = key_for_entry.get if isinstance(key_for_entry, Mapping) else key_for_entry
    for raw_key, entry in data.items():
        key = str(raw_key)
        digest = lookup(key) if lookup is not None else (key if _SHA256.fullmatch(key) else None)
        if digest is None:
            report.unmapped.append(key)
            continue
        try:
            pages = release_pages(entry, key, report, thumbnail_max_side, fetch_thumbnail)
        except ReleaseCacheError as err:
            report.note(f"{key}: {err}")
            pages = []
        if not pages:
            report.empty.append(key)
            continue
        for k in ks:
            cache.put(cache_key(namespace, {**target.params(), "k": k}, digest), namespace, _encode_pages(pages[:k]))
        report.imported += 1
        report.pages += len(pages)
        report.thumbnails += sum(p.thumbnail is not None for p in pages)
    _LOG.info("imported %d of %d release entries from %s", report.imported, report.entries, pickle_path)
    return report


def data_id_index(official_files: Iterable[str | Path]) -> dict[str, str]:
    """data_id -> image sha256 over official FVQA parquet files: how release keys become cache keys."""
    index: dict[str, str] = {}
    for path in official_files:
        for row in iter_official_rows(path):
            images = row.get("images") or []
            image = images[0].get("bytes") if images and isinstance(images[0], dict) else None
            if row.get("data_id") and image:
                index[str(row["data_id"])] = sha256_hex(image)
    return index


def import_release_cache_file(
    pickle_path: str | Path, cache_path: str | Path, official_files: Iterable[str | Path], *, k: int = DEFAULT_TOP_K
) -> ImportReport:
    """For the command line: import a release pickle into the cache file, keys from the official data."""
    cache = Cache(cache_path, CacheMode.READ_WRITE)
    try:
        return import_release_cache(pickle_path, cache, key_for_entry=data_id_index(official_files), ks=(k,))
    finally:
        cache.close()
