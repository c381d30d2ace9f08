"""`fvqa search index|image|text` through typer's CliRunner on `search_app`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fvqa.search.cli import search_app

runner = CliRunner()


@pytest.fixture(scope="module")
def corpus(photo_corpus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the photo corpus plus a few passages, so `index` writes into CORPUS/index."""
    folder = tmp_path_factory.mktemp("cli-corpus")
    shutil.copytree(photo_corpus.folder, folder, dirs_exist_ok=True)
    shutil.rmtree(folder / "index", ignore_errors=True)
    with (folder / "passages.jsonl").open("w", encoding="utf-8") as handle:
        for n, text in enumerate(["The Falcon 9 rocket is built by SpaceX.", "Espresso is a coffee.", "Cats purr."]):
            handle.write(json.dumps({"id": f"t{n}", "url": f"https://t.example/{n}", "title": f"T{n}", "text": text}))
            handle.write("\n")
        handle.write("not json\n")
    return folder


def test_index_prints_counts_timing_and_skipped_lines(corpus):
    result = runner.invoke(search_app, ["index", str(corpus)])
    assert result.exit_code == 0, result.output
    assert "image index: built" in result.output and "pages" in result.output and " s:" in result.output
    assert "text index: built" in result.output and "3 passages" in result.output
    assert "passages.jsonl:4" in result.output
    assert (corpus / "index" / "image" / "manifest.json").is_file()
    again = runner.invoke(search_app, ["index", str(corpus)])
    assert again.exit_code == 0 and "image index: up-to-date" in again.output


def test_image_and_text_queries_print_ranked_results(corpus, photo_corpus):
    runner.invoke(search_app, ["index", str(corpus)])
    name = next(iter(photo_corpus.photos))
    photo = photo_corpus.photos[name]
    result = runner.invoke(search_app, ["image", str(photo), "--corpus", str(corpus), "-k", "2"])
    assert result.exit_code == 0, result.output
    assert result.output.lstrip().startswith("1.") and "2." in result.output and "3." not in result.output
    assert "thumbnail:" in result.output and any(url in result.output for url in photo_corpus.urls[name])
    text = runner.invoke(search_app, ["text", "Which company builds the Falcon 9?", "--index", str(corpus / "index")])
    assert text.exit_code == 0, text.output
    assert "https://t.example/0" in text.output and "built by SpaceX" in text.output


def test_json_output(corpus):
    runner.invoke(search_app, ["index", str(corpus)])
    result = runner.invoke(search_app, ["text", "espresso coffee", "--corpus", str(corpus), "--json", "-k", "1"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines() if line.strip()]
    assert len(rows) == 1 and rows[0]["rank"] == 1 and rows[0]["url"] == "https://t.example/1"


def test_user_errors_exit_2_with_one_line(corpus, tmp_path):
    missing = runner.invoke(search_app, ["text", "anything", "--index", str(tmp_path)])
    assert missing.exit_code == 2 and "manifest.json is missing" in missing.output
    not_image = tmp_path / "x.png"
    not_image.write_bytes(b"hello")
    runner.invoke(search_app, ["index", str(corpus)])
    bad = runner.invoke(search_app, ["image", str(not_image), "--corpus", str(corpus)])
    assert bad.exit_code == 2 and "not_an_image" in bad.output.replace(" ", "_")
    nothing = runner.invoke(search_app, ["index", str(tmp_path / "empty")])
    assert nothing.exit_code == 2 and "neither" in nothing.output
    no_index = runner.invoke(search_app, ["text", "anything"])
    assert no_index.exit_code == 2


def test_help_documents_the_default_index_folder():
    result = runner.invoke(search_app, ["index", "--help"])
    assert result.exit_code == 0 and "CORPUS/index" in result.output
    assert "CORPUS/index" in runner.invoke(search_app, ["text", "--help"]).output
