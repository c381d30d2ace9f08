"""The demo world: its spec (package data YAML) and the build that turns it into files.

The spec lives in `fvqa/demo/world/*.yaml` and is written by the project: photos (which
installed package carries each, its licence and credit), image-search pages that show a
photo, text-search passages, seed questions and visual concepts. Photos are copied from
the installed packages at build time, never committed.

A built world is a folder::

    world_manifest.json   photos with licence, source and sha256; counts; spec hash
    photos/<photo>.<ext>  the original bytes, copied from the package
    thumbs/<photo>.jpg    thumbnails derived from the photos
    pages.jsonl           image-search corpus: id, url, title, text, photo, image, thumbnail
    passages.jsonl        text-search corpus: id, url, title, text, entities
    concepts.jsonl        visual concepts for question generation
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from fvqa.images import decode_image, make_thumbnail, read_image_bytes
from fvqa.schema import Sample, SearchLabel, new_sample
from fvqa.taxonomy import Category, subcategories

WORLD_SOURCE = "fvqa_demo"
MANIFEST_NAME = "world_manifest.json"
MEDIA_HOST = "https://media.fvqa-demo.example"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Photo(_Spec):
    id: str
    package: str
    module: str
    path: str
    licence: str
    credit: str
    description: str
    role: Literal["subject", "distractor"]


class Page(_Spec):
    id: str
    photo: str
    title: str
    url: str
    text: str


class Passage(_Spec):
    id: str
    title: str
    url: str
    text: str
    entities: list[str] = Field(default_factory=list)


class Question(_Spec):
    id: str
    photo: str
    question: str
    answer: str
    aliases: list[str] = Field(default_factory=list)
    category: Category
    subcategory: str
    search_label: SearchLabel
    small_model_can_answer: bool
    evidence: list[str] = Field(default_factory=list)


class Concept(_Spec):
    id: str
    name: str
    kind: str
    category: Category
    subcategory: str
    photos: list[str]
    pages: list[str] = Field(default_factory=list)
    passages: list[str] = Field(default_factory=list)


class WorldSpec(_Spec):
    photos: list[Photo]
    pages: list[Page]
    passages: list[Passage]
    questions: list[Question]
    concepts: list[Concept]

    def problems(self) -> list[str]:
        """Broken references, repeated ids or URLs and unknown subcategories (empty when sound)."""
        found: list[str] = []
        ids: dict[str, str] = {}
        for kind in ("photos", "pages", "passages", "questions", "concepts"):
            for item in getattr(self, kind):
                if item.id in ids:
                    found.append(f"{kind}: id {item.id!r} is also used in {ids[item.id]}")
                ids[item.id] = kind
        urls = [p.url for p in [*self.pages, *self.passages]]
        found += [f"url {u!r} is used more than once" for u in sorted({u for u in urls if urls.count(u) > 1})]
        found += [f"url {u!r} is not under a reserved .example host" for u in urls if ".example/" not in u + "/"]
        photos = {p.id for p in self.photos}
        texts = {p.id for p in [*self.pages, *self.passages]}
        found += [f"page {p.id}: unknown photo {p.photo!r}" for p in self.pages if p.photo not in photos]
        for q in self.questions:
            if q.photo not in photos:
                found.append(f"question {q.id}: unknown photo {q.photo!r}")
            found += [f"question {q.id}: unknown evidence {e!r}" for e in q.evidence if e not in texts]
        for c in self.concepts:
            refs = [*c.photos, *c.pages, *c.passages]
            found += [f"concept {c.id}: unknown reference {r!r}" for r in refs if r not in photos | texts]
        for item in [*self.questions, *self.concepts]:
            if item.subcategory not in subcategories()[item.category]:
                found.append(f"{item.id}: subcategory {item.subcategory!r} is not under {item.category.value}")
        return found


def _spec_files() -> dict[str, str]:
    folder = resources.files("fvqa.demo").joinpath("world")
    return {name: folder.joinpath(f"{name}.yaml").read_text(encoding="utf-8") for name in WorldSpec.model_fields}


@cache
def load_world_spec() -> WorldSpec:
    """The world spec shipped with fvqa, validated; raises ValueError listing every problem."""
    spec = WorldSpec.model_validate({name: yaml.safe_load(text) for name, text in _spec_files().items()})
    problems = spec.problems()
    if problems:
        raise ValueError("the demo world spec is inconsistent:\n  " + "\n  ".join(problems))
    return spec


def spec_hash() -> str:
    digest = hashlib.sha256()
    for name, text in sorted(_spec_files().items()):
        digest.update(name.encode() + b"\0" + text.encode())
    return digest.hexdigest()


def locate_photo(photo: Photo) -> Path:
    """The photo's file inside its installed package, found without importing the package."""
    spec = importlib.util.find_spec(photo.module)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"photo {photo.id!r} ships with {photo.package}, which is not installed; "
            "install the demo extra: pip install 'fvqa[demo]'"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / photo.path
    if not path.is_file():
        raise FileNotFoundError(f"photo {photo.id!r}: {path.name} is missing from the installed {photo.package}")
    return path


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".partial")
    with tmp.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)


def read_world_manifest(folder: Path) -> dict[str, Any] | None:
    path = folder / MANIFEST_NAME
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def build_world(folder: str | Path, *, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Build the demo world into `folder`, or return the manifest of an up-to-date build.

    A build is up to date when its manifest records the current spec hash; a partial or
    stale build is rebuilt. The manifest is written last.
    """
    folder = Path(folder)
    spec = load_world_spec()
    current = spec_hash()
    existing = read_world_manifest(folder)
    if existing is not None and existing.get("spec_hash") == current:
        return existing
    (folder / MANIFEST_NAME).unlink(missing_ok=True)
    for sub in ("photos", "thumbs"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    photo_rows: list[dict[str, Any]] = []
    for photo in spec.photos:
        if progress is not None:
            progress(photo.id)
        source = locate_photo(photo)
        data = read_image_bytes(source)
        decoded = decode_image(data, source=f"photo {photo.id}")
        file_name = f"{photo.id}{source.suffix.lower()}"
        shutil.copyfile(source, folder / "photos" / file_name)
        (folder / "thumbs" / f"{photo.id}.jpg").write_bytes(make_thumbnail(decoded.image))
        photo_rows.append(
            {
                "id": photo.id,
                "file": f"photos/{file_name}",
                "thumbnail": f"thumbs/{photo.id}.jpg",
                "url": f"{MEDIA_HOST}/photos/{file_name}",
                "sha256": decoded.sha256,
                "width": decoded.width,
                "height": decoded.height,
                "role": photo.role,
                "licence": photo.licence,
                "credit": photo.credit,
                "description": photo.description,
                "package": photo.package,
                "package_version": _package_version(photo.package),
                "package_path": f"{photo.module}/{photo.path}",
            }
        )
    by_photo = {row["id"]: row for row in photo_rows}
    pages = [
        {
            **page.model_dump(),
            "image": by_photo[page.photo]["file"],
            "thumbnail": by_photo[page.photo]["thumbnail"],
            "image_sha256": by_photo[page.photo]["sha256"],
        }
        for page in spec.pages
    ]
    _write_jsonl(folder / "pages.jsonl", pages)
    _write_jsonl(folder / "passages.jsonl", [p.model_dump() for p in spec.passages])
    _write_jsonl(folder / "concepts.jsonl", [c.model_dump(mode="json") for c in spec.concepts])
    manifest = {
        "format": "fvqa-demo-world",
        "spec_hash": current,
        "built": datetime.now(UTC).isoformat(timespec="seconds"),
        "counts": {
            "photos": len(spec.photos),
            "subject_photos": sum(p.role == "subject" for p in spec.photos),
            "pages": len(spec.pages),
            "passages": len(spec.passages),
            "questions": len(spec.questions),
            "concepts": len(spec.concepts),
        },
        "photos": photo_rows,
    }
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def seed_samples(world: str | Path, *, split: str = "test") -> Iterator[Sample]:
    """The seed questions of a built world as validated samples."""
    world = Path(world)
    manifest = read_world_manifest(world)
    if manifest is None:
        raise FileNotFoundError(f"{world} holds no built demo world ({MANIFEST_NAME} is missing)")
    photos = {p["id"]: p for p in manifest["photos"]}
    for q in load_world_spec().questions:
        photo = photos[q.photo]
        yield new_sample(
            source=WORLD_SOURCE,
            source_id=q.id,
            split=split,
            question=q.question,
            answer=q.answer,
            aliases=q.aliases,
            image=(world / photo["file"]).read_bytes(),
            image_url=photo["url"],
            category=q.category,
            subcategory=q.subcategory,
            search_label=q.search_label,
            meta={
                "demo": {
                    "photo": q.photo,
                    "small_model_can_answer": q.small_model_can_answer,
                    "evidence": q.evidence,
                }
            },
        )
