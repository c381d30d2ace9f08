"""`fvqa search serve` and `fvqa search import-release` as a user runs them."""

import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from fvqa.search.cli import search_app
from fvqa.search.local import LocalImageSearch, LocalTextSearch
from fvqa.search.service import RemoteImageSearch, RemoteTextSearch

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_like_the_index_itself(photo_index, photo_corpus):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fvqa", "search", "serve", "--index", str(photo_index), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise AssertionError("the search service did not come up")
        photo = next(iter(photo_corpus.photos.values())).read_bytes()
        assert RemoteImageSearch(url).search_image(photo, 3) == LocalImageSearch(photo_index).search_image(photo, 3)
        query = "first woman to command a Space Shuttle mission"
        assert RemoteTextSearch(url).search_text(query, 3) == LocalTextSearch(photo_index).search_text(query, 3)
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    assert f"search service at {url}" in output
    assert proc.returncode == 0, output


def test_import_release_refuses_a_hostile_pickle(tmp_path, official_fixture):
    marker = tmp_path / "pwned"

    class Hostile:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    hostile = tmp_path / "release.pkl"
    hostile.write_bytes(pickle.dumps({"fvqa_train_0": Hostile()}))
    result = CliRunner().invoke(
        search_app,
        [
            "import-release",
            str(hostile),
            "--cache",
            str(tmp_path / "cache.sqlite"),
            "--official",
            str(official_fixture),
        ],
    )
    assert result.exit_code == 2
    assert "refusing to unpickle" in result.output and "system" in result.output
    assert not marker.exists()
