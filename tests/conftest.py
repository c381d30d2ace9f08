"""Shared test fixtures: small images made in memory and the official-format rows in ../shared."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fvqa.schema import Sample, new_sample

SHARED = Path(__file__).resolve().parents[2] / "shared"
OFFICIAL_FIXTURE = SHARED / "fixtures" / "official" / "mmsearch_r1_mini_data.parquet"


def image_bytes(seed: int = 0, size: tuple[int, int] = (64, 48), fmt: str = "JPEG") -> bytes:
    """A small natural-looking picture (gradients and a disc) that differs by seed."""
    rng = np.random.default_rng(seed)
    h, w = size[1], size[0]
    y, x = np.mgrid[0:h, 0:w]
    base = rng.uniform(0, 255, 3)
    pixels = np.stack([(base[c] + 90 * np.sin((x + seed * 7) / (5 + c)) + y) % 256 for c in range(3)], axis=-1)
    cx, cy = rng.integers(0, w), rng.integers(0, h)
    pixels[(x - cx) ** 2 + (y - cy) ** 2 < (min(w, h) // 3) ** 2] = rng.uniform(0, 255, 3)
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One fvqa cache folder for the whole session (exported models, demo world), never the user's.

    Session-wide on purpose: the image encoder is loaded once per process, so every test must
    agree on where its model lives."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FVQA_CACHE_DIR", str(tmp_path_factory.mktemp("fvqa-cache")))
        patch.delenv("FVQA_IMAGE_ENCODER", raising=False)
        yield


@pytest.fixture
def official_fixture() -> Path:
    if not OFFICIAL_FIXTURE.exists():
        pytest.fail(
            f"the shared official fixture is missing: {OFFICIAL_FIXTURE} (../shared must sit beside the checkout)"
        )
    return OFFICIAL_FIXTURE


@pytest.fixture
def make_sample() -> Callable[..., Sample]:
    def make(n: int = 0, **overrides: object) -> Sample:
        fields: dict[str, object] = {
            "source": "test_source",
            "source_id": f"item-{n}",
            "split": "train",
            "question": f"What is shown in picture {n}?",
            "answer": f"thing {n}",
            "aliases": [f"the thing {n}"],
            "image": image_bytes(n),
            "category": "Nature",
            "subcategory": "animal",
            "search_label": "search_free",
        }
        fields.update(overrides)
        return new_sample(**fields)  # type: ignore[arg-type]

    return make
