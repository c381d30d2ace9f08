"""The demo world: its spec is sound and large enough, and its build is real and resumable."""

import hashlib
import json
from collections import Counter

import pytest

from fvqa.demo.world import MANIFEST_NAME, build_world, load_world_spec, locate_photo, seed_samples
from fvqa.images import decode_image
from fvqa.schema import SearchLabel


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("world")
    return folder, build_world(folder)


def test_spec_has_no_broken_references():
    assert load_world_spec().problems() == []


def test_spec_is_as_large_and_varied_as_promised():
    spec = load_world_spec()
    subjects = [p for p in spec.photos if p.role == "subject"]
    assert len(subjects) >= 10
    pages_per_photo = Counter(page.photo for page in spec.pages)
    assert all(pages_per_photo[p.id] >= 1 for p in subjects)
    assert any(p.role == "distractor" and pages_per_photo[p.id] for p in spec.photos), "distractor pages"
    assert len(spec.passages) >= 80
    assert len(spec.questions) >= 30
    assert len({q.category for q in spec.questions}) >= 6
    labels = Counter(q.search_label for q in spec.questions)
    assert labels[SearchLabel.IMAGE_SEARCH_REQUIRED] >= 5
    assert labels[SearchLabel.TEXT_SEARCH_REQUIRED] + labels[SearchLabel.MIXED_SEARCH_REQUIRED] >= 5
    assert labels[SearchLabel.SEARCH_FREE] >= 5
    assert {q.small_model_can_answer for q in spec.questions} == {True, False}
    assert len(spec.concepts) >= 10


def test_every_answer_is_supported_by_its_evidence():
    spec = load_world_spec()
    texts = {item.id: f"{item.title} {item.text}".lower() for item in [*spec.pages, *spec.passages]}
    for q in spec.questions:
        if q.search_label is SearchLabel.SEARCH_FREE:
            continue
        assert q.evidence, q.id
        candidates = [q.answer, *q.aliases]
        assert any(c.lower() in texts[e] for e in q.evidence for c in candidates), q.id


def test_urls_are_fake_and_unique():
    spec = load_world_spec()
    urls = [item.url for item in [*spec.pages, *spec.passages]]
    assert len(urls) == len(set(urls))
    assert all(url.split("/")[2].endswith(".example") for url in urls)


def test_build_copies_photos_and_records_their_licences(world):
    folder, manifest = world
    spec = load_world_spec()
    assert manifest["counts"]["photos"] == len(spec.photos)
    for photo, row in zip(spec.photos, manifest["photos"], strict=True):
        copied = (folder / row["file"]).read_bytes()
        assert copied == locate_photo(photo).read_bytes()  # the original bytes, not a re-encoding
        assert row["sha256"] == hashlib.sha256(copied).hexdigest()
        assert row["licence"] and row["credit"] and row["package_path"].endswith(photo.path)
        thumb = decode_image((folder / row["thumbnail"]).read_bytes())
        assert max(thumb.width, thumb.height) <= 256
        assert row["url"].startswith("https://media.fvqa-demo.example/")


def test_build_writes_the_corpora(world):
    folder, _ = world
    pages = [json.loads(line) for line in (folder / "pages.jsonl").read_text().splitlines()]
    passages = [json.loads(line) for line in (folder / "passages.jsonl").read_text().splitlines()]
    spec = load_world_spec()
    assert len(pages) == len(spec.pages) and len(passages) == len(spec.passages)
    for page in pages:
        assert (folder / page["image"]).exists() and (folder / page["thumbnail"]).exists()
    assert (folder / "concepts.jsonl").exists()


def test_an_up_to_date_build_is_reused_and_a_partial_one_is_redone(world):
    folder, manifest = world
    stamp = (folder / MANIFEST_NAME).stat().st_mtime_ns
    assert build_world(folder) == manifest
    assert (folder / MANIFEST_NAME).stat().st_mtime_ns == stamp
    (folder / MANIFEST_NAME).unlink()  # what an interrupted build leaves
    (folder / "pages.jsonl").write_text("half written")
    rebuilt = build_world(folder)
    assert rebuilt["counts"] == manifest["counts"]
    assert len((folder / "pages.jsonl").read_text().splitlines()) == manifest["counts"]["pages"]


def test_seed_samples_are_valid_and_labelled(world):
    folder, _ = world
    spec = load_world_spec()
    samples = list(seed_samples(folder))
    assert len(samples) == len(spec.questions)
    assert len({s.id for s in samples}) == len(samples)
    first = samples[0]
    assert first.source == "fvqa_demo" and first.split == "test"
    assert first.category is not None and first.subcategory
    assert first.meta["demo"]["photo"] == spec.questions[0].photo
