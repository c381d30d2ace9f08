"""Importing the release's pickled image-search caches: real layouts, hostile pickles, broken files."""

from __future__ import annotations

import builtins
import hashlib
import io
import os
import pickle
import subprocess
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from fvqa.cache import Cache
from fvqa.images import decode_image
from fvqa.official import iter_official_rows
from fvqa.search.pickle_import import (
    IMAGES_FIELD,
    TITLES_FIELD,
    ReleaseCacheError,
    ReleaseImageSearch,
    UnsafePickleError,
    data_id_index,
    import_release_cache,
    import_release_cache_file,
    load_release_pickle,
)
from fvqa.search.tools import ImageSearchTool
from fvqa.search.types import SearchErrorKind
from tests.conftest import image_bytes


def pil(data: bytes) -> Image.Image:
    """A PIL image as a release holds it: opened from encoded bytes (a JpegImageFile, PngImageFile...)."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


SAMPLE_IMAGES = {f"fvqa_test_{i}": image_bytes(200 + i) for i in range(3)}


def release(protocol: int = pickle.DEFAULT_PROTOCOL) -> bytes:
    """A small release cache in the published layout, with real PIL thumbnails."""
    entries = {
        "fvqa_test_0": {
            TITLES_FIELD: ["Eiffel Tower - Wikipedia", "Tour Eiffel | Paris", "Champ de Mars", "Iron lattice towers"],
            IMAGES_FIELD: [
                pil(image_bytes(1, (640, 480))),
                pil(image_bytes(2, (120, 90), "PNG")),
                Image.new("P", (50, 40), 3),
                "https://encrypted-tbn0.gstatic.com/images?q=tbn:ANd9Gc-expired",
            ],
        },
        "fvqa_test_1": {TITLES_FIELD: ["Only a title"], IMAGES_FIELD: []},
        "fvqa_test_2": {TITLES_FIELD: [], IMAGES_FIELD: []},
        "fvqa_train_999": {TITLES_FIELD: ["No sample has this id"], IMAGES_FIELD: [pil(image_bytes(3))]},
    }
    return pickle.dumps(entries, protocol=protocol)


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_a_genuine_release_imports_and_replays(tmp_path: Path, protocol: int) -> None:
    path = tmp_path / "fvqa_test_image_search_results_cache.pkl"
    path.write_bytes(release(protocol))
    cache = Cache(tmp_path / "cache.sqlite", "rw")
    index = {data_id: sha(image) for data_id, image in SAMPLE_IMAGES.items()}
    report = import_release_cache(path, cache, key_for_entry=index, ks=(3, 5))
    assert (report.entries, report.imported, report.pages, report.thumbnails) == (4, 2, 5, 3)
    assert report.unmapped == ["fvqa_train_999"] and report.empty == ["fvqa_test_2"]
    assert len(cache) == 4
    cache.close()

    replay = Cache(tmp_path / "cache.sqlite", "replay")
    tool = ImageSearchTool(ReleaseImageSearch(), replay)
    result = tool(SAMPLE_IMAGES["fvqa_test_0"])
    assert result.ok and result.cached
    assert [p.title for p in result.pages] == ["Eiffel Tower - Wikipedia", "Tour Eiffel | Paris", "Champ de Mars",
                                               "Iron lattice towers"]  # fmt: skip
    for page in result.pages[:3]:
        assert page.url == "" and page.thumbnail is not None
        decoded = decode_image(page.thumbnail)
        assert decoded.format == "JPEG" and max(decoded.width, decoded.height) <= 256
    assert decode_image(result.pages[0].thumbnail or b"").width == 256  # 640x480 shrunk, aspect kept
    assert result.pages[3].thumbnail is None  # a URL string and no fetcher
    assert [p.title for p in tool(SAMPLE_IMAGES["fvqa_test_0"], k=3).pages] == [p.title for p in result.pages[:3]]
    assert tool(SAMPLE_IMAGES["fvqa_test_1"]).pages[0].title == "Only a title"
    missing = tool(image_bytes(555))
    assert missing.error is not None and missing.error.kind is SearchErrorKind.CACHE_MISS


def test_rw_mode_backend_reports_a_miss_without_calling_out(tmp_path: Path) -> None:
    result = ImageSearchTool(ReleaseImageSearch(), Cache(tmp_path / "c.sqlite", "rw"))(image_bytes(9))
    assert result.error is not None and result.error.kind is SearchErrorKind.CACHE_MISS


def test_thumbnail_urls_with_a_fetcher_and_sha256_keys(tmp_path: Path) -> None:
    image = image_bytes(42)
    entries = {sha(image): {TITLES_FIELD: ["fetched", "broken"], IMAGES_FIELD: ["https://t/1.jpg", "https://t/2"]}}
    path = tmp_path / "urls.pkl"
    path.write_bytes(pickle.dumps(entries))
    fetched: list[str] = []

    def fetch(url: str) -> bytes | None:
        fetched.append(url)
        return image_bytes(43) if url.endswith(".jpg") else b"not an image"

    cache = Cache(tmp_path / "cache.sqlite", "rw")
    report = import_release_cache(path, cache, fetch_thumbnail=fetch)  # keys are already sha256
    assert report.imported == 1 and report.thumbnails == 1 and len(report.problems) == 1
    assert "result 2" in report.problems[0]
    pages = ImageSearchTool(ReleaseImageSearch(), cache)(image).pages
    assert pages[0].thumbnail is not None and pages[1].thumbnail is None
    assert fetched == ["https://t/1.jpg", "https://t/2"]


def _old_pillow_jpeg(data: bytes) -> Image.Image:
    """A JpegImageFile that pickles as Pillow 11.1 did (7-element state), which Pillow 13 cannot load."""
    image = pil(data)
    state = [{"jfif": 257}, image.mode, image.size, None, image.tobytes(), "", 0]
    image.__getstate__ = lambda: state  # type: ignore[method-assign]
    return image


def test_images_pickled_by_an_older_pillow(tmp_path: Path) -> None:
    data = pickle.dumps({"fvqa_test_0": {TITLES_FIELD: ["old"], IMAGES_FIELD: [_old_pillow_jpeg(image_bytes(5))]}})
    with pytest.raises(ValueError, match="not enough values to unpack"):
        pickle.loads(data)  # what issue #26 of the release repository reports
    path = tmp_path / "old.pkl"
    path.write_bytes(data)
    cache = Cache(tmp_path / "cache.sqlite", "rw")
    report = import_release_cache(path, cache, key_for_entry={"fvqa_test_0": sha(b"x")})
    assert report.thumbnails == 1 and report.problems == []


def test_keys_from_the_official_parquet(tmp_path: Path, official_fixture: Path) -> None:
    table = pq.read_table(official_fixture)  # the real rows, given the data_id column the full release has
    official = tmp_path / "fvqa_test.parquet"
    pq.write_table(
        table.append_column("data_id", pa.array([f"fvqa_test_{i}" for i in range(table.num_rows)])), official
    )
    images = {row["data_id"]: row["images"][0]["bytes"] for row in iter_official_rows(official)}
    assert data_id_index([official]) == {data_id: sha(image) for data_id, image in images.items()}
    assert data_id_index([official_fixture]) == {}  # rows without a data_id give no keys
    entries = {data_id: {TITLES_FIELD: [f"page about {data_id}"], IMAGES_FIELD: [pil(image)]}
               for data_id, image in images.items()}  # fmt: skip
    path = tmp_path / "release.pkl"
    path.write_bytes(pickle.dumps(entries))
    report = import_release_cache_file(path, tmp_path / "cache.sqlite", [official])
    assert report.imported == table.num_rows == 5 and report.unmapped == []
    tool = ImageSearchTool(ReleaseImageSearch(), Cache(tmp_path / "cache.sqlite", "replay"))
    for data_id, image in images.items():
        assert tool(image).pages[0].title == f"page about {data_id}"


class _Evil:
    def __init__(self, *reduce: Any) -> None:
        self.reduce = reduce

    def __reduce__(self) -> tuple[Any, ...]:
        return self.reduce


def _hostile(marker: Path) -> dict[str, Any]:
    return {
        "posix.system": _Evil(os.system, (f"touch {marker}",)),
        "builtins.eval": _Evil(builtins.eval, (f"__import__('os').system('touch {marker}')",)),
        "subprocess.Popen": _Evil(subprocess.Popen, (["touch", str(marker)],)),
    }


@pytest.mark.parametrize("name", ["posix.system", "builtins.eval", "subprocess.Popen"])
@pytest.mark.parametrize("nested", [False, True])
def test_hostile_pickles_are_refused_and_nothing_runs(tmp_path: Path, name: str, nested: bool) -> None:
    marker = tmp_path / "pwned"
    evil = _hostile(marker)[name]
    payload = {"fvqa_test_0": {TITLES_FIELD: ["looks fine"], IMAGES_FIELD: [evil]}} if nested else evil
    path = tmp_path / "hostile.pkl"
    path.write_bytes(pickle.dumps(payload))
    cache = Cache(tmp_path / "cache.sqlite", "rw")
    with pytest.raises(UnsafePickleError, match=f"refusing to unpickle {name}"):
        import_release_cache(path, cache, key_for_entry=lambda key: sha(b"x"))
    assert not marker.exists() and len(cache) == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"ccopy_reg\n_reconstructor\n(c__builtin__\nobject\nc__builtin__\nobject\nNtR.", "refusing to reconstruct"),
        (b"c__builtin__\nbytes\n(I1000000000000\ntR.", "refusing bytes"),
        (b"c_codecs\nencode\n(Vx\nVrot13\ntR.", "refusing _codecs.encode"),
        (b"cbuiltins\ngetattr\n(cbuiltins\nobject\nV__subclasses__\ntR.", "refusing to unpickle builtins.getattr"),
    ],
)
def test_admitted_globals_are_restricted_too(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "crafted.pkl"
    path.write_bytes(data)
    with pytest.raises(UnsafePickleError, match=message):
        load_release_pickle(path)


def test_truncated_and_foreign_files(tmp_path: Path) -> None:
    path = tmp_path / "truncated.pkl"
    path.write_bytes(release()[:5000])
    with pytest.raises(ReleaseCacheError, match="truncated or corrupt"):
        import_release_cache(path, Cache(tmp_path / "cache.sqlite", "rw"))
    path.write_bytes(b"")
    with pytest.raises(ReleaseCacheError, match="truncated or corrupt"):
        load_release_pickle(path)
    path.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(ReleaseCacheError, match="not a dict"):
        import_release_cache(path, Cache(tmp_path / "cache.sqlite", "rw"))
    path.write_bytes(pickle.dumps({"fvqa_test_0": ["a", "b"]}))
    report = import_release_cache(path, Cache(tmp_path / "cache.sqlite", "rw"), key_for_entry=lambda key: sha(b"x"))
    assert report.empty == ["fvqa_test_0"] and "without" in report.problems[0]
    with pytest.raises(ValueError, match="rw mode"):
        import_release_cache(path, Cache(tmp_path / "cache.sqlite", "replay"))
