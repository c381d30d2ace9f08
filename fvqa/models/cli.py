"""``fvqa models ...``: commands around the model endpoints (the main command line mounts `models_app`)."""

from __future__ import annotations

import json
import shlex
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from fvqa.models.local_server import LocalModelServer, LocalModelUnavailable, LocalServerError

models_app = typer.Typer(help="Model endpoints: the embedded local model server.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


@models_app.callback()
def models() -> None:
    """Model endpoints: the embedded local model server."""


def _pause(seconds: float) -> None:
    """The wait between two checks that the server still runs (a seam for tests)."""
    time.sleep(seconds)


def example_command(base_url: str, model: str) -> str:
    """A curl line that asks the server one question."""
    body = {"model": model, "messages": [{"role": "user", "content": "Which company builds the Falcon 9 rocket?"}]}
    return f"curl -s {base_url}/chat/completions -H 'Content-Type: application/json' -d {shlex.quote(json.dumps(body))}"


@models_app.command("serve-local")
def serve_local(
    port: Annotated[int | None, typer.Option(help="Port on 127.0.0.1 (default: a free one).")] = None,
    threads: Annotated[int, typer.Option(help="CPU threads for the model.")] = 2,
    ctx: Annotated[int, typer.Option(help="Context length in tokens.")] = 2048,
) -> None:
    """Serve the embedded model (SmolLM2-135M-Instruct, llama.cpp) on an OpenAI-compatible endpoint until Ctrl-C."""
    server = LocalModelServer(port=port, threads=threads, ctx=ctx)
    try:
        with server:
            console.print(f"base URL: {server.base_url}", highlight=False)
            console.print(f"model:    {server.model}", highlight=False)
            console.print(
                f"try:      {example_command(server.base_url, server.model)}", highlight=False, soft_wrap=True
            )
            console.print("press Ctrl-C to stop", style="dim")
            while server.running:
                _pause(0.5)
            err_console.print("[red]error:[/red] the local model server stopped on its own; its last output:")
            for line in server.output_tail()[-15:]:
                err_console.print(f"  {line}", highlight=False, markup=False)
            raise typer.Exit(1)
    except KeyboardInterrupt:
        console.print("stopped")
    except (LocalModelUnavailable, LocalServerError) as err:
        err_console.print(f"[red]error:[/red] {escape(str(err))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
