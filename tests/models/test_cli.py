"""Tests for fvqa.models.cli: `serve-local` starts the real embedded server, prints how to use it, stops on Ctrl-C."""

from __future__ import annotations

import importlib.util

import pytest
from typer.testing import CliRunner

from fvqa.models import cli
from fvqa.models.local_server import LocalModelServer

runner = CliRunner()


def test_help_lists_serve_local() -> None:
    result = runner.invoke(cli.models_app, ["serve-local", "--help"])
    assert result.exit_code == 0 and "--threads" in result.output and "--ctx" in result.output


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="needs pip install 'fvqa[local]'")
def test_serve_local_until_ctrl_c(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[LocalModelServer] = []
    original_enter = LocalModelServer.__enter__

    def enter(self: LocalModelServer) -> LocalModelServer:
        seen.append(self)
        return original_enter(self)

    def ctrl_c(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(LocalModelServer, "__enter__", enter)
    monkeypatch.setattr(cli, "_pause", ctrl_c)
    result = runner.invoke(cli.models_app, ["serve-local", "--threads", "1", "--ctx", "512"])
    assert result.exit_code == 0, result.output
    (server,) = seen
    assert f"base URL: {server.base_url}" in result.output
    assert "model:    smollm2-135m-instruct" in result.output
    assert "curl -s" in result.output and "stopped" in result.output
    assert not server.running


def test_serve_local_reports_a_server_that_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    class Exited(LocalModelServer):
        def start(self) -> LocalModelServer:
            self.port = 1
            return self

        def output_tail(self) -> list[str]:
            return ["[boom] out of memory"]

    monkeypatch.setattr(cli, "LocalModelServer", Exited)
    result = runner.invoke(cli.models_app, ["serve-local"])
    assert result.exit_code == 1 and "[boom] out of memory" in result.output
