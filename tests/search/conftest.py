"""Fixtures for the local search tests: a corpus of real photos, its indexes, perturbed copies.

The photo corpus is the demo world when it builds; otherwise a small corpus made here from
photos that scikit-image, scikit-learn and matplotlib ship. The ONNX model is exported once
per test session into the session's cache folder (see tests/conftest.py).
"""

from __future__ import annotations

import importlib.util
import io
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from fvqa.images import decode_image
from tests.search.perturbations import PERTURBATIONS

# (name, module, path inside the module's folder): photos that installed packages carry.
PACKAGE_PHOTOS = [
    ("astronaut", "skimage", "data/astronaut.png"),
    ("rocket", "skimage", "data/rocket.jpg"),
    ("coffee", "skimage", "data/coffee.png"),
    ("chelsea", "skimage", "data/chelsea.png"),
    ("coins", "skimage", "data/coins.png"),
    ("camera", "skimage", "data/camera.png"),
    ("moon", "skimage", "data/moon.png"),
    ("hubble_deep_field", "skimage", "data/hubble_deep_field.jpg"),
    ("retina", "skimage", "data/retina.jpg"),
    ("motorcycle", "skimage", "data/motorcycle_left.png"),
    ("motorcycle_right", "skimage", "data/motorcycle_right.png"),
    ("china", "sklearn", "datasets/images/china.jpg"),
    ("flower", "sklearn", "datasets/images/flower.jpg"),
    ("grace_hopper", "matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
]

# A stereo pair: two photos of one motorcycle from nearly the same point of view.
NEAR_DUPLICATES = {"motorcycle": "motorcycle_right", "motorcycle_right": "motorcycle"}


def to_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


@dataclass(frozen=True)
class PhotoCorpus:
    folder: Path
    photos: dict[str, Path]
    """Photo name -> its file."""
    urls: dict[str, set[str]]
    """Photo name -> the URLs of the pages that show it."""

    def image(self, name: str) -> Image.Image:
        return decode_image(self.photos[name].read_bytes()).image


def _package_file(module: str, relative: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    return path if path.is_file() else None


def make_package_corpus(folder: Path) -> None:
    """A corpus of the package photos: two pages per photo, written like any user's crawl."""
    (folder / "photos").mkdir(parents=True)
    with (folder / "pages.jsonl").open("w", encoding="utf-8") as pages:
        for name, module, relative in PACKAGE_PHOTOS:
            source = _package_file(module, relative)
            if source is None:
                continue
            target = f"photos/{name}{source.suffix}"
            shutil.copyfile(source, folder / target)
            for n in (1, 2):
                row = {"id": f"{name}-{n}", "url": f"https://pages.example/{name}/{n}", "title": f"{name} {n}"}
                pages.write(json.dumps({**row, "text": f"A page about {name}.", "image": target, "photo": name}) + "\n")


@pytest.fixture(scope="session")
def perturbations() -> dict[str, Callable[[Image.Image], Image.Image]]:
    """Edits a search engine should see through, by name."""
    return PERTURBATIONS


@pytest.fixture(scope="session")
def near_duplicates() -> dict[str, str]:
    return NEAR_DUPLICATES


@pytest.fixture(scope="session")
def png() -> Callable[[Image.Image], bytes]:
    return to_png


@pytest.fixture(scope="session")
def perturbed(photo_corpus: PhotoCorpus) -> Callable[[str, str], bytes]:
    """PNG bytes of photo ``name`` edited by perturbation ``label``, computed once per session."""
    made: dict[tuple[str, str], bytes] = {}

    def get(name: str, label: str) -> bytes:
        if (name, label) not in made:
            made[name, label] = to_png(PERTURBATIONS[label](photo_corpus.image(name)))
        return made[name, label]

    return get


@pytest.fixture(scope="session")
def photo_corpus(tmp_path_factory: pytest.TempPathFactory) -> PhotoCorpus:
    folder = tmp_path_factory.mktemp("corpus")
    try:
        from fvqa.demo.world import build_world

        build_world(folder)
    except Exception:  # the demo world is optional here: fall back to the package photos
        shutil.rmtree(folder)
        make_package_corpus(folder)
    photos: dict[str, Path] = {}
    urls: dict[str, set[str]] = {}
    for line in (folder / "pages.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        photos[row["photo"]] = folder / row["image"]
        urls.setdefault(row["photo"], set()).add(row["url"])
    if len(photos) < 8:
        pytest.fail("fewer than 8 real photos are installed: install fvqa[demo]")
    return PhotoCorpus(folder, photos, urls)


@pytest.fixture(scope="session")
def photo_index(photo_corpus: PhotoCorpus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus's indexes built with the network encoder."""
    from fvqa.search.image_features import load_encoder
    from fvqa.search.local import build_indexes

    out = tmp_path_factory.mktemp("index")
    build_indexes(photo_corpus.folder, out, encoder=load_encoder("efficientnet-lite0"))
    return out
