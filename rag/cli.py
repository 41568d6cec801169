"""The ``rag`` command: parse, call the library, print. Errors become one line on stderr."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Optional

import typer

try:  # recent typer vendors its own copy of click
    from typer import _click as click
except ImportError:  # pragma: no cover - older typer uses click itself
    import click
from rich.console import Console
from rich.markup import escape

from rag.errors import CorpusNotFoundError, RagError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Ask questions of a folder of articles; get extractive answers (a sentence, a list, a table cell) with exact citations; English questions.")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)


def _settings(**overrides):
    from pydantic import ValidationError

    from rag.errors import InvalidInputError
    from rag.settings import Settings

    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        # pydantic's report spans several lines; the CLI promises one: name the setting the user
        # gave (the option when it came from one, else the environment variable) and the rule.
        first = exc.errors()[0]
        field = "_".join(str(p) for p in first["loc"])
        name = f"--{field} " if field in given else f"RAG_{field.upper()}="
        raise InvalidInputError(f"{name}{first.get('input')!r}: {first['msg']}") from None


def _progress_bar():
    """A rich progress callback for index builds (on stderr, so stdout stays parseable)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=True,
                   disable=not err.is_terminal)  # a transient bar shows nothing in a log but leaves an empty line
    tasks: dict[str, int] = {}
    names = {"chunk": "chunking", "embed": "embedding", "write": "writing"}
    units = {"chunk": "documents", "embed": "texts"}
    logged: dict[str, float] = {}  # stage -> when it was last reported, without a terminal

    def log(stage: str, done: int, total: int) -> None:
        # In a log (CI, docker, a pipe) a first build would otherwise be silent for up to minutes:
        # a line when a stage starts, then one every 30 s.
        now = time.monotonic()
        if stage in logged and now - logged[stage] < 30:
            return
        first = stage not in logged
        logged[stage] = now
        unit = units.get(stage)
        if unit and total == 1:
            unit = unit[:-1]
        if first:
            err.print(f"indexing: {names.get(stage, stage)}" + (f" {total} {unit}" if unit else ""), soft_wrap=True)
        elif unit:
            err.print(f"indexing: {names.get(stage, stage)} {done}/{total} {unit}", soft_wrap=True)

    def update(stage: str, done: int, total: int) -> None:
        if not err.is_terminal:
            log(stage, done, total)
            return
        if not bar.live.is_started:
            bar.start()
        if stage not in tasks:
            tasks[stage] = bar.add_task(names.get(stage, stage), total=total)
        bar.update(tasks[stage], completed=done, total=total)

    return bar, update


def _load(settings, rebuild: bool = False, quiet: bool = False, noted: bool = False):
    from rag.embedding import load_embedder
    from rag.session import open_index, preflight

    note = preflight(settings.corpus, settings.index, read_documents=False)  # open_index reads them below
    if note and not rebuild and not noted:
        err.print(f"note: {escape(note)}", soft_wrap=True)
    embedder = load_embedder(settings.model, backend=settings.backend, query_prefix=settings.query_prefix, query_threads=settings.threads)
    bar, update = _progress_bar()
    try:
        index, report = open_index(settings.corpus, settings.index, embedder, settings.chunker(), rebuild=rebuild, progress=update,
                                   notify=lambda message: err.print(f"note: {escape(message)}", soft_wrap=True))
    finally:
        if bar.live.is_started:
            bar.stop()
    if report is not None and not quiet:
        _print_report(report, settings.index)
    return index, embedder


def _note_skipped_folders(corpus) -> None:
    from rag.corpus import skipped_folders

    folders = skipped_folders(corpus)
    if folders:
        names = ", ".join(f + "/" for f in folders[:5]) + (f" and {len(folders) - 5} more" if len(folders) > 5 else "")
        err.print(f"note: subfolders are not indexed, only the files directly in {escape(str(corpus))}: {escape(names)}", soft_wrap=True)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _print_report(report, index_dir) -> None:
    # why every document is embedded again was said before the work (open_index's notify)
    again = f" ({len(report.reembedded)} of them embedded again)" if report.reembedded else ""
    err.print(
        f"indexed into {escape(str(index_dir))}: {len(report.added)} new, {len(report.changed)} changed, {len(report.removed)} removed, "
        f"{len(report.unchanged) + len(report.reembedded)} unchanged documents{again}; {_n(report.chunks, 'chunk')}, {_n(report.candidates, 'answer candidate')}, "
        f"{report.embedded_texts} texts embedded in {report.seconds:.1f}s", soft_wrap=True
    )
    if report.empty:
        names = ", ".join(report.empty[:5]) + (f" and {len(report.empty) - 5} more" if len(report.empty) > 5 else "")
        err.print(f"note: {len(report.empty)} document{'s' if len(report.empty) > 1 else ''} with nothing to index "
                  f"(empty, or only web boilerplate): {escape(names)}", soft_wrap=True)


@app.command()
def index(
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="folder of .txt/.md files or a .jsonl file [env RAG_CORPUS]"),
    index_dir: Optional[Path] = typer.Option(None, "--index", help="index folder [env RAG_INDEX]"),
    rebuild: bool = typer.Option(False, "--rebuild", help="re-embed everything"),
    tables: Optional[bool] = typer.Option(None, "--tables/--no-tables", help="table-aware chunking [env RAG_TABLES]"),
) -> None:
    """Build or update the index (only changed documents are re-embedded)."""
    settings = _settings(corpus=corpus, index=index_dir, tables=tables)
    if not settings.corpus.exists():
        # Asking may fall back on the index alone; indexing a corpus that is not there cannot succeed.
        raise CorpusNotFoundError(f"corpus not found: {settings.corpus}")
    idx, _ = _load(settings, rebuild=rebuild, quiet=False)
    m = idx.manifest
    err.print(f"index {escape(str(settings.index))} is current: {_n(m['counts']['documents'], 'document')}, {_n(m['counts']['chunks'], 'chunk')}, model {m['embedding_model']}",
              soft_wrap=True)
    _note_skipped_folders(settings.corpus)
    from rag.settings import Settings

    if tables is not None and tables != Settings().tables:
        # Settings are not stored anywhere but the environment: without this, the next `rag ask` sees
        # an index built with other settings and rebuilds it with the defaults.
        err.print(f"note: built with --{'' if tables else 'no-'}tables; set RAG_TABLES={str(tables).lower()} "
                  "for rag ask, search and serve to use this index (with the default they rebuild it)", soft_wrap=True)


def _where(title: str, section: str) -> str:
    """A citation's heading, "Title — Section": the title alone before the first heading, or under a
    heading that repeats the title (many articles open with their headline as a heading)."""
    if not section or section.strip().casefold() == title.strip().casefold():
        return title
    return f"{title} — {section}"


def _print_answer(ans) -> None:
    if ans.answer is None:
        out.print("[bold yellow]The corpus does not say.[/]" + (" Closest passages:" if ans.citations else " (The index holds no passages.)"))
    else:
        out.print(f"[bold green]{escape(ans.answer)}[/]")
    for i, c in enumerate(ans.citations, 1):
        snippet = c.text
        if ans.answer_span and ans.answer_span.doc_id == c.doc_id and c.start <= ans.answer_span.start and ans.answer_span.end <= c.end:
            a, b = ans.answer_span.start - c.start, ans.answer_span.end - c.start
            snippet = f"{escape(snippet[:a])}[reverse]{escape(snippet[a:b])}[/reverse]{escape(snippet[b:])}"
        else:
            snippet = escape(snippet)
        if len(c.text) > 600 and "[reverse]" not in snippet:
            snippet = escape(c.text[:600]) + "…"
        out.print(f"\n[bold][{i}][/] {escape(_where(c.title, c.section))}  [dim]{c.doc_id}:{c.start}-{c.end} score {c.score:.4f}[/]")
        out.print(snippet)


def _read_batch(path: str) -> list[tuple[str, object, int]]:
    """(question, id, line number) per non-blank line; the id (any JSON value, or None) is echoed so
    results can be matched, the line number names the line in errors."""
    from rag.errors import InvalidInputError

    try:
        fh = sys.stdin if path == "-" else open(path, encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidInputError(f"--batch {path}: {exc.strerror or exc}") from None
    questions = []
    with fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"{path}:{n}: not JSON ({exc.msg})") from None
            q = rec.get("question") if isinstance(rec, dict) else None
            if not isinstance(q, str):
                raise InvalidInputError(f"{path}:{n}: expected an object with a string 'question' field")
            questions.append((q, rec.get("id"), n))
    return questions


@app.command()
def ask(
    question: Optional[str] = typer.Argument(None, help="the question (omit with --batch)"),
    k: int = typer.Option(5, "-k", "--top-k", help="number of citations (1-50)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    batch: Optional[str] = typer.Option(None, "--batch", help="JSONL file with a 'question' field per line, or - for stdin; prints JSON lines"),
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="folder of .txt/.md files or a .jsonl file [env RAG_CORPUS]"),
    index_dir: Optional[Path] = typer.Option(None, "--index", help="index folder [env RAG_INDEX]"),
    mode: Optional[str] = typer.Option(None, "--mode", help="hybrid | dense | bm25"),
) -> None:
    """Answer a question with citations (or say the corpus does not say)."""
    from rag.ask import ask as rag_ask
    from rag.ask import validate_question
    from rag.errors import InvalidInputError

    if question is None and batch is None:
        raise InvalidInputError("give a question, or --batch FILE")
    if question is not None and batch is not None:
        raise InvalidInputError("give a question or --batch FILE, not both")
    questions = _read_batch(batch) if batch is not None else [(question, None, 0)]
    for q, _, lineno in questions:
        try:
            validate_question(q, k)  # fail before loading the model
        except RagError as exc:
            if batch is None:
                raise
            raise type(exc)(f"{batch}:{lineno}: {exc}") from None
    settings = _settings(corpus=corpus, index=index_dir, mode=mode)
    idx, embedder = _load(settings)
    retrieval, answering = settings.retrieval(), settings.answering()  # the answer models load once
    for q, qid, _ in questions:
        ans = rag_ask(idx, embedder, q, k=k, retrieval=retrieval, answering=answering)
        if as_json or batch is not None:
            d = ans.to_dict()
            sys.stdout.write(json.dumps({"id": qid, **d} if qid is not None else d, ensure_ascii=False) + "\n")
        else:
            _print_answer(ans)


@app.command()
def search(
    query: str = typer.Argument(..., help="the search text"),
    k: int = typer.Option(5, "-k", "--top-k", help="number of passages (1-50)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="folder of .txt/.md files or a .jsonl file [env RAG_CORPUS]"),
    index_dir: Optional[Path] = typer.Option(None, "--index", help="index folder [env RAG_INDEX]"),
    mode: Optional[str] = typer.Option(None, "--mode", help="hybrid | dense | bm25"),
) -> None:
    """Ranked passages only."""
    from rag.ask import search as rag_search
    from rag.ask import validate_question

    validate_question(query, k, name="query")
    settings = _settings(corpus=corpus, index=index_dir, mode=mode)
    idx, embedder = _load(settings)
    hits = rag_search(idx, embedder, query, k=k, retrieval=settings.retrieval())
    if as_json:
        # the /search shape (less its timings)
        sys.stdout.write(json.dumps({"query": query.strip(), "passages": [h.to_dict() for h in hits]}, ensure_ascii=False) + "\n")
        return
    if not hits:
        out.print("[yellow]No passage matches.[/]")
    for h in hits:
        out.print(f"[bold][{h.rank}][/] {escape(_where(h.chunk.title, h.chunk.section))}  [dim]{h.chunk.doc_id}:{h.chunk.start}-{h.chunk.end} score {h.score:.4f}[/]")
        out.print(escape(h.chunk.text[:400]) + ("…" if len(h.chunk.text) > 400 else "") + "\n")


def _check_can_listen(host: str, port: int) -> None:
    """Fail in one line, before saying "serving", when the address is taken or not ours."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            s.bind(infos[0][4])
    except OSError as exc:
        raise RagError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


@app.command()
def serve(
    host: Optional[str] = typer.Option(None, "--host", help="[env RAG_HOST]"),
    port: Optional[int] = typer.Option(None, "--port", help="[env RAG_PORT]"),
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="folder of .txt/.md files or a .jsonl file [env RAG_CORPUS]"),
    index_dir: Optional[Path] = typer.Option(None, "--index", help="index folder [env RAG_INDEX]"),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="server processes, each with its own model copy [env RAG_WORKERS]"),
) -> None:
    """Run the HTTP service (chat page at /, API docs at /docs)."""
    try:
        import uvicorn

        from api.app import create_app
        from api.server import NoDelayHTTPProtocol
    except ImportError:
        raise RagError("the HTTP service needs the api extra: pip install -e '.[api]'") from None
    settings = _settings(host=host, port=port, corpus=corpus, index=index_dir, workers=workers)
    n = settings.workers
    from rag.session import preflight

    preflight(settings.corpus, settings.index)  # its note, if any, the server logs once it loads
    _check_can_listen(settings.host, settings.port)
    err.print(f"serving on http://{settings.host}:{settings.port} (index {settings.index}, {n} worker{'s' * (n > 1)})")
    if n == 1:
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning", http=NoDelayHTTPProtocol)
        return
    # Several processes: build the index once, here, so the workers only open it (never race to
    # write it); they read their settings from the environment, as a factory without arguments.
    _load(settings, noted=True)  # the parent keeps no copy: the references are dropped here
    os.environ.update({f"RAG_{k.upper()}": str(v) for k, v in (("corpus", settings.corpus), ("index", settings.index))})
    uvicorn.run("api.app:create_worker_app", factory=True, host=settings.host, port=settings.port, workers=n, log_level="warning",
                http=NoDelayHTTPProtocol)


def _register_optional() -> None:
    """Commands whose modules live elsewhere register themselves here (kept out of import time)."""
    from rag import eval_cli  # noqa: F401


def main() -> None:
    _register_optional()
    try:
        app(standalone_mode=False)
    except RagError as exc:
        err.print(f"error: {escape(str(exc))}", soft_wrap=True)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as exc:
        err.print(exc.ctx.get_help() if exc.ctx else "usage: rag COMMAND --help")
        sys.exit(2)
    except click.exceptions.ClickException as exc:
        err.print(f"error: {escape(exc.format_message())}", soft_wrap=True)
        sys.exit(exc.exit_code)
    except (ValueError, OSError) as exc:
        err.print(f"error: {escape(str(exc))}", soft_wrap=True)
        sys.exit(1)
