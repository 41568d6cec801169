"""``rag train``: fit the answer selector and the no-answer verifiers."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import typer

from rag.cli.loading import load, settings_from
from rag.cli.output import err
from rag.errors import InvalidInputError, RagError


def train(
    questions: Path = typer.Option(Path("../shared/bench/squad2-dev/questions.jsonl"), "--questions"),
    corpus: Path = typer.Option(Path("../shared/bench/squad2-dev/corpus.jsonl"), "--corpus"),
    index_dir: Path = typer.Option(Path("index-squad2-dev"), "--index"),
    split_file: Path = typer.Option(Path("eval/sets/squad2_split.json"), "--split"),
    out_path: Path = typer.Option(Path("models/answer_model.json"), "--out"),
    target_false_abstention: float = typer.Option(0.05, "--target-false-abstention"),
    max_train: int = typer.Option(3000, "--max-train", help="SQuAD 2.0 train-article questions to fit on (the shipped model: 3000)"),
    reader_dir: Path = typer.Option(
        Path("models/reader"), "--reader", help="fit the reader's verifier too when this folder holds a trained reader"
    ),
    combiner_max_overlap: float = typer.Option(
        1.0,
        "--combiner-max-overlap",
        help="fit the selector+reader combiner on SQuAD questions sharing at most this share of terms "
        "with their answer's sentence (1: all)",
    ),
    reader_only: bool = typer.Option(
        False, "--reader-only", help="keep the selector and verifier of --out; refit only what depends on the reader (after retraining it)"
    ),
) -> None:
    """Train the answer selector and no-answer verifier on SQuAD 2.0 dev (train/calibration articles only)."""
    if importlib.util.find_spec("sklearn") is None:
        raise RagError("rag train needs the training extra: pip install -e '.[train]'")
    from rich.progress import Progress

    from rag.evaluation import load_questions
    from rag.reader import load_reader
    from rag.splits import load_split
    from rag.train import fit_reader_verifier, save
    from rag.train import train as fit

    qs = load_questions(questions)
    split = load_split(split_file, qs)
    settings = settings_from(corpus=corpus, index=index_dir)
    index, embedder = load(settings)
    with Progress(console=err, transient=True) as bar:
        tasks: dict[str, object] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)  # type: ignore[arg-type]

        reader = load_reader(reader_dir)
        if reader_only:
            from rag.scoring import load_answer_model

            model = load_answer_model(out_path)
            if model is None or reader is None:
                raise InvalidInputError(f"--reader-only needs a trained model at {out_path} and a reader in {reader_dir}")
            report = dict(model.info)
        else:
            model, report = fit(index, embedder, qs, split, target_false_abstention, max_train, progress)
        if reader is not None:
            model, rreport = fit_reader_verifier(
                index,
                embedder,
                model,
                reader,
                qs,
                split,
                target_false_abstention,
                lambda d, n: progress("reader verifier", d, n),
                settings.rerank_margin,
                combiner_max_overlap,
                settings.rerank,
            )
            report.update(rreport)
    save(model, report, out_path)
    err.print(json.dumps(report, indent=1))
    err.print(f"wrote {out_path}")
