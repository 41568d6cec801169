"""``rag eval``: run a question set in-process or against a server; write a report; gate on thresholds."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from rag.cli import _load, _settings, app, err, out
from rag.errors import InvalidInputError, RagError
from rag.evaluation import by_type, check, load_questions, load_thresholds, run, summarize, validate_questions

HEADLINE = ["overall_accuracy", "no_answer_auroc", "answer_accuracy", "hit@1", "hit@5", "mrr@5", "hit@1000c", "citation_correct", "abstention", "false_abstention",
            "mean_answer_chars", "latency_p50_ms", "latency_p95_ms"]


def _fmt(v) -> str:
    return "—" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def _http_ask(url: str):
    import urllib.error
    import urllib.request

    def ask_fn(question: str, k: int) -> dict:
        req = urllib.request.Request(url.rstrip("/") + "/ask", data=json.dumps({"question": question, "k": k}).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return {"answer": None, "citations": [], "error": f"HTTP {exc.code}"}
        except urllib.error.URLError as exc:
            raise RagError(f"cannot reach {url}: {exc.reason}") from None

    return ask_fn


def _local_ask(settings, mode: str | None = None):
    from rag.ask import ask as rag_ask

    index, embedder = _load(settings, quiet=True)
    retrieval = settings.retrieval() if mode is None else _settings(**{**settings.model_dump(), "mode": mode}).retrieval()
    answering = settings.answering()
    return index, (lambda q, k: rag_ask(index, embedder, q, k=k, retrieval=retrieval, answering=answering).to_dict())


def _table(title: str, rows: dict[str, dict]) -> Table:
    """Metrics down, runs across: stays readable in an 80-column terminal."""
    t = Table(title=title)
    t.add_column("metric")
    for name in rows:
        t.add_column(name, justify="right")
    for c in HEADLINE:
        t.add_row(c, *[_fmt(s.get(c)) for s in rows.values()])
    return t


def _md_table(rows: dict[str, dict], cols: list[str]) -> str:
    lines = ["| run | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for name, s in rows.items():
        lines.append(f"| {name} | " + " | ".join(_fmt(s.get(c)) for c in cols) + " |")
    return "\n".join(lines)


def _chart(types_by_run: dict[str, dict[str, dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    runs = list(types_by_run)
    types = sorted({t for r in types_by_run.values() for t in r})
    x = np.arange(len(types))
    w = 0.8 / max(len(runs), 1)
    fig, ax = plt.subplots(figsize=(max(7, len(types) * 1.2), 4))
    for i, r in enumerate(runs):
        ax.bar(x + i * w, [types_by_run[r].get(t, {}).get("accuracy", 0) for t in types], w, label=r)
    ax.set_xticks(x + w * (len(runs) - 1) / 2, types, rotation=20)
    ax.set_ylabel("answer accuracy (abstention for unanswerable)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title("Accuracy per question type")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@app.command("eval")
def eval_command(
    file: Path = typer.Argument(Path("eval/questions.jsonl"), help="question set (JSONL)"),
    url: Optional[str] = typer.Option(None, "--url", help="evaluate a running server instead, e.g. http://127.0.0.1:8000"),
    mode: Optional[str] = typer.Option(None, "--mode", help="hybrid | dense | bm25"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="report folder [default eval/results/<set>]"),
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="folder of .txt/.md files or a .jsonl file [env RAG_CORPUS]"),
    index_dir: Optional[Path] = typer.Option(None, "--index", help="index folder [env RAG_INDEX]"),
    k: int = typer.Option(5, "-k", help="citations per question (hit@k looks at these)"),
    ablation: bool = typer.Option(False, "--ablation", help="also run dense, bm25 and hybrid, and hybrid without table-aware chunking"),
    do_check: bool = typer.Option(False, "--check", help="exit 1 when a metric falls below eval/thresholds.toml"),
    thresholds: Path = typer.Option(Path("eval/thresholds.toml"), "--thresholds", help="minimums for --check"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="only the first N questions"),
    split: Optional[str] = typer.Option(None, "--split", help="SPLIT_FILE:PART, e.g. eval/squad2_split.json:test (questions of those articles only)"),
    compare_model: bool = typer.Option(False, "--compare-model", help="also run with / without the cross-encoder reader and without any trained model"),
) -> None:
    """Evaluate answers and citations on a question set; write report.md, results.jsonl and a chart."""
    questions = load_questions(file)
    if split:
        from rag.train import in_split, read_split

        split_file, _, part = split.rpartition(":")
        if not split_file or not Path(split_file).is_file():
            raise InvalidInputError(f"--split wants SPLIT_FILE:PART (e.g. eval/squad2_split.json:test), not {split!r}")
        parts = read_split(Path(split_file))
        if not isinstance(parts.get(part), list):
            names = ", ".join(k for k, v in parts.items() if isinstance(v, list))
            raise InvalidInputError(f"{split_file} has no part {part!r}; its parts are {names}")
        questions = in_split(questions, parts, part)
    questions = questions[:limit]
    if not questions:
        raise InvalidInputError("no questions to evaluate")
    settings = _settings(corpus=corpus, index=index_dir, mode=mode)
    out_dir = out_dir or Path("eval/results") / file.stem
    out_dir.mkdir(parents=True, exist_ok=True)
    summaries: dict[str, dict] = {}
    types: dict[str, dict] = {}
    main_outcomes = None
    if url:
        outcomes = run(questions, _http_ask(url), k)
        name = f"server ({url})"
        summaries[name], types[name] = summarize(outcomes), by_type(outcomes)
        main_outcomes = outcomes
    else:
        index, ask_fn = _local_ask(settings)
        problems = validate_questions(questions, {d.id: d.text for d in index.documents.values()})
        if problems:
            raise InvalidInputError(f"{len(problems)} problems in {file}: " + "; ".join(problems[:5]))
        name = settings.mode
        main_outcomes = run(questions, ask_fn, k)
        summaries[name], types[name] = summarize(main_outcomes), by_type(main_outcomes)
        if compare_model:
            variants = {"with the reader": {"use_reader": True}, "without the reader": {"use_reader": False},
                        "without trained models": {"use_reader": False, "answer_model": Path("/nonexistent")}}
            for label, change in variants.items():
                if all(getattr(settings, f) == v for f, v in change.items()):
                    continue
                _, fn = _local_ask(_settings(**{**settings.model_dump(), **change}))
                oc = run(questions, fn, k)
                summaries[label], types[label] = summarize(oc), by_type(oc)
        if ablation:
            for m in ("dense", "bm25", "hybrid"):
                if m == name:
                    continue
                _, fn = _local_ask(settings, m)
                oc = run(questions, fn, k)
                summaries[m], types[m] = summarize(oc), by_type(oc)
            no_tables = _settings(**{**settings.model_dump(), "tables": False, "index": Path(str(settings.index) + "-notables")})
            _, fn = _local_ask(no_tables)
            oc = run(questions, fn, k)
            summaries["hybrid, no table chunking"], types["hybrid, no table chunking"] = summarize(oc), by_type(oc)
    with (out_dir / "results.jsonl").open("w", encoding="utf-8") as fh:
        for o in main_outcomes:
            fh.write(json.dumps(o.to_dict(), ensure_ascii=False) + "\n")
    (out_dir / "summary.json").write_text(json.dumps({"summary": summaries, "by_type": types}, indent=2))
    _chart(types, out_dir / "accuracy_by_type.png")
    type_rows = {f"{r} / {t}": {"n": v["n"], "accuracy": v["accuracy"], "hit@5": v["hit@5"]} for r, tv in types.items() for t, v in tv.items()}
    report = [f"# Evaluation: {file}", "", f"{len(questions)} questions; k = {k}.", "", "## Summary", "", _md_table(summaries, HEADLINE),
              "", "## Per question type", "", _md_table(type_rows, ["n", "accuracy", "hit@5"]), "",
              "Accuracy for `unanswerable` is the share abstained.", "", "![accuracy per type](accuracy_by_type.png)", ""]
    (out_dir / "report.md").write_text("\n".join(report))
    out.print(_table(f"{file}", summaries))
    tt = Table(title="per question type")
    for c in ("run / type", "n", "accuracy", "hit@5"):
        tt.add_column(c)
    for key, v in type_rows.items():
        tt.add_row(key, str(v["n"]), _fmt(v["accuracy"]), _fmt(v["hit@5"]))
    out.print(tt)
    err.print(f"report: {out_dir / 'report.md'}")
    if do_check:
        failures = check(summaries[name], load_thresholds(thresholds))
        if failures:
            for f in failures:
                err.print(f"check failed: {f}")
            sys.exit(1)
        err.print("check passed")


@app.command("train")
def train_command(
    questions: Path = typer.Option(Path("../shared/bench/squad2-dev/questions.jsonl"), "--questions"),
    corpus: Path = typer.Option(Path("../shared/bench/squad2-dev/corpus.jsonl"), "--corpus"),
    index_dir: Path = typer.Option(Path("index-squad2-dev"), "--index"),
    split_file: Path = typer.Option(Path("eval/squad2_split.json"), "--split"),
    out_path: Path = typer.Option(Path("models/answer_model.json"), "--out"),
    target_false_abstention: float = typer.Option(0.05, "--target-false-abstention"),
    max_train: int = typer.Option(3000, "--max-train", help="SQuAD 2.0 train-article questions to fit on (the shipped model: 3000)"),
    reader_dir: Path = typer.Option(Path("models/reader"), "--reader", help="fit the reader's verifier too when this folder holds a trained reader"),
    combiner_max_overlap: float = typer.Option(1.0, "--combiner-max-overlap", help="fit the selector+reader combiner on SQuAD questions sharing at most this share of terms with their answer's sentence (1: all)"),
    selector: str = typer.Option("linear", "--selector", help="linear (logistic, the shipped one) | trees (gradient boosting, measured in session 10)"),
    reader_only: bool = typer.Option(False, "--reader-only", help="keep the selector and verifier of --out; refit only what depends on the reader (after retraining it)"),
) -> None:
    """Train the answer selector and no-answer verifier on SQuAD 2.0 dev (train/calibration articles only)."""
    from rag.train import load_split, save, train

    if selector not in ("trees", "linear"):
        raise InvalidInputError(f"--selector must be trees or linear, not {selector!r}")

    qs = load_questions(questions)
    split = load_split(split_file, qs)
    settings = _settings(corpus=corpus, index=index_dir)
    index, embedder = _load(settings)
    from rich.progress import Progress

    with Progress(console=err, transient=True) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        from rag.reader import load_reader

        reader = load_reader(reader_dir)
        if reader_only:
            from rag.answer import load_answer_model

            model = load_answer_model(out_path)
            if model is None or reader is None:
                raise InvalidInputError(f"--reader-only needs a trained model at {out_path} and a reader in {reader_dir}")
            report = dict(model.info)
        else:
            model, report = train(index, embedder, qs, split, target_false_abstention, max_train, progress, selector)
        if reader is not None:
            from rag.train import fit_reader_verifier

            model, rreport = fit_reader_verifier(index, embedder, model, reader, qs, split, target_false_abstention,
                                                 lambda d, n: progress("reader verifier", d, n), settings.rerank_margin, combiner_max_overlap,
                                                 settings.rerank_dense, settings.rerank)
            report.update(rreport)
    save(model, report, out_path)
    err.print(json.dumps(report, indent=1))
    err.print(f"wrote {out_path}")
