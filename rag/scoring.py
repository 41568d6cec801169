"""Candidate scoring: the features of a (question, candidate) pair, the trained selector and
verifier over them, and the confidence that decides abstention.

No language model: a candidate is scored from its embedding similarity to the question, the share
of the question's content terms (IDF-weighted) it and its passage contain, the passage's rank and
whether it holds the kind of thing the question asks for (a number for "how many", a date for
"when").
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.kinds import expected_type, type_match
from rag.store import Index
from rag.tables import pick_cell
from rag.text import NAME_WORD, STOPWORDS, capitalised_names, question_terms, terms
from rag.types import Candidate, Hit


@dataclass(frozen=True)
class AnswerModel:
    """Trained selector and verifier (``models/answer_model.json``), with the verifier's calibration."""

    selector: LinearModel
    verifier: LinearModel
    calibration_x: tuple[float, ...] = ()
    calibration_y: tuple[float, ...] = ()
    threshold: float | None = None  # chosen for a target false-abstention rate
    info: dict = field(default_factory=dict, compare=False, hash=False)
    # The verifier used when the cross-encoder reader is on: its scores join the features.
    reader_verifier: LinearModel | None = None
    reader_calibration_x: tuple[float, ...] = ()
    reader_calibration_y: tuple[float, ...] = ()
    reader_threshold: float | None = None
    reader_selector: LinearModel | None = None  # combines selector and reader logits to pick the answer


def load_answer_model(path: str | Path) -> AnswerModel | None:
    """The trained answer model at ``path``, or None when it is absent (the hand-set fallback is used)."""
    p = Path(path)
    if not p.exists():
        return None
    d = json.loads(p.read_text())
    cal = d.get("calibration", {})
    rcal = d.get("reader_calibration", {})
    rv = d.get("reader_verifier")
    sel = d["selector"]
    selector = LinearModel.from_dict(sel)
    return AnswerModel(
        selector,
        LinearModel.from_dict(d["verifier"]),
        tuple(cal.get("x", ())),
        tuple(cal.get("y", ())),
        d.get("threshold"),
        d.get("info", {}),
        LinearModel.from_dict(rv) if rv else None,
        tuple(rcal.get("x", ())),
        tuple(rcal.get("y", ())),
        d.get("reader_threshold"),
        LinearModel.from_dict(d["reader_selector"]) if d.get("reader_selector") else None,
    )


# A sentence that opens by pointing back ("This project focuses on developing the F-35") is about what
# the sentence before it names: its question-term coverage counts that sentence's words too, or "What
# aircraft is the Joint Strike Fighter program developing?" finds the program's sentence, not the aircraft.
# Not "he" / "she": measured, SQuAD 2.0 calibration articles one answer fewer.
_ANAPHOR = re.compile(
    r"^\W*(this|these|that|those|such|it|its|they|their"
    r"|the (project|program|programme|initiative|agreement|treaty|effort|plan|partnership|move|deal))\b",
    re.I,
)


# "The collaboration facilitates cost-sharing" after "... such collaboration is the Joint Strike Fighter
# program": a sentence opening with "The" and a noun the sentences before it used is about the same thing.
# Measured with the chain: SQuAD v1.1 calibration articles 0.733 -> 0.743, SQuAD 2.0 answers 0.766 ->
# 0.767, no-answer AUROC 0.648 -> 0.650; one answer more on our sets, none lost. The word after the
# noun too: no change.
_DEFINITE = re.compile(r"^\W*the\s+([a-z]+)\b", re.I)


def _definite_back(text: str, before: frozenset[str]) -> bool:
    m = _DEFINITE.match(text)
    head = terms(m.group(1)) if m else []
    return bool(head) and head[0] in before


class Scorer:
    """Question-side features against one index: IDF weights come from the BM25 vocabulary."""

    def __init__(self, index: Index, model: AnswerModel | None = None):
        self.index = index
        self.model = model
        self.selector = model.selector if model else HAND_SELECTOR
        self.verifier = model.verifier if model else HAND_VERIFIER
        n = max(len(index.chunks), 1)
        self.idf: dict[str, float] = {}
        vocab = getattr(index.bm25, "vocab_dict", None) or {}
        indptr = getattr(index.bm25, "scores", {}).get("indptr") if isinstance(getattr(index.bm25, "scores", None), dict) else None
        if vocab and indptr is not None:
            df = np.diff(indptr)
            for tok, tid in vocab.items():
                if tid >= len(df):
                    continue
                self.idf[tok] = math.log(1 + (n - df[tid] + 0.5) / (df[tid] + 0.5))
        self.unseen_idf = math.log(1 + (n + 0.5) / 0.5)
        self._cand_terms: dict[int, frozenset[str]] = {}
        self._chunk_terms: dict[int, frozenset[str]] = {}
        self._names: frozenset[str] | None = None

    def calibrate(self, p: float) -> float:
        if self.model is None or not self.model.calibration_x:
            return p
        return float(np.interp(p, self.model.calibration_x, self.model.calibration_y))

    def weight(self, term: str) -> float:
        return self.idf.get(term, self.unseen_idf)

    def cand_terms(self, j: int) -> frozenset[str]:
        t = self._cand_terms.get(j)
        if t is None:
            cand = self.index.candidates[j]
            t = frozenset(terms(cand.render))
            if cand.kind == "sentence" and j > 0:
                prev = self.index.candidates[j - 1]
                if prev.chunk_id == cand.chunk_id and prev.kind == "sentence":
                    before = self.cand_terms(j - 1)  # a chain: "A notable example ... This project ... It ..."
                    if _ANAPHOR.match(cand.text) or _definite_back(cand.text, before):
                        t = t | before
            self._cand_terms[j] = t
        return t

    def names(self) -> frozenset[str]:
        """The corpus's names (``capitalised_names`` of its candidates): stored with the index at build
        time, since a scan of a million candidates at the first "which countries" question would stall it;
        computed here, once, for an index built before they were stored."""
        if self._names is None:
            self._names = self.index.names if self.index.names is not None else capitalised_names(c.text for c in self.index.candidates)
        return self._names

    def chunk_terms(self, row: int) -> frozenset[str]:
        t = self._chunk_terms.get(row)
        if t is None:
            t = self._chunk_terms[row] = frozenset(terms(self.index.chunks[row].index_text))
        return t


@dataclass
class _Scored:
    j: int
    hit: Hit
    score: float
    features: dict[str, float]


FEATURES = (
    "sim",
    "chunk_sim",
    "lex",
    "ctx",
    "missing",
    "n_missing",
    "ent_missing",
    "rank",
    "typed",
    "type_ok",
    "is_row",
    "is_item",
    "length",
    "qlen",
)


# A feature the fitting data barely varied is capped at RARE_CAP standard deviations: list items are
# 0.02% of the SQuAD candidates the shipped selector was fitted on (scale 0.014), so every item of a
# news article landed 70 deviations out and lost 5 logits to sentences, whatever it said. Measured with
# the cap: three answers more on our sets (net), one false abstention fewer on our set, SQuAD
# calibration articles unchanged (they hold no list items).
RARE_SCALE = 0.05


RARE_CAP = 5.0


@dataclass(frozen=True)
class LinearModel:
    """A logistic model over named features (trained by ``rag train``, stored as JSON)."""

    features: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float
    mean: tuple[float, ...] = ()
    scale: tuple[float, ...] = ()

    def logit(self, f: dict[str, float]) -> float:
        z = self.intercept
        for i, (name, w) in enumerate(zip(self.features, self.coef)):
            x = f.get(name, 0.0)
            if self.mean:
                x = (x - self.mean[i]) / (self.scale[i] or 1.0)
                if self.scale[i] < RARE_SCALE:
                    x = max(-RARE_CAP, min(RARE_CAP, x))
            z += w * x
        return z

    def logits(self, rows: list[dict[str, float]]) -> np.ndarray:
        """``logit`` of every row, a feature at a time over all rows: the same operations in the same
        order (so the same values to the last bit), without a Python loop per candidate and feature."""
        z = np.full(len(rows), self.intercept, dtype=np.float64)
        for i, (name, w) in enumerate(zip(self.features, self.coef)):
            x = np.array([f.get(name, 0.0) for f in rows], dtype=np.float64)
            if self.mean:
                x = (x - self.mean[i]) / (self.scale[i] or 1.0)
                if self.scale[i] < RARE_SCALE:
                    x = np.clip(x, -RARE_CAP, RARE_CAP)
            z += w * x
        return z

    def prob(self, f: dict[str, float]) -> float:
        return 1.0 / (1.0 + math.exp(-max(min(self.logit(f), 40.0), -40.0)))

    def to_dict(self) -> dict:
        return {
            "features": list(self.features),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "mean": list(self.mean),
            "scale": list(self.scale),
        }

    @classmethod
    def from_dict(cls, d: dict) -> LinearModel:
        return cls(tuple(d["features"]), tuple(d["coef"]), float(d["intercept"]), tuple(d.get("mean", ())), tuple(d.get("scale", ())))


# Hand-set fallbacks, used when no trained model is installed.
HAND_SELECTOR = LinearModel(FEATURES, (3.0, 1.0, 1.8, 1.5, -1.0, 0.0, -0.5, 0.5, 0.0, 1.0, 0.3, 0.3, -0.3, 0.0), -4.0)


HAND_VERIFIER = LinearModel(FEATURES + ("margin",), (5.0, 2.0, 1.5, 3.0, -2.5, -0.5, -1.5, 0.5, -1.2, 1.2, 0.0, 0.0, 0.0, 0.0, 1.0), -6.0)


def _entities(question: str) -> list[str]:
    """Capitalised words after the first: the names a question is about."""
    toks = re.findall(NAME_WORD, question)
    return [t for t in toks[1:] if t[0].isupper() and t.lower() not in STOPWORDS]


def candidate_features(scorer: Scorer, question: str, qvec: np.ndarray | None, hits: list[Hit]) -> list[tuple[int, Hit, dict[str, float]]]:
    """Features of every candidate of ``hits`` for ``question`` (the selector's and verifier's input)."""
    index = scorer.index
    qterms = list(dict.fromkeys(question_terms(question)))
    ents = [t for e in _entities(question) for t in terms(e)]
    kind = expected_type(question)
    rows = [index.chunk_row[h.chunk.id] for h in hits]
    js = [j for r in rows for j in index.candidates_of[r]]
    sims = index.vectors.get("candidate", js) @ qvec if (qvec is not None and js) else np.zeros(len(js))
    csims = index.vectors.get("chunk", rows) @ qvec if (qvec is not None and rows) else np.zeros(len(rows))
    # each term's weight once per question, not once per candidate (the sums keep their order)
    weighted = [(t, scorer.weight(t)) for t in qterms]
    total = sum(w for _, w in weighted)

    def coverage(have: frozenset[str]) -> float:
        return sum(w for t, w in weighted if t in have) / total if total else 0.0

    out = []
    k = 0
    for n, (h, r) in enumerate(zip(hits, rows)):
        ctx = scorer.chunk_terms(r)
        for j in index.candidates_of[r]:
            cand = index.candidates[j]
            own = scorer.cand_terms(j)
            both = own | ctx
            missing = [w for t, w in weighted if t not in both]
            f = {
                "sim": float(sims[k]),
                "chunk_sim": float(csims[n]),
                "lex": coverage(own),
                "ctx": coverage(both),
                "missing": max(missing) / scorer.unseen_idf if missing else 0.0,
                "n_missing": min(len(missing), 6) / 6.0,
                "ent_missing": (sum(t not in both for t in ents) / len(ents)) if ents else 0.0,
                "rank": 1.0 / h.rank,
                "typed": 1.0 if kind != "other" else 0.0,
                "type_ok": type_match(kind, _answer_part(cand, question)) if kind != "other" else 0.0,
                "is_row": 1.0 if cand.kind == "row" else 0.0,
                "is_item": 1.0 if cand.kind == "item" else 0.0,
                "length": min(len(cand.text), 600) / 300.0,
                "qlen": min(len(qterms), 12) / 12.0,
            }
            k += 1
            out.append((j, h, f))
    return out


def _answer_part(cand: Candidate, question: str) -> str:
    if cand.kind == "row":
        cell = pick_cell(cand, question)
        return cell.value if cell else cand.text
    return cand.text


# Meta-discourse ("In this article, we will explore ...") describes the article, not the world: it
# shares the question's words without answering anything.
_META = re.compile(
    r"^\W*(in this (article|post|guide|piece|report|essay|section)\b|this (article|post|guide|piece|report|essay) "
    r"(will|explores|examines|discusses|looks)\b|we will (explore|discuss|examine|look)\b)",
    re.I,
)


def score_candidates(scorer: Scorer, question: str, qvec: np.ndarray | None, hits: list[Hit]) -> list[_Scored]:
    sel = scorer.selector
    feats = candidate_features(scorer, question, qvec, hits)
    kept = [x for x in feats if not _META.match(scorer.index.candidates[x[0]].text)]
    rows = kept or feats
    logits = sel.logits([f for _, _, f in rows])
    scored = [_Scored(j, h, float(z), f) for (j, h, f), z in zip(rows, logits)]
    scored.sort(key=lambda c: -c.score)
    if scored:
        runner_up = scored[1].score if len(scored) > 1 else scored[0].score - 5.0
        scored[0].features["margin"] = min(scored[0].score - runner_up, 5.0)
    return scored


def confidence(scorer: Scorer, best: _Scored) -> float:
    """Probability that ``best`` answers the question (calibrated when a trained model is installed)."""
    p = scorer.verifier.prob(best.features)
    return scorer.calibrate(p)
