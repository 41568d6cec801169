"""``rag eval``: run one question set, or every registered set, in-process or against a server; write
reports; gate on thresholds."""

from __future__ import annotations

import json
import platform
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import typer
from rich.table import Table

from rag.cli.loading import load, settings_from
from rag.cli.output import err, out
from rag.embedding import Embedder
from rag.errors import InvalidInputError, RagError
from rag.eval_report import HEADLINE, fmt, overview, sets_page, type_rows, write_set_report
from rag.eval_sets import EvalSet, Registry, load_registry, set_questions
from rag.evaluation import (
    Outcome,
    by_type,
    check,
    load_conversations,
    load_questions,
    load_thresholds,
    run,
    run_conversations,
    summarize,
    validate_questions,
)
from rag.settings import Settings
from rag.store import Index

AskFn = Callable[[str, int], dict]


def _http_ask(url: str) -> AskFn:
    import urllib.error
    import urllib.request

    def ask_fn(question: str, k: int) -> dict:
        req = urllib.request.Request(
            url.rstrip("/") + "/ask", data=json.dumps({"question": question, "k": k}).encode(), headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return {"answer": None, "citations": [], "error": f"HTTP {exc.code}"}
        except urllib.error.URLError as exc:
            raise RagError(f"cannot reach {url}: {exc.reason}") from None

    return ask_fn


def _local_ask(settings: Settings, mode: str | None = None) -> tuple[object, AskFn]:
    from rag.ask import ask as rag_ask

    index, embedder = load(settings, quiet=True)
    retrieval = settings.retrieval() if mode is None else settings_from(**{**settings.model_dump(), "mode": mode}).retrieval()
    answering = settings.answering()
    return index, (lambda q, k: rag_ask(index, embedder, q, k=k, retrieval=retrieval, answering=answering).to_dict())


def _print_tables(title: str, summaries: dict[str, dict], types: dict[str, dict]) -> None:
    """Metrics down, runs across: stays readable in an 80-column terminal."""
    t = Table(title=title)
    t.add_column("metric")
    for name in summaries:
        t.add_column(name, justify="right")
    for c in HEADLINE:
        t.add_row(c, *[fmt(s.get(c)) for s in summaries.values()])
    out.print(t)
    tt = Table(title="per question type")
    for c in ("run / type", "n", "accuracy", "hit@5"):
        tt.add_column(c)
    for key, v in type_rows(types).items():
        tt.add_row(key, str(v["n"]), fmt(v["accuracy"]), fmt(v["hit@5"]))
    out.print(tt)


def _gate(summary: dict, thresholds: Path) -> None:
    failures = check(summary, load_thresholds(thresholds))
    for f in failures:
        err.print(f"check failed: {f}")
    if failures:
        sys.exit(1)
    err.print("check passed")


def _split(questions: list, split: str) -> list:
    from rag.splits import in_split, read_split

    split_file, _, part = split.rpartition(":")
    if not split_file or not Path(split_file).is_file():
        raise InvalidInputError(f"--split wants SPLIT_FILE:PART (e.g. eval/sets/squad2_split.json:test), not {split!r}")
    parts = read_split(Path(split_file))
    if not isinstance(parts.get(part), list):
        names = ", ".join(k for k, v in parts.items() if isinstance(v, list))
        raise InvalidInputError(f"{split_file} has no part {part!r}; its parts are {names}")
    return in_split(questions, parts, part)


def eval_command(
    file: Path | None = typer.Argument(None, help="a question set (JSONL); omit with --all or --set"),
    run_all: bool = typer.Option(False, "--all", help="every set of eval/sets/sets.toml; writes eval/reports/ and eval/README.md"),
    names: list[str] | None = typer.Option(None, "--set", help="a set of the registry by name (repeatable)"),
    external: bool = typer.Option(False, "--external", help="with --all: also the sets whose data lives outside the repository (SQuAD)"),
    registry_file: Path = typer.Option(Path("eval/sets/sets.toml"), "--registry", help="the set registry"),
    url: str | None = typer.Option(None, "--url", help="evaluate a running server instead, e.g. http://127.0.0.1:8000"),
    mode: str | None = typer.Option(None, "--mode", help="hybrid | dense | bm25"),
    out_dir: Path | None = typer.Option(
        None, "--out", help="report folder [default: eval/results/<set>; with --all eval/reports, or eval/results with --check]"
    ),
    corpus: Path | None = typer.Option(None, "--corpus", help="folder of .txt/.md files or a .jsonl file [env RAG_CORPUS]"),
    index_dir: Path | None = typer.Option(None, "--index", help="index folder [env RAG_INDEX]"),
    k: int = typer.Option(5, "-k", help="citations per question (hit@k looks at these)"),
    ablation: bool = typer.Option(False, "--ablation", help="also run dense, bm25 and hybrid, and hybrid without table-aware chunking"),
    do_check: bool = typer.Option(
        False, "--check", help="exit 1 when a metric falls below eval/thresholds.toml (with --all: the gated sets pooled)"
    ),
    thresholds: Path = typer.Option(Path("eval/thresholds.toml"), "--thresholds", help="minimums for --check"),
    limit: int | None = typer.Option(None, "--limit", min=1, help="only the first N questions"),
    split: str | None = typer.Option(
        None, "--split", help="SPLIT_FILE:PART, e.g. eval/sets/squad2_split.json:test (questions of those articles only)"
    ),
    compare_model: bool = typer.Option(
        False, "--compare-model", help="also run with / without the cross-encoder reader and without any trained model"
    ),
) -> None:
    """Evaluate answers and citations on a question set (or every registered set); write reports and a chart."""
    if run_all or names:
        if file is not None:
            raise InvalidInputError("give a question file, or --all / --set, not both")
        _eval_registry(load_registry(registry_file), names or None, external, out_dir, k, do_check, thresholds, limit, url)
        return
    file = file or Path("eval/sets/seed-dev.jsonl")
    questions = load_questions(file)
    if split:
        questions = _split(questions, split)
    questions = questions[:limit]
    if not questions:
        raise InvalidInputError("no questions to evaluate")
    settings = settings_from(corpus=corpus, index=index_dir, mode=mode)
    out_dir = out_dir or Path("eval/results") / file.stem
    summaries: dict[str, dict] = {}
    types: dict[str, dict] = {}
    if url:
        main = run(questions, _http_ask(url), k)
        name = f"server ({url})"
    else:
        index, ask_fn = _local_ask(settings)
        problems = validate_questions(questions, {d.id: d.text for d in index.documents.values()})  # type: ignore[attr-defined]
        if problems:
            raise InvalidInputError(f"{len(problems)} problems in {file}: " + "; ".join(problems[:5]))
        name = settings.mode
        main = run(questions, ask_fn, k)
    summaries[name], types[name] = summarize(main), by_type(main)
    if not url:
        variants: dict[str, Settings] = {}
        if compare_model:
            changes: dict[str, dict[str, object]] = {
                "with the reader": {"use_reader": True},
                "without the reader": {"use_reader": False},
                "without trained models": {"use_reader": False, "answer_model": Path("/nonexistent")},
            }
            variants |= {
                label: settings_from(**{**settings.model_dump(), **change})
                for label, change in changes.items()
                if not all(getattr(settings, f) == v for f, v in change.items())
            }
        if ablation:
            variants |= {m: settings_from(**{**settings.model_dump(), "mode": m}) for m in ("dense", "bm25", "hybrid") if m != name}
            variants["hybrid, no table chunking"] = settings_from(
                **{**settings.model_dump(), "tables": False, "index": Path(str(settings.index) + "-notables")}
            )
        for label, s in variants.items():
            _, fn = _local_ask(s)
            oc = run(questions, fn, k)
            summaries[label], types[label] = summarize(oc), by_type(oc)
    report = write_set_report(str(file), len(questions), k, main, summaries, types, out_dir)
    _print_tables(str(file), summaries, types)
    err.print(f"report: {report}")
    if do_check:
        _gate(summaries[name], thresholds)


def _host() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return f"{cpu} ({os.cpu_count()} cores)"


class _Runner:
    """One embedder, one index per corpus, the answer models with and without the reader: loaded once."""

    def __init__(self, registry: Registry, url: str | None):
        self.registry = registry
        self.url = url
        self.embedder: Embedder | None = None
        self.indexes: dict[str, Index] = {}
        base = Settings()
        self.retrieval = base.retrieval()
        self.answering = {True: base.answering(), False: settings_from(use_reader=False).answering()} if url is None else {}

    def index(self, corpus: str) -> Index:
        if corpus not in self.indexes:
            from rag.indexing import open_index

            s = Settings()
            if self.embedder is None:
                self.embedder = s.embedder()
            err.print(f"indexing {corpus} ({self.registry.corpora[corpus]})")
            # each corpus its own index: a folder under index-eval/, or a collection named after it
            collection = s.milvus_collection + "_eval_" + re.sub(r"\W", "_", corpus)
            where = s.store(index=Path("index-eval") / corpus, collection=collection)
            self.indexes[corpus], _ = open_index(self.registry.corpora[corpus], where, self.embedder, s.chunker())
        return self.indexes[corpus]

    def ask_fn(self, corpus: str, reader: bool) -> AskFn:
        if self.url:
            return _http_ask(self.url)
        from rag.ask import ask as rag_ask

        index, answering = self.index(corpus), self.answering[reader]
        return lambda q, k: rag_ask(index, self.embedder, q, k=k, retrieval=self.retrieval, answering=answering).to_dict()  # type: ignore[arg-type]

    def chat_fn(self, corpus: str, reader: bool):
        if self.url:
            raise InvalidInputError("conversation sets run in-process only; leave out --url")
        from rag.chat import answer_turn
        from rag.reply import render, turns

        index, answering = self.index(corpus), self.answering[reader]

        def chat(messages: list[tuple[str, str]], k: int) -> tuple[dict, str]:
            t = answer_turn(index, self.embedder, turns(messages), k, self.retrieval, answering)  # type: ignore[arg-type]
            return {**t.answer.to_dict(), "standalone_question": t.question}, render(t.answer, talk=t.talk, more=t.more)

        return chat


def _run_set(runner: _Runner, s: EvalSet, k: int, limit: int | None, reader: bool) -> list[Outcome]:
    if s.kind == "conversation":
        return run_conversations(load_conversations(s.file)[:limit], runner.chat_fn(s.corpus, reader), k)
    questions = set_questions(runner.registry, s)[:limit]
    if not runner.url:
        index = runner.index(s.corpus)
        problems = validate_questions(questions, {d.id: d.text for d in index.documents.values()})
        if problems:
            raise InvalidInputError(f"{len(problems)} problems in {s.file}: " + "; ".join(problems[:5]))
    return run(questions, runner.ask_fn(s.corpus, reader), k)


def _eval_registry(
    registry: Registry,
    names: list[str] | None,
    external: bool,
    out_dir: Path | None,
    k: int,
    do_check: bool,
    thresholds: Path,
    limit: int | None,
    url: str | None,
) -> None:
    chosen = registry.select(names, external)
    if do_check and not names:
        chosen = [s for s in chosen if s.gate]  # the gate reads the gated sets only: unseen sets stay unseen
    missing = [s.name for s in chosen if s.external and not (s.file.exists() and registry.corpus(s).exists())]
    if missing:
        if names:
            raise InvalidInputError(f"the data of {missing[0]} is not here ({registry.corpus(registry.select([missing[0]])[0])})")
        err.print(f"note: skipped {', '.join(missing)}: their data is not here")
        chosen = [s for s in chosen if s.name not in missing]
    default_out = out_dir is None and not do_check and not names and not limit and not url
    out_dir = out_dir or Path("eval/results" if not default_out else "eval/reports")
    runner = _Runner(registry, url)
    rows: list[dict] = []
    gated: dict[str, list[Outcome]] = {}  # corpus -> outcomes of its gated sets
    for s in chosen:
        t0 = time.perf_counter()
        main = _run_set(runner, s, k, limit, reader=True)
        summaries = {"default": summarize(main)}
        types = {"default": by_type(main)}
        if not url:
            bare = _run_set(runner, s, k, limit, reader=False)
            summaries["without the reader"], types["without the reader"] = summarize(bare), by_type(bare)
        write_set_report(f"{s.name} ({s.file})", len(main), k, main, summaries, types, out_dir / s.name)
        rows.append(
            {
                "name": s.name,
                "corpus": s.corpus,
                "status": s.status,
                "summary": summaries["default"],
                "without_reader": summaries.get("without the reader"),
            }
        )
        if s.gate:
            gated.setdefault(s.corpus, []).extend(main)
        m = summaries["default"]
        err.print(
            f"{s.name}: answer accuracy {fmt(m['answer_accuracy'])}, abstention {fmt(m.get('abstention'))}, "
            f"false abstention {fmt(m['false_abstention'])} ({len(main)} questions, {time.perf_counter() - t0:.0f}s)"
        )
    pooled = {f"{corpus}: gated sets": summarize(oc) for corpus, oc in gated.items()}
    everything = [o for oc in gated.values() for o in oc]
    pooled_gate = summarize(everything) if everything else None
    if pooled_gate is not None and len(gated) > 1:
        pooled["all gated sets"] = pooled_gate
    page = overview(rows, pooled, _host(), time.strftime("%Y-%m-%d"))
    target = Path("eval/README.md") if default_out else out_dir / "README.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page)
    if default_out:
        (registry.folder / "README.md").write_text(sets_page(registry))
    err.print(f"overview: {target}")
    if do_check:
        if pooled_gate is None:
            raise InvalidInputError("no gated set was run: --check needs at least one set with gate = true")
        _gate(pooled_gate, thresholds)
