"""Corpus readers: streaming, bad lines reported as file:line and skipped; index builds around them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fvqa.search.corpus import CorpusReport, read_pages, read_passages
from fvqa.search.image_features import PHashEncoder
from fvqa.search.local import LocalImageSearch, LocalTextSearch, build_indexes


def _write(path: Path, lines: list[str | dict | bytes]) -> None:
    with path.open("wb") as handle:
        for line in lines:
            if isinstance(line, bytes):
                handle.write(line + b"\n")
            else:
                handle.write((line if isinstance(line, str) else json.dumps(line)).encode() + b"\n")


def _page(n: int, **extra) -> dict:
    return {
        "id": f"p{n}",
        "url": f"https://x.example/{n}",
        "title": f"Page {n}",
        "text": "t",
        "image": "a.png",
        **extra,
    }


def test_pages_stream_and_bad_lines_are_reported_and_skipped(tmp_path):
    _write(
        tmp_path / "pages.jsonl",
        [
            _page(1, thumbnail="thumbs/a.jpg"),
            "{this is not json",
            "",
            "[1, 2]",
            {"id": "p3", "url": "https://x.example/3"},
            _page(1),
            _page(4, image="../outside.png"),
            b'{"id": "p5", "url": "\xff\xfe"}',
            {**_page(6), "title": 7},
            _page(8),
        ],
    )
    report = CorpusReport()
    pages = list(read_pages(tmp_path, report))
    assert [p.id for p in pages] == ["p1", "p8"]
    assert pages[0].image == tmp_path / "a.png" and pages[0].thumbnail == tmp_path / "thumbs" / "a.jpg"
    assert pages[1].line == 10 and report.rows == 2
    where = [f"{Path(p.file).name}:{p.line}" for p in report.problems]
    assert where == [f"pages.jsonl:{n}" for n in (2, 4, 5, 6, 7, 8, 9)]
    text = [str(p) for p in report.problems]
    assert "not JSON" in text[0] and "JSON object" in text[1] and "'image' is missing" in text[2]
    assert "already used" in text[3] and "inside" in text[4] and "not UTF-8" in text[5] and "not a string" in text[6]
    assert text[0].startswith(str(tmp_path / "pages.jsonl") + ":2: ")


def test_passages_need_id_url_and_text(tmp_path):
    _write(
        tmp_path / "passages.jsonl",
        [
            {"id": "a", "url": "https://x.example/a", "title": "A", "text": "Alpha."},
            {"id": "b", "url": "https://x.example/b", "text": "No title is fine."},
            {"id": "c", "url": "https://x.example/c", "title": "C", "text": "   "},
            "not json",
        ],
    )
    report = CorpusReport()
    passages = list(read_passages(tmp_path, report))
    assert [(p.id, p.title) for p in passages] == [("a", "A"), ("b", "")]
    assert [p.line for p in report.problems] == [3, 4] and "'text' is empty" in report.problems[0].message


def test_build_skips_bad_lines_and_missing_pictures_and_names_them(tmp_path, photo_corpus, png):
    name = next(iter(photo_corpus.photos))
    (tmp_path / "a.png").write_bytes(png(photo_corpus.image(name)))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    _write(
        tmp_path / "pages.jsonl",
        [_page(1), "not json", _page(2, image="missing.png"), _page(3, image="broken.png"), _page(4)],
    )
    _write(tmp_path / "passages.jsonl", [{"id": "a", "url": "https://x.example/a", "text": "Alpha beta."}, "oops"])
    result = build_indexes(tmp_path, encoder=PHashEncoder())
    image, text = result["image"], result["text"]
    assert image["counts"] == {"pages": 2, "images": 1, "skipped": 3}
    assert [p.split(": ")[0].rsplit("/", 1)[-1] for p in image["problems"]] == [
        "pages.jsonl:2",
        "pages.jsonl:3",
        "pages.jsonl:4",
    ]
    assert "does not exist" in image["problems"][1] and "broken.png" in image["problems"][2]
    assert text["counts"] == {"passages": 1, "skipped": 1} and "passages.jsonl:2" in text["problems"][0]
    assert (tmp_path / "index" / "image" / "manifest.json").is_file()
    hits = LocalImageSearch(tmp_path / "index").search_image((tmp_path / "a.png").read_bytes(), 5)
    assert [h.url for h in hits] == ["https://x.example/1", "https://x.example/4"]
    assert LocalTextSearch(tmp_path / "index").search_text("alpha", 5)[0].url == "https://x.example/a"


def test_a_corpus_with_only_passages_builds_only_text(tmp_path):
    _write(tmp_path / "passages.jsonl", [{"id": "a", "url": "https://x.example/a", "text": "Alpha."}])
    result = build_indexes(tmp_path, tmp_path / "out")
    assert result["image"] is None and result["text"]["status"] == "built"


def test_a_folder_without_corpus_files_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"neither pages\.jsonl nor passages\.jsonl"):
        build_indexes(tmp_path)


def test_up_to_date_indexes_are_kept_and_changes_rebuild(tmp_path, photo_corpus, png):
    name = next(iter(photo_corpus.photos))
    (tmp_path / "a.png").write_bytes(png(photo_corpus.image(name)))
    _write(tmp_path / "pages.jsonl", [_page(1)])
    _write(tmp_path / "passages.jsonl", [{"id": "a", "url": "https://x.example/a", "text": "Alpha."}])
    encoder = PHashEncoder()
    first = build_indexes(tmp_path, encoder=encoder)
    again = build_indexes(tmp_path, encoder=encoder)
    assert (first["image"]["status"], first["text"]["status"]) == ("built", "built")
    assert (again["image"]["status"], again["text"]["status"]) == ("up-to-date", "up-to-date")
    _write(tmp_path / "passages.jsonl", [{"id": "b", "url": "https://x.example/b", "text": "Beta."}])
    (tmp_path / "a.png").write_bytes(png(photo_corpus.image(name).rotate(90)))
    changed = build_indexes(tmp_path, encoder=encoder)
    assert (changed["image"]["status"], changed["text"]["status"]) == ("built", "built")
    assert build_indexes(tmp_path, encoder=encoder, force=True)["text"]["status"] == "built"


def test_an_interrupted_build_leaves_no_index_that_looks_complete(tmp_path, photo_corpus, png):
    name = next(iter(photo_corpus.photos))
    (tmp_path / "a.png").write_bytes(png(photo_corpus.image(name)))
    _write(tmp_path / "pages.jsonl", [_page(n) for n in range(1, 6)])
    out = tmp_path / "out"

    def interrupt(phase: str, done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_indexes(tmp_path, out, interrupt, encoder=PHashEncoder())
    assert not (out / "image").exists() and list(out.iterdir()) == []
    build_indexes(tmp_path, out, encoder=PHashEncoder())
    with pytest.raises(KeyboardInterrupt):
        build_indexes(tmp_path, out, interrupt, encoder=PHashEncoder(), force=True)
    assert [p.name for p in out.iterdir()] == ["image"]
    assert len(LocalImageSearch(out).search_image((tmp_path / "a.png").read_bytes(), 10)) == 5
