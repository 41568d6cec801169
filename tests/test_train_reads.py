"""rag train --reader-only fits the selector+reader combiner on what the reader reads at run time."""

import json

import numpy as np

from rag.evaluation import load_questions
from rag.indexing import open_index
from rag.scoring import FEATURES, HAND_VERIFIER, AnswerModel, LinearModel
from rag.train import fit_reader_verifier

COLOURS = ["red", "blue", "green", "amber", "violet", "grey"]


class _Reader:
    """Reads every candidate it is given, remembers how many at a time, likes the ones naming a colour."""

    def __init__(self):
        self.widths: list[int] = []

    def score(self, question, texts):
        self.widths.append(len(texts))
        return np.array([2.0 if any(c in t for c in COLOURS) else -2.0 for t in texts], dtype=np.float32)


def _corpus(tmp_path):
    docs, qs = [], []
    for a in range(6):
        for p in range(2):
            town = f"Town{a}{p}"
            colour = COLOURS[(a + p) % len(COLOURS)]
            text = (
                f"{town} lies on the river near the old bridge. The flag of {town} is {colour} and white. "
                f"Its market opens on Mondays in {town}. Visitors to {town} often walk by the bridge."
            )
            docs.append({"id": f"Art{a}#{p}", "title": f"Art{a}", "text": text})
            qs.append(
                {
                    "id": f"q{a}{p}",
                    "question": f"What colour is the flag of {town}?",
                    "answers": [colour],
                    "doc": f"Art{a}#{p}",
                    "type": "squad",
                }
            )
            qs.append(
                {"id": f"u{a}{p}", "question": f"Who founded the market of {town}?", "answers": [], "doc": f"Art{a}#{p}", "type": "squad"}
            )
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in docs))
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps(q) + "\n" for q in qs))
    return corpus, load_questions(questions), {"train": [], "calibration": [f"Art{a}" for a in range(6)], "test": []}


def test_the_combiner_is_fitted_on_as_many_candidates_as_the_reader_reads(tmp_path, fake_embedder):
    corpus, questions, split = _corpus(tmp_path)
    index, _ = open_index(corpus, tmp_path / "index", fake_embedder)
    flat = LinearModel(FEATURES, tuple(0.0 for _ in FEATURES), 0.0)  # every candidate ties: none is skipped
    for reads in (2, 4):
        reader = _Reader()
        _, report = fit_reader_verifier(
            index, fake_embedder, AnswerModel(flat, HAND_VERIFIER), reader, questions, split, margin=float("inf"), reads=reads
        )
        assert max(reader.widths) == reads
        assert report["reader_reads"] == {"rerank": reads, "margin": float("inf")}
