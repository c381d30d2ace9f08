"""``fvqa search ...``: build local search indexes and query them (the main command line mounts `search_app`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fvqa.search.types import SearchFailure, WebPage

search_app = typer.Typer(
    help="Offline image and text search over a page corpus (pages.jsonl, passages.jsonl).", no_args_is_help=True
)
console = Console()
err_console = Console(stderr=True)

IndexOption = Annotated[
    Path | None,
    typer.Option(
        "--index",
        help="Index folder written by `fvqa search index` (by default CORPUS/index). Give this or --corpus.",
    ),
]
CorpusOption = Annotated[
    Path | None, typer.Option("--corpus", help="Corpus folder whose index is CORPUS/index (instead of --index).")
]
TopK = Annotated[int, typer.Option("-k", "--top-k", min=1, max=100, help="How many results to show.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print the results as JSON lines (thumbnails left out).")]


@search_app.callback()
def search() -> None:
    """Offline image and text search over a page corpus (pages.jsonl, passages.jsonl)."""


@contextmanager
def _user_errors() -> Iterator[None]:
    """Errors a user can fix (a missing or stale index, a bad file) become one line and exit status 2."""
    from pickle import UnpicklingError

    from fvqa.search.image_features import EncoderUnavailable

    try:
        yield
    except (FileNotFoundError, ValueError, EncoderUnavailable, SearchFailure, OSError, UnpicklingError) as err:
        err_console.print(f"[red]error:[/red] {escape(str(err))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _index_dir(index: Path | None, corpus: Path | None) -> Path:
    from fvqa.search.local import DEFAULT_INDEX_DIR

    if index is not None:
        return index
    if corpus is not None:
        return corpus / DEFAULT_INDEX_DIR
    raise typer.BadParameter("give --index DIR (an index folder) or --corpus DIR (its index is DIR/index)")


def _show(pages: list[WebPage], as_json: bool) -> None:
    if as_json:
        for rank, page in enumerate(pages, start=1):
            row = {"rank": rank, "score": round(page.score, 4), "title": page.title, "url": page.url}
            typer.echo(json.dumps({**row, "summary": page.summary}, ensure_ascii=False))
        return
    if not pages:
        console.print("no results")
    for rank, page in enumerate(pages, start=1):
        console.print(f"[bold]{rank}.[/bold] {page.score:7.3f}  [bold]{escape(page.title)}[/bold]", highlight=False)
        console.print(f"   {escape(page.url)}", style="cyan", highlight=False)
        if page.summary:
            console.print(f"   {escape(page.summary)}", highlight=False, soft_wrap=False)
        if page.thumbnail is not None:
            console.print(f"   thumbnail: {len(page.thumbnail):,} bytes JPEG", style="dim", highlight=False)


def _report(kind: str, summary: dict[str, Any] | None) -> None:
    if summary is None:
        console.print(f"{kind}: skipped (the corpus has no file for it)")
        return
    counts = ", ".join(f"{value} {name}" for name, value in summary["counts"].items())
    console.print(
        f"{kind}: {summary['status']} in {summary['seconds']:.2f} s: {counts} -> {summary['path']}", soft_wrap=True
    )
    problems = summary["problems"]
    for problem in problems[:20]:
        err_console.print(f"  skipped {escape(problem)}", highlight=False, soft_wrap=True)
    if len(problems) > 20:
        err_console.print(f"  ... and {len(problems) - 20} more skipped lines", highlight=False)


@search_app.command("index")
def index(
    corpus: Annotated[Path, typer.Argument(help="Corpus folder holding pages.jsonl and/or passages.jsonl.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Where to write the indexes (default CORPUS/index).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Rebuild even when the indexes are up to date.")] = False,
    encoder: Annotated[
        str | None,
        typer.Option(help="Image encoder: auto, efficientnet-lite0 or phash64 (default: $FVQA_IMAGE_ENCODER or auto)."),
    ] = None,
) -> None:
    """Build the image index (from pages.jsonl) and the text index (from passages.jsonl) of a corpus.

    The indexes go to OUT/image and OUT/text, OUT being CORPUS/index unless --out is given;
    `fvqa search image` and `fvqa search text` read them with --index OUT or --corpus CORPUS.
    Indexes already up to date with the corpus are kept; lines that cannot be read are
    skipped and listed as file:line.
    """
    from fvqa.search.image_features import load_encoder
    from fvqa.search.local import build_indexes

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with _user_errors(), Progress(*columns, console=err_console, transient=True) as bar:
        tasks: dict[str, Any] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(f"indexing {phase}", total=total)
            bar.update(tasks[phase], completed=done)

        chosen = load_encoder(encoder) if encoder is not None else None
        result = build_indexes(corpus, out, progress, encoder=chosen, force=force)
    _report("image index", result["image"])
    _report("text index", result["text"])


@search_app.command("image")
def image(
    path: Annotated[Path, typer.Argument(help="The query picture (JPEG, PNG, WebP, GIF, BMP or TIFF).")],
    index: IndexOption = None,
    corpus: CorpusOption = None,
    k: TopK = 5,
    as_json: JsonFlag = False,
) -> None:
    """Find the pages whose picture looks like PATH (image search)."""
    from fvqa.images import read_image_bytes
    from fvqa.search.local import LocalImageSearch

    with _user_errors():
        backend = LocalImageSearch(_index_dir(index, corpus))
        pages = backend.search_image(read_image_bytes(path), k)
    _show(pages, as_json)


@search_app.command("text")
def text(
    query: Annotated[str, typer.Argument(help="The search query, in plain words.")],
    index: IndexOption = None,
    corpus: CorpusOption = None,
    k: TopK = 5,
    as_json: JsonFlag = False,
) -> None:
    """Find the pages that best match QUERY (BM25 text search), each with a short summary."""
    from fvqa.search.local import LocalTextSearch

    with _user_errors():
        backend = LocalTextSearch(_index_dir(index, corpus))
        pages = backend.search_text(query, k)
    _show(pages, as_json)


@search_app.command("serve")
def serve_command(
    index: IndexOption = None,
    corpus: CorpusOption = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on (keep it local unless you mean otherwise).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    concurrency: Annotated[int, typer.Option(help="Searches run at once; others wait their turn.")] = 8,
    cache: Annotated[Path | None, typer.Option(help="Shared search cache (SQLite) for every client.")] = None,
) -> None:
    """Serve the local image and text search over HTTP (POST /image_search, /text_search; GET /health),
    so many rollout workers or evaluation processes share one index and one cache."""
    from fvqa.cache import Cache, CacheMode
    from fvqa.search.local import LocalImageSearch, LocalTextSearch
    from fvqa.search.service import run_forever
    from fvqa.search.tools import ImageSearchTool, TextSearchTool

    with _user_errors():
        folder = _index_dir(index, corpus)
        shared = Cache(cache, CacheMode.READ_WRITE) if cache is not None else Cache(None, CacheMode.OFF)
        image_tool = ImageSearchTool(LocalImageSearch(folder), shared)
        text_tool = TextSearchTool(LocalTextSearch(folder), shared)

        def ready(url: str) -> None:
            console.print(f"search service at {url} (index {folder}); Ctrl-C stops it")
            console.print(f'  try: curl -s -X POST {url}/text_search -d \'{{"query": "Falcon 9", "k": 3}}\'')

        run_forever(image_tool, text_tool, host, port, concurrency, on_ready=ready)


@search_app.command("import-release")
def import_release(
    pickle_path: Annotated[Path, typer.Argument(help="A released image-search cache (.pkl) of the FVQA release.")],
    cache: Annotated[Path, typer.Option(help="The fvqa search cache (SQLite) to import into.")],
    official: Annotated[
        list[Path], typer.Option(help="Official FVQA parquet file(s) whose data_id keys the pickle (repeatable).")
    ],
    k: TopK = 5,
) -> None:
    """Import a released image-search cache WITHOUT running its code: a restricted unpickler admits only
    plain containers and PIL images, and refuses anything else with the offending class named."""
    from fvqa.search.pickle_import import import_release_cache_file

    with _user_errors():
        report = import_release_cache_file(pickle_path, cache, official, k=k)
    console.print(report)
