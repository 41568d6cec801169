"""Negative rejection: does the service say "the corpus does not say" once the answer is gone?

The same questions are asked twice over a pool of passages: with every passage present (answer
accuracy), then with every passage holding a gold answer removed (abstention: the share answered
"the corpus does not say"). Questions: a seeded sample of SQuAD v1.1 dev; pool: its 2,067 paragraphs.

    .venv/bin/python bench/negative_rejection.py [--n 100] [--seed 7]

The removed pool reuses the full pool's vectors, so only the first index takes minutes.
"""

from __future__ import annotations

import argparse
import random
import re
import tempfile
import time
from pathlib import Path

from rag.ask import ask
from rag.corpus import load_corpus
from rag.embedding import load_embedder
from rag.evaluation import answer_correct, load_questions
from rag.indexing import open_index
from rag.settings import Settings
from rag.store import build_index, load_index

SQUAD = Path(__file__).resolve().parents[2] / "shared" / "bench" / "squad-dev"


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip().lower()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--index", default="index-eval/squad-dev", help="the full pool's index (built when missing)")
    args = ap.parse_args()
    s = Settings()
    embedder = load_embedder(s.model, backend=s.backend, query_threads=s.threads)
    retrieval, answering = s.retrieval(), s.answering()
    docs = load_corpus(SQUAD / "corpus.jsonl")
    questions = [q for q in load_questions(SQUAD / "queries.jsonl") if q.answers]
    sample = random.Random(args.seed).sample(questions, min(args.n, len(questions)))
    full, _ = open_index(SQUAD / "corpus.jsonl", args.index, embedder, s.chunker())
    golds = {_norm(a) for q in sample for a in q.answers}
    kept = [d for d in docs if not any(g in _norm(d.text) for g in golds)]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        build_index(kept, embedder, Path(tmp) / "index", chunker=s.chunker(), previous=full)
        removed = load_index(Path(tmp) / "index")
        print(
            f"{len(docs)} passages; {len(docs) - len(kept)} hold a gold answer of the {len(sample)} questions "
            f"and are removed for the second run (index in {time.perf_counter() - t0:.0f} s)"
        )
        present = [ask(full, embedder, q.question, retrieval=retrieval, answering=answering) for q in sample]
        absent = [ask(removed, embedder, q.question, retrieval=retrieval, answering=answering) for q in sample]
    accuracy = sum(answer_correct(a.answer, q.answers) for a, q in zip(present, sample)) / len(sample)
    abstention = sum(a.abstained for a in absent) / len(sample)
    false_abstention = sum(a.abstained for a in present) / len(sample)
    print(f"answers present: answer accuracy {accuracy:.3f} (abstained {false_abstention:.3f})")
    print(f"answers removed: abstention {abstention:.3f}")


if __name__ == "__main__":
    main()
