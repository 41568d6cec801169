"""``rag ask`` and ``rag search``: questions in, answers or passages out."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.markup import escape

from rag.cli.loading import load, settings_from
from rag.cli.output import out, print_answer, where
from rag.errors import InvalidInputError, RagError

_CORPUS_HELP = "folder of .txt/.md files or a .jsonl file [env RAG_CORPUS]"


def _read_batch(path: str) -> list[tuple[str, object, int]]:
    """(question, id, line number) per non-blank line; the id (any JSON value, or None) is echoed so
    results can be matched, the line number names the line in errors."""
    try:
        fh = sys.stdin if path == "-" else open(path, encoding="utf-8-sig")  # noqa: SIM115 - closed below
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


def ask(
    question: str | None = typer.Argument(None, help="the question (omit with --batch)"),
    k: int = typer.Option(5, "-k", "--top-k", help="number of citations (1-50)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    batch: str | None = typer.Option(
        None, "--batch", help="JSONL file with a 'question' field per line, or - for stdin; prints JSON lines"
    ),
    corpus: Path | None = typer.Option(None, "--corpus", help=_CORPUS_HELP),
    index_dir: Path | None = typer.Option(None, "--index", help="index folder [env RAG_INDEX]"),
    mode: str | None = typer.Option(None, "--mode", help="hybrid | dense | bm25"),
) -> None:
    """Answer a question with citations (or say the corpus does not say)."""
    from rag.ask import ask as rag_ask
    from rag.ask import validate_question

    if question is None and batch is None:
        raise InvalidInputError("give a question, or --batch FILE")
    if question is not None and batch is not None:
        raise InvalidInputError("give a question or --batch FILE, not both")
    questions = _read_batch(batch) if batch is not None else [(question or "", None, 0)]
    for q, _, lineno in questions:
        try:
            validate_question(q, k)  # fail before loading the model
        except RagError as exc:
            if batch is None:
                raise
            raise type(exc)(f"{batch}:{lineno}: {exc}") from None
    settings = settings_from(corpus=corpus, index=index_dir, mode=mode)
    idx, embedder = load(settings)
    retrieval, answering = settings.retrieval(), settings.answering()  # the answer models load once
    for q, qid, _ in questions:
        ans = rag_ask(idx, embedder, q, k=k, retrieval=retrieval, answering=answering)
        if as_json or batch is not None:
            d = ans.to_dict()
            sys.stdout.write(json.dumps({"id": qid, **d} if qid is not None else d, ensure_ascii=False) + "\n")
        else:
            print_answer(ans)


def search(
    query: str = typer.Argument(..., help="the search text"),
    k: int = typer.Option(5, "-k", "--top-k", help="number of passages (1-50)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    corpus: Path | None = typer.Option(None, "--corpus", help=_CORPUS_HELP),
    index_dir: Path | None = typer.Option(None, "--index", help="index folder [env RAG_INDEX]"),
    mode: str | None = typer.Option(None, "--mode", help="hybrid | dense | bm25"),
) -> None:
    """Ranked passages only."""
    from rag.ask import search as rag_search
    from rag.ask import validate_question

    validate_question(query, k, name="query")
    settings = settings_from(corpus=corpus, index=index_dir, mode=mode)
    idx, embedder = load(settings)
    hits = rag_search(idx, embedder, query, k=k, retrieval=settings.retrieval())
    if as_json:
        # the /search shape (less its timings)
        sys.stdout.write(json.dumps({"query": query.strip(), "passages": [h.to_dict() for h in hits]}, ensure_ascii=False) + "\n")
        return
    if not hits:
        out.print("[yellow]No passage matches.[/]")
    for h in hits:
        out.print(
            f"[bold][{h.rank}][/] {escape(where(h.chunk.title, h.chunk.section))}  "
            f"[dim]{h.chunk.doc_id}:{h.chunk.start}-{h.chunk.end} score {h.score:.4f}[/]"
        )
        out.print(escape(h.chunk.text[:400]) + ("…" if len(h.chunk.text) > 400 else "") + "\n")
