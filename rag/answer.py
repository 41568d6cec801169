"""Extractive answers: score the candidates (sentences, list items, table rows) of the retrieved
passages, pick the one that answers, cut it down to the answer, or abstain.

No language model: a candidate is scored from its embedding similarity to the question, the share
of the question's content terms (IDF-weighted) it and its passage contain, the passage's rank and
whether it holds the kind of thing the question asks for (a number for "how many", a date for
"when", a name for "who"). The same features give the confidence that decides abstention.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.limits import MAX_ANSWER_CHARS
from rag.store import Index
from rag.text import NAME_WORD, STOPWORDS, capitalised_names, is_place_word, name_key, question_terms, terms
from rag.types import Answer, Candidate, Citation, Hit, Span

# "F-35" or "MQ-9" is a name, not a quantity.
_NUMBER = re.compile(
    r"(?<![A-Za-z]-)\b\d[\d,.]*\b|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|hundreds|thousand|thousands|million|millions|billion|dozen|dozens|several|half|few|numerous)\b",
    re.I,
)
# "Several countries" or "hundreds of soldiers" says there are some, not how many: no answer to "how
# many". (Still a number for the features: the fitted models saw it as one.) The plurals: measured, two
# abstentions more on our sets, none lost; SQuAD calibration articles unchanged (1 of 53 SQuAD v1.1
# "how many" golds is such a word).
_VAGUE = re.compile(r"\b(several|few|numerous|hundreds|thousands|dozens|millions|billions)\b", re.I)
_MONTHS = r"(january|february|march|april|may|june|july|august|september|october|november|december)"
# Any 3-4 digit number may be a year (1562, 800s); a bare "2" or "3" is not a date.
_CALENDAR_PART = (
    rf"\b\d{{3,4}}s?\b|\b\d{{1,2}}(st|nd|rd|th)\b|\b{_MONTHS}\b|"
    r"\b(BC|BCE|AD|CE|monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|yesterday|tomorrow)\b"
)
# "What year / on what date": a calendar date, not just "during the talks".
_CALENDAR = re.compile(_CALENDAR_PART, re.I)
# "When": a calendar date, a time word, or a temporal preposition ("after the war").
_DATE = re.compile(
    _CALENDAR_PART + r"|\b(seconds?|hours?|minutes?|day|days|weeks?|months?|years?|decades?|century|centuries|era|"
    r"period|ages|spring|summer|autumn|fall|winter|after|before|during|until|since|beginning)\b",
    re.I,
)
_PERCENT = re.compile(r"\d\s*(%|percent|per cent)", re.I)
# A cell that is only an amount: "$0.80", "12%", "1,200", "3.5 bn".
_QUANTITY = re.compile(r"^[~≈<>]?\s*[$€£¥]?\s*\d[\d,.\s]*(%|percent|[kmb]n?|million|billion|thousand)?$", re.I)
_MONEY = re.compile(r"[$€£]\s*\d|\b\d[\d,.]*\s*(dollars|euros|billion|million)\b", re.I)


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


@dataclass(frozen=True)
class AnswerConfig:
    min_confidence: float | None = None  # abstain below this; None: the model's own threshold, else 0.5
    candidate_passages: int = 5  # passages whose candidates compete
    model: AnswerModel | None = None
    reader: object | None = None  # rag.reader.Reader: re-scores the selector's best candidates
    rerank: int = 2  # candidates the reader re-scores (~4 ms each on one thread)
    rerank_margin: float = math.inf  # ... among those within this many selector logits of the best
    # A second look when the first reads leave the reader unsure: up to this many more candidates,
    # within ``more_margin`` selector logits of the best, read only when the best reader probability
    # is below ``more_below``. Confident questions (most) cost nothing more.
    rerank_more: int = 0
    rerank_more_margin: float = 2.0
    rerank_more_below: float = 0.5
    # The selector answers alone, without reading, when its best leads by more than both margins above
    # (the reader would read that one candidate only, so the pick stands) and its own confidence is
    # at least this; the reader then only decides the confidence. None: always read.
    skip_reader_above: float | None = None

    @property
    def threshold(self) -> float:
        if self.min_confidence is not None:
            return self.min_confidence
        if self.model is not None:
            t = self.model.reader_threshold if self.reader is not None else self.model.threshold
            if t is not None:
                return t
        return 0.5


def expected_type(question: str) -> str:
    q = question.lower().strip()
    if re.search(r"\bhow (many|much)\b|\bwhat (number|amount)\b|\bhow large\b", q):
        return "money" if re.search(r"\bhow much\b.*\b(cost|spend|budget|pay|fund|worth)|\bbudget\b", q) else "number"
    if re.search(r"\bwhat (percentage|percent|share|proportion)\b", q):
        return "percent"
    if re.search(r"\bwhat (is|was|are|were|will be) (the |its |their )?([\w'’-]+ ){0,3}(cost|price|budget|salary|revenue)s?\b", q):
        return "money"
    if re.search(r"\b(what|which) (year|date|day|month)\b|\bin (what|which) year\b", q):
        return "calendar"
    if re.search(r"\bhow long\b", q):
        return "duration"
    if re.search(r"^when\b[^,]*,\s*(what|which|who|whom|how|where|why)\b", q):
        q = q.split(",", 1)[1].strip()  # "When X happened, what ...?": the when-clause sets the scene, it is not asked
    if re.search(r"^when\b|\bwhen (did|will|was|is|does)\b", q):
        return "date"
    if re.search(
        r"^(who|whom|whose)\b|\b(who|whom) (is|was|are|were|will|has|had|did)\b"
        r"|\bwhich (person|official|leader|minister|general|officer)\b",
        q,
    ):
        return "person"
    return "other"


# Answer types a regular expression can check reliably ("person" cannot: "who" may ask for a country).
_CHECKED_TYPES = ("number", "percent", "money", "date", "calendar", "duration")


def type_match(kind: str, text: str) -> float:
    if kind == "number":
        return 1.0 if _NUMBER.search(text) else 0.0
    if kind == "percent":
        return 1.0 if _PERCENT.search(text) else 0.0
    if kind == "money":  # "5,000 francs" is an amount too
        return 1.0 if _MONEY.search(text) or _NUMBER.search(text) else 0.0
    if kind == "date":
        return 1.0 if _DATE.search(text) else 0.0
    if kind == "calendar":
        return 1.0 if _CALENDAR.search(text) else 0.0
    if kind == "duration":  # "how long": a time span or a length, both carry a number or a time word
        return 1.0 if _DATE.search(text) or _NUMBER.search(text) else 0.0
    if kind == "person":
        # A capitalised name that does not start the sentence.
        return 1.0 if re.search(r"(?<=[a-z,;] )[A-Z][a-z]+(?: [A-Z][a-z]+)+", text) else 0.0
    return 1.0


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
    sims = index.candidate_vectors[js] @ qvec if (qvec is not None and js) else np.zeros(len(js))
    csims = index.chunk_vectors(rows) @ qvec if (qvec is not None and rows) else np.zeros(len(rows))
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


# -- turning the chosen candidate into a short answer ----------------------------------------
# The noun forms ("the Polish refusal", "their reluctance"): one answer more on our sets, SQuAD unchanged.
_NEGATION = re.compile(
    r"\b(not|no|never|oppos(e|es|ed)|refus(e|es|ed|ing|al|als)|reject(s|ed|ing)?|unwilling(ness)?|reluctan(t|ce)|"
    r"declin(e|es|ed)|rul(e|es|ed|ing) out|(is|are|was|were) against)\b|n[’']t\b",
    re.I,
)  # "opposing party", "against X" are not denials
# For polarity only, wider than _EXCLUSION below: no aside ("(not the other table)", "rather than X")
# is the polarity of what is asked; nor is a leading clause ("If X won't ..., what ...?").
_CONTRAST = re.compile(r"\([^)]*\)|[,—–-]\s*not (the|in|for|from|as)\b[^,?]*|\b(as opposed to|rather than|instead of)\b[^,?]*", re.I)
# How far down the selector's list the agreeing candidate may be. 8, not 5: a paraphrase ("the Polish
# leadership" / "Poland") puts the refusal sixth. Measured: SQuAD 2.0 calibration answers 0.7666 ->
# 0.7676, abstention 0.146 -> 0.147, SQuAD v1.1 unchanged; our sets +4 answers (one fact asked in four
# sets), none lost. 12 measured the same as 8.
POLARITY_WINDOW = 8
# What a question says not to look at: "(not the other table)", "..., not the NATO talks", "as opposed to X".
# Only closed asides: "..., not the "gold standard" of their religion?" is the question itself. Not
# "instead of X" / "rather than X" ("What is used instead of coal?" needs its coal; SQuAD has both kinds)
# nor "as opposed to what?".
_EXCLUSION = re.compile(
    r"\(\s*not\b[^)]*\)|[,—–]\s*not (the|in|for|from|as)\b[^,?—–]*[,—–]|"
    r"\bas opposed to (?!what\b|which\b|who\b)[^,?]*",
    re.I,
)


def without_exclusions(question: str) -> str:
    """The question without what it says not to look at; unchanged when that would leave nothing."""
    out = re.sub(r"\s+([,?.!])", r"\1", re.sub(r"\s{2,}", " ", _EXCLUSION.sub(" ", question))).strip()
    out = re.sub(r",+([?.!])", r"\1", out)
    return out if len(out.split()) >= 3 else question


_POSSESSOR = re.compile(r"(?<!^)(?<![.?!] )\b([A-Z][\w.-]*(?: [A-Z][\w.-]*)*)['’]s\b")


def _owner_missing(scorer: Scorer, question: str, best: _Scored) -> bool:
    """Whether the question asks for something of a name ("France's ...") that the answer's passage,
    its title and heading never mention."""
    asked = _CONTRAST.sub(" ", question)  # "(not Hegseth's talks)" says where not to look
    owners = [m.group(1) for m in _POSSESSOR.finditer(asked) if m.group(1).lower() not in STOPWORDS]
    if not owners:
        return False
    have = scorer.cand_terms(best.j) | scorer.chunk_terms(scorer.index.chunk_row[best.hit.chunk.id])
    return any(not set(terms(o)) & have for o in owners)


_WH_WORDS = {"what", "which", "who", "whom", "whose", "where", "when", "why", "how"}


def _negated(question: str) -> bool:
    """Whether the question asks about a denial, a refusal or an absence ("Which country opposes ...?")."""
    q = _CONTRAST.sub(" ", question)
    parts = [p.strip() for p in q.split(",")]
    main = next((p for p in reversed(parts) if p and p.split()[0].lower() in _WH_WORDS), q)
    return bool(_NEGATION.search(main))


def _header_match(question: str, header: str) -> float:
    q = set(terms(question))
    h = terms(header)
    return sum(t in q for t in h) / len(h) if h else 0.0


def _said(value: str, qwords: set[str]) -> bool:
    """Whether the question already says a cell's value: all its words, or all but one of four or more
    ("Which nation will focus on rapid response forces?" says "Enhancement of Rapid Response forces")."""
    vt = set(terms(value))
    return bool(vt) and len(vt & qwords) >= (len(vt) if len(vt) < 4 else len(vt) - 1)


def pick_cell(cand: Candidate, question: str):
    """For a table row: the cell under the column the question asks about (never the row key)."""
    if not cand.cells:
        return None
    if len(cand.cells) == 1:
        return cand.cells[0]
    qwords = set(terms(question))
    scored = [(_header_match(question, c.header), -i, c) for i, c in enumerate(cand.cells)]
    # The row key (first column) is what the question names, not what it asks for.
    key_named = any(t in qwords for t in terms(cand.cells[0].value))
    options = scored[1:] if key_named else scored
    # Nor is a cell the question already says: "Which nation is tied to cyber defense initiatives?"
    # names the "Cyber Defense Initiatives" cell (and its column) and asks for the country.
    options = [o for o in options if not _said(o[2].value, qwords)] or options
    best = max(options, key=lambda x: (x[0], x[1]))
    if best[0] > 0:
        return best[2]
    # No header named: the first value column of the type the question asks for ("Where do kiwis
    # come from?" is not answered by a price, "How much ...?" is).
    kind = expected_type(question)
    for _, _, c in options:
        if (type_match(kind, c.value) > 0) if kind in _CHECKED_TYPES else not _QUANTITY.match(c.value.strip()):
            return c
    return options[0][2]


def _answer_part(cand: Candidate, question: str) -> str:
    if cand.kind == "row":
        cell = pick_cell(cand, question)
        return cell.value if cell else cand.text
    return cand.text


def shorten(text: str, question: str, limit: int = MAX_ANSWER_CHARS) -> tuple[int, int]:
    """The span of ``text`` to return: all of it if short, else the best clause window under ``limit``."""
    if len(text) <= limit:
        return 0, len(text)
    q = set(terms(question))
    parts = [(m.start(), m.end()) for m in re.finditer(r"[^,;:—–()]+[,;:—–()]?", text)]
    best, best_ab = -1.0, None
    for a in range(len(parts)):
        for b in range(a, len(parts)):
            s, e = parts[a][0], parts[b][1]
            if e - s > limit:
                break
            seg = text[s:e]
            score = len(q & set(terms(seg))) - 0.001 * (e - s)
            if score > best:
                best, best_ab = score, (a, b)
    if best_ab is None:
        s, e = 0, limit
    else:
        # The window that best covers the question's words is where the question is, not its answer:
        # that is the part the question does not repeat, most often the clauses after it ("... is the
        # ease with which people" + ", youth in particular, can obtain controlled substances"). So the
        # window grows by whole clauses, rightward first, while it fits.
        a, b = best_ab
        while b + 1 < len(parts) and parts[b + 1][1] - parts[a][0] <= limit:
            b += 1
        while a > 0 and parts[b][1] - parts[a - 1][0] <= limit:
            a -= 1
        s, e = parts[a][0], parts[b][1]
    while s < e and text[s] in " ,;:":
        s += 1
    while e > s and text[e - 1] in " ,;:":
        e -= 1
    return s, e


_AUX = r"(are|were|include|does|do|did|should|could|would|can|will|may|might|must|have|has|had)"


def _wants_list(question: str) -> bool:
    """A plural question: "what are ...", "list ...", "which (adjective) initiatives should ..."."""
    q = question.lower()
    if re.match(r"^(what|which) (are|were)\b|^(list|name)\b", q) or " include" in q:
        return True
    # "what/which" + up to three modifiers + a plural noun + an auxiliary verb.
    return bool(re.match(rf"^(what|which)(?: [\w-]+){{0,3}}? [a-z-]+[^s']s {_AUX}\b", q))


def _list_after(index: Index, cand: Candidate) -> list[Candidate] | None:
    """The items of a list or the rows of a table introduced by ``cand`` ("... include:")."""
    row = index.chunk_row[cand.chunk_id] + 1
    if row < len(index.chunks):
        nxt = index.chunks[row]
        gap = index.documents[cand.doc_id].text[cand.end : nxt.start] if cand.doc_id in index.documents else "x"
        if nxt.doc_id == cand.doc_id and nxt.kind in ("list", "table") and not gap.strip(" \t\r\n|-"):
            return [index.candidates[j] for j in index.candidates_of[row]]
    return None


def _key_terms(cand: Candidate) -> list[str]:
    """A row's key (its first cell), as terms; none for a candidate without cells."""
    return terms(cand.cells[0].value) if cand.cells else []


def _head_terms(cand: Candidate) -> list[str]:
    """A list item's head ("Intelligence Sharing" of "Intelligence Sharing: ..."), as terms."""
    return terms(re.split(r":\s", cand.text, maxsplit=1)[0])


def _key_named(cand: Candidate, qterms: set[str]) -> float:
    key = _key_terms(cand)
    return sum(t in qterms for t in key) / len(key) if key else 0.0


def _row_named(index: Index, cand: Candidate, question: str) -> Candidate:
    """A row whose key the question names ("Belgium's ...") beats a sibling row chosen for other words."""
    q = set(terms(question))
    if _key_named(cand, q) == 1.0:
        return cand
    siblings = [index.candidates[j] for j in index.candidates_of[index.chunk_row[cand.chunk_id]]]
    named = [c for c in siblings if c.kind == "row" and _key_named(c, q) == 1.0]
    return named[0] if len(named) == 1 else cand


def _item_named(cand: Candidate, question: str, in_order: bool = False) -> bool:
    """The question names this item's head ("what do rapid response capabilities ..."): answer the item.
    ``in_order``: only with the head's words in the head's order ("Intelligence Sharing" is not named by
    "the sharing of intelligence")."""
    head = _head_terms(cand)
    if in_order:
        q, at, found = terms(question), 0, 0
        for t in head:
            if t in q[at:]:
                at, found = q.index(t, at) + 1, found + 1
    else:
        qset = set(terms(question))
        found = sum(t in qset for t in head)
    return len(head) >= 2 and found / len(head) >= 0.75


def _named_item(scorer: Scorer, question: str, scored: list[_Scored], best: _Scored) -> _Scored:
    """A list item whose head the question names ("what does the Technology Transfer initiative
    focus on?" and "- Technology Transfer: ...") is the definition asked for: it beats a sentence that
    only shares the question's words. Among several, the best scored wins. A head's words out of their
    order describe rather than name ("What initiative improves the sharing of intelligence?" and
    "Intelligence Sharing: ..."): such an item must also share as many of the question's words as the pick."""
    chosen = scorer.index.candidates[best.j]
    if chosen.kind == "item" and _item_named(chosen, question):
        return best
    if chosen.kind == "row" and _key_named(_row_named(scorer.index, chosen, question), set(terms(question))) == 1.0:
        return best  # a row whose key the question names is already the cell it points at
    for c in scored:
        cand = scorer.index.candidates[c.j]
        if (
            cand.kind == "item"
            and ":" in cand.text
            and _item_named(cand, question)
            and (_item_named(cand, question, in_order=True) or c.features["lex"] >= best.features["lex"])
        ):
            return c
    return best


# Leading ("Besides X, what ...?") or trailing ("What is the other tool listed besides X?").
_BESIDES = re.compile(r"(?:^\W*|\s)(?:besides|apart from|aside from|other than|in addition to)\s+([^,?]+)", re.I)


def _given(cand: Candidate, given: set[str]) -> bool:
    if cand.kind not in ("item", "row"):
        return False
    head = _key_terms(cand) if cand.cells else _head_terms(cand)
    return bool(head) and sum(t in given for t in head) / len(head) >= 0.5


def _not_given(scorer: Scorer, question: str, scored: list[_Scored], best: _Scored) -> _Scored:
    """ "Besides disaster response and medical aid, how else ...?": an item the clause names is given,
    not asked; the best item of the same list it does not name is the answer. (Measured: one answer
    more on our sets, none lost; SQuAD has no lists. The clause at the question's end: one more.)"""
    m = _BESIDES.search(question)
    cands = scorer.index.candidates
    if not m or not _given(cands[best.j], given := set(terms(m.group(1)))):
        return best
    chosen = cands[best.j]
    return next(
        (c for c in scored if cands[c.j].chunk_id == chosen.chunk_id and cands[c.j].kind == chosen.kind and not _given(cands[c.j], given)),
        best,
    )


def _column_match(cand: Candidate, question: str) -> float:
    return max((_header_match(question, c.header) for c in cand.cells[1:]), default=0.0)


def _row_of_named_column(scorer: Scorer, question: str, scored: list[_Scored], best: _Scored) -> _Scored:
    """Two tables with a row for the same key ("Poland | ..." under "Focus Area" and under "Proposed
    Collaboration Area"): the row of the table whose column the question names in full wins."""
    index = scorer.index
    chosen = index.candidates[best.j]
    qterms = set(terms(question))
    if chosen.kind != "row" or _key_named(chosen, qterms) < 1.0 or _column_match(chosen, question) == 1.0:
        return best
    for c in scored:
        cand = index.candidates[c.j]
        if (
            cand.kind == "row"
            and cand.chunk_id != chosen.chunk_id
            and _key_named(cand, qterms) == 1.0
            and _column_match(cand, question) == 1.0
        ):
            return c
    return best


def with_antecedent(index: Index, j: int, text: str, s: int, e: int) -> tuple[str, int, int]:
    """An answer that opens by pointing back (``_ANAPHOR``: "It includes large public works ...") does
    not say what it is about: the sentence before it in the same passage does, so it goes first when
    both fit the answer's length. After the checks: the abstention rules judge the picked sentence alone."""
    cand = index.candidates[j]
    doc = index.documents.get(cand.doc_id)
    if cand.kind != "sentence" or s != cand.start or not _ANAPHOR.match(text) or j == 0 or doc is None:
        return text, s, e
    prev = index.candidates[j - 1]
    if prev.chunk_id != cand.chunk_id or prev.kind != "sentence" or e - prev.start > MAX_ANSWER_CHARS:
        return text, s, e
    return doc.text[prev.start : e], prev.start, e


def compose(scorer: Scorer, best: _Scored, question: str) -> tuple[str, int, int]:
    """The answer text and its span in the document."""
    index = scorer.index
    cand = index.candidates[best.j]
    if cand.kind == "row":
        cand = _row_named(index, cand, question)
        cell = pick_cell(cand, question)
        if cell is not None:
            return cell.value, cell.start, cell.end
    items = None
    if cand.kind == "item" and _wants_list(question) and not _item_named(cand, question):
        row = index.chunk_row[cand.chunk_id]
        items = [index.candidates[j] for j in index.candidates_of[row]]
    elif cand.kind == "sentence" and (cand.text.rstrip().endswith(":") or _wants_list(question)):
        # A lead-in ("... include:") or a paragraph followed by the list a plural question asks for.
        last = index.candidates_of[index.chunk_row[cand.chunk_id]][-1]
        lead = index.candidates[last]
        if cand.text.rstrip().endswith(":") or lead.text.rstrip().endswith(":"):
            items = _list_after(index, lead)
    if items and items[0].kind == "row":
        # A table after its lead-in: the row the question names answers with its cell; otherwise the
        # asked column, one cell per row (never the raw "A | B |" lines).
        qterms = set(terms(question))
        named = [it for it in items if _key_named(it, qterms) == 1.0]
        if len(named) == 1 and (cell := pick_cell(named[0], question)) is not None:
            return cell.value, cell.start, cell.end
        cells = [pick_cell(it, question) for it in items]
        if all(cells):
            joined = "; ".join(c.value for c in cells)
            if len(joined) <= MAX_ANSWER_CHARS:
                return joined, cells[0].start, cells[-1].end
    elif items:
        # "; " separates the items: an item's own full stop before it would read ".;"
        heads = [re.split(r":\s", it.text, maxsplit=1)[0].rstrip(" .;") for it in items]
        joined = "; ".join(heads)
        if len(joined) <= MAX_ANSWER_CHARS:
            return joined, items[0].start, items[-1].end
    s, e = shorten(cand.text, question)
    return cand.text[s:e], cand.start + s, cand.start + e


READER_FEATURES = ("reader", "reader_margin", "sim", "chunk_sim", "lex", "ctx", "missing", "ent_missing", "typed", "type_ok", "rank")


def reader_candidates(scored: list[_Scored], n: int, margin: float = math.inf) -> list[_Scored]:
    """What the reader reads: the selector's best ``n`` within ``margin`` logits of its best.

    Candidates far behind the selector's best are not read: past a margin of 1 logit the reader
    changed 1 pick of 458 SQuAD 2.0 calibration questions, and reading costs ~3 ms each."""
    return [c for c in scored[:n] if scored[0].score - c.score <= margin]


def _renders(index: Index, top: list[_Scored]) -> list[str]:
    return [index.candidates[c.j].render for c in top]


def rerank(
    scorer: Scorer,
    question: str,
    scored: list[_Scored],
    reader,
    n: int,
    margin: float = math.inf,
    more: int = 0,
    more_margin: float = 2.0,
    more_below: float = 0.5,
    more_above: float = 0.0,
) -> _Scored:
    """The cross-encoder re-scores the ``reader_candidates``; the pick combines both scores (trained
    weights when installed, else the reader alone). ``reader_max`` is the best reader logit of the
    first reading. With ``more``, an unsure first reading (best probability below ``more_below``)
    reads the selector's next ``more`` candidates within ``more_margin`` logits too, for the pick;
    not below ``more_above`` (the abstention threshold: that question is abstained on whatever is read)."""
    top = reader_candidates(scored, n, margin)
    logits = reader.score(question, _renders(scorer.index, top))
    first_max = float(logits.max()) if len(logits) else 0.0
    if more and more_above <= 1.0 / (1.0 + math.exp(-first_max)) < more_below:
        extra = [c for c in scored[: n + more] if c not in top and scored[0].score - c.score <= more_margin][:more]
        if extra:
            top = top + extra
            logits = np.concatenate([logits, reader.score(question, _renders(scorer.index, extra))])
    combiner = scorer.model.reader_selector if scorer.model is not None else None
    final = np.array([combiner.logit({"selector": c.score, "reader": float(r)}) for c, r in zip(top, logits)]) if combiner else logits
    order = np.argsort(-final, kind="stable")
    best = top[int(order[0])]
    best.features["reader"] = float(logits[order[0]])
    # The confidence stays that of the first reading: the abstention threshold was calibrated on it,
    # and the best of more reads is higher by chance alone (measured: more abstentions lost).
    best.features["reader_max"] = first_max
    best.features["reader_margin"] = float(min(logits[order[0]] - np.sort(logits)[-2], 10.0)) if len(logits) > 1 else 10.0
    return best


def _reader_needless(scorer: Scorer, scored: list[_Scored], config: AnswerConfig) -> bool:
    """Whether the selector's pick stands without reading (``AnswerConfig.skip_reader_above``)."""
    if config.skip_reader_above is None:
        return False
    lead = scored[0].score - scored[1].score if len(scored) > 1 else math.inf
    return lead > max(config.rerank_margin, config.rerank_more_margin) and confidence(scorer, scored[0]) >= config.skip_reader_above


def reader_confidence(scorer: Scorer, best: _Scored) -> float:
    """P(answered): the reader's belief that one of the re-scored candidates answers the question.

    A fitted combination with the cheap features separated SQuAD better but transferred worse to
    news articles (AUROC 0.71 vs 0.75 on eval/sets/seed-dev.jsonl), so the reader's own sigmoid is used."""
    return 1.0 / (1.0 + math.exp(-best.features["reader_max"]))


def answer(
    scorer: Scorer,
    question: str,
    qvec: np.ndarray | None,
    hits: list[Hit],
    config: AnswerConfig = AnswerConfig(),
    exclude: Sequence[Span] = (),
) -> Answer:
    """Pick an answer from ``hits`` (best first) or abstain; citations list the supporting passage first.
    Candidates that overlap a span of ``exclude`` (answers already given) are not considered."""
    citations = [_citation(h) for h in hits]
    if not hits:
        return Answer(question, None, tuple(citations), 0.0)
    scored = score_candidates(scorer, question, qvec, hits[: config.candidate_passages])
    if exclude:
        cands = scorer.index.candidates
        scored = [sc for sc in scored if not _overlaps(cands[sc.j].doc_id, cands[sc.j].start, cands[sc.j].end, exclude)]
    if not scored:
        return Answer(question, None, tuple(citations), 0.0)
    if config.reader is not None and not _reader_needless(scorer, scored, config):
        best = rerank(
            scorer,
            question,
            scored,
            config.reader,
            config.rerank,
            config.rerank_margin,
            config.rerank_more,
            config.rerank_more_margin,
            config.rerank_more_below,
            config.threshold,
        )
        conf = reader_confidence(scorer, best)
    else:
        best = scored[0]
        conf = confidence(scorer, best)
    if _negated(question) and not _NEGATION.search(scorer.index.candidates[best.j].text):
        # "Which country opposes ...?" is not answered by the countries willing to: polarity must agree.
        # Only among the few best candidates, and the confidence stays the first pick's.
        alt = next(
            (sc for sc in scored[:POLARITY_WINDOW] if sc.features["ctx"] > 0 and _NEGATION.search(scorer.index.candidates[sc.j].text)), None
        )
        if alt is not None:
            best = alt
        elif exclude:  # "tell me more" after the one refusal: the willing are not more of it
            return Answer(question, None, tuple(citations), 0.0)
    best = _not_given(scorer, question, scored, best)
    named = _named_item(scorer, question, scored, best)
    if named is not best:
        # The item's own confidence counts too: the question names it, so it is not a weaker answer.
        best, conf = named, max(conf, confidence(scorer, named))
    best = _row_of_named_column(scorer, question, scored, best)
    text, s, e = compose(scorer, best, question)
    if _overlaps(best.hit.chunk.doc_id, s, e, exclude):
        # composing went back to an answer already given (the row the question names): nothing more
        return Answer(question, None, tuple(citations), 0.0)
    kind = expected_type(question)
    if kind in _CHECKED_TYPES and not type_match(kind, text if kind != "number" else _VAGUE.sub(" ", text)):
        # "How many ..." answered by a sentence without a number is not an answer, however close
        # the sentence is: the typical "mentioned but not given" case. A hard rule: with a softer
        # one (confidence x 0.1) a confident reader still answered; on SQuAD 2.0 test the hard rule
        # abstains more (0.091 vs 0.075) with fewer false abstentions (1.8% vs 2.3%).
        conf = 0.0
    if _asks_for_names(question) and not _new_name(scorer, text, question):
        # "Which countries signed the 1954 treaty?" is not answered by the treaty's sentence: it asks for
        # names, and the answer gives none the question does not already have (the mentioned-but-not-given
        # case). Not for "who": SQuAD's "who" answers are often common nouns (measured: SQuAD v1.1
        # calibration 0.743 -> 0.713).
        conf = 0.0
    if _asks_for_person(question) and not _new_person(scorer, text, question):
        # "Which Belgian officials will Hegseth meet?" is not answered by "Hegseth will visit Germany,
        # Belgium and Poland": it asks for people by their office, and the answer names none the
        # question does not give, only countries and titles.
        conf = 0.0
    if kind == "number" and _counts_other(question, text):
        conf = 0.0  # "How many soldiers has Denmark pledged?" is not answered by "About 10 countries, including Denmark"
    if kind == "person" and not _agent_cell(scorer.index, best, s, e):
        conf = 0.0  # "Who is Belgium's defense minister?" is not answered by a "Focus Area" cell
    if scorer.index.candidates[best.j].kind == "row" and _owner_missing(scorer, question, best):
        # "What is France's proposed collaboration area?" answered from a table with no France in it:
        # a row answers for its key, and the name the question asks about is not in the table. Rows
        # only: in a sentence question a possessive is mostly context ("Hegseth's trip"; measured: 9 lost).
        conf = 0.0
    if best.features["ctx"] == 0:
        # Not one content word of the question in the answer's passage, its title or heading ("hello",
        # "Who won the World Cup?"): whatever the reader believes, nothing here is evidence for it.
        conf = 0.0
    if conf < config.threshold:
        return Answer(question, None, tuple(citations), conf)
    text, s, e = with_antecedent(scorer.index, best.j, text, s, e)
    return Answer(question, text, _supporting_first(scorer.index, citations, best.hit, s, e), conf, Span(best.hit.chunk.doc_id, s, e))


# "Which countries / nations / cities ...": the answer is one or more names. Measured: five abstentions more
# on our sets (one fact asked in five), none lost; SQuAD 2.0 calibration abstention 0.141 -> 0.144, AUROC
# 0.6498 -> 0.6502, no answer lost.
_NAMED_KIND = re.compile(
    r"\b(which|what)\s+([a-z]+\s+)?(countr(y|ies)|nations?|cit(y|ies)|capitals?|compan(y|ies)|organi[sz]ations?)\b", re.I
)
_AUX_WORDS = frozenset(_AUX.strip("()").split("|")) | {"is", "was"}


def _asks_for_names(question: str) -> bool:
    """ "Which countries ...?", "What city ...?"; not "What do nations gain ...?"."""
    m = _NAMED_KIND.search(question)
    return m is not None and not (m.group(2) and m.group(2).strip().lower() in _AUX_WORDS)


def _new_name(scorer: Scorer, text: str, question: str) -> bool:
    """Whether ``text`` holds a name (see ``Scorer.names``) that the question does not. For "which
    city" a country, a title, an institution or an acronym is not one: "Which German city ...?" is not
    answered by "NATO allies in Germany, Belgium and Poland"."""
    qterms = set(terms(question))
    names = scorer.names()
    m = _NAMED_KIND.search(question)
    city = m is not None and m.group(3).lower().startswith(("cit", "capital"))
    return any(
        w.rstrip(".").lower() in names and not set(terms(w)) & qterms and not (city and _generic_name(w))
        for w in re.findall(NAME_WORD, text)
    )


# People named by their office or role. "Who" is left out: SQuAD's "who" answers are often common
# nouns ("the Normans"), while "which minister" or "the name of the general" asks for a person's name.
_PERSON_NOUN = (
    r"(officials?|ministers?|leaders?|commanders?|presidents?|secretar(?:y|ies)|ambassadors?|generals?|"
    r"spokes(?:man|men|woman|women|person|people)|directors?|chiefs?|representatives?|envoys?|diplomats?|"
    r"senators?|politicians?|chancellors?|premiers?|governors?|mayors?|kings?|queens?|emperors?|"
    r"founders?|inventors?|authors?|scientists?|individuals?|persons?)"
)
_ASKS_PERSON = re.compile(
    r"\b(?:(?:which|what)\s+(?!(?:is|are|was|were|do|does|did|has|have|had|will|can|would)\b)(?:[\w'’-]+\s+){0,2}?"
    r"|\bname\s+of\s+(?:the\s+|a\s+|an\s+)?(?:[\w'’-]+\s+){0,3}?)" + _PERSON_NOUN + r"\b(?!['’]s)",
    re.I,
)
# Words of a name that make it an office or a body, not a person: titles and institutions' heads.
_TITLE = re.compile(
    r"(?:" + _PERSON_NOUN + r"|departments?|ministr(?:y|ies)|councils?|agenc(?:y|ies)|organi[sz]ations?|unions?|"
    r"committees?|offices?|governments?|parliaments?|armies|army|nav(?:y|ies)|commands?|alliances?|forces?)$",
    re.I,
)


def _generic_name(word: str) -> bool:
    """A name that is neither a person's nor a city's: a country or continent, a title or an institution,
    or an acronym ("NATO", "SACEUR"; prose does not write people's or cities' names in capitals)."""
    return is_place_word(word) or _TITLE.match(name_key(word)) is not None or (len(word) > 1 and word.replace(".", "").isupper())


def _asks_for_person(question: str) -> bool:
    """ "Which German officials ...?", "What is the name of the Polish defense minister?"; not "Which
    general's office ...?" (the office is asked for) nor "What are officials called ...?"."""
    return _ASKS_PERSON.search(question) is not None


def _new_person(scorer: Scorer, text: str, question: str) -> bool:
    """Whether ``text`` names someone the question does not: a run of the corpus's names (see
    ``Scorer.names``) none of whose words the question gives ("Pete Hegseth" is given by "Hegseth"),
    and which is not only countries, titles, institutions and acronyms ("Germany, Belgium", "Secretary", "NATO")."""
    qterms = set(terms(question))
    names = scorer.names()
    run: list[str] = []
    for w in re.findall(NAME_WORD + r"|[,;:()]", text) + [","]:
        if w[0].isupper() and (w.rstrip(".").lower() in names or name_key(w) in names):
            run.append(w)
            continue
        if run and not any(set(terms(x)) & qterms for x in run) and not all(_generic_name(x) for x in run):
            return True
        run = []
    return False


# Nouns that count the same things, so "How many nations ...?" is answered by "About 10 countries".
_COUNT_NOUNS = [
    frozenset(terms(g))
    for g in (
        "country countries nation nations state states member members ally allies partner partners",
        "soldier soldiers troop troops personnel servicemen servicemembers forces",
        "people person persons individuals residents inhabitants citizens population",
        "type types kind kinds sort sorts form forms category categories",
    )
]


def _counts_other(question: str, text: str) -> bool:
    """Whether every number in ``text`` counts something other than what "how many X" asks: each is
    followed by a plural noun that is neither X nor counts the same things. A number followed by
    anything else ("3.5 million inhabitants", "2 of 3 batteries") may count X. Measured: five
    abstentions more on our sets (one fact asked in five), none lost; SQuAD 2.0 calibration abstention
    0.144 -> 0.146, AUROC 0.6502 -> 0.6506, no answer lost; the SQuAD v1.1 1,000 sample lost two ("25
    wins" for "how many awards", "700 employees" for "how many people")."""
    m = re.search(r"\bhow many\s+(?:more\s+)?((?:[\w.-]+\s+){0,2}[\w.-]+)", question, re.I)
    if not m:
        return False
    # the counted phrase, up to the verb: "how many rival princes were ..." counts princes
    phrase = re.split(r"\s+(?:" + _AUX + r"|is|was)\b", " " + m.group(1), maxsplit=1, flags=re.I)[0]
    asked = set(terms(phrase))
    if not asked:
        return False
    body = _VAGUE.sub(" ", text)
    found = list(_NUMBER.finditer(body))
    if not found:
        return False
    for n in found:
        after = re.findall(r"[A-Za-z][\w-]*", body[n.end() :])[:2]
        if not after:
            return False
        near = set(terms(" ".join(after)))
        if asked & near or any(asked & g and near & g for g in _COUNT_NOUNS):
            return False
        if not after[0].lower().endswith("s"):
            return False
    return True


def _overlaps(doc_id: str, start: int, end: int, spans: Sequence[Span]) -> bool:
    return any(doc_id == sp.doc_id and start < sp.end and sp.start < end for sp in spans)


def _supporting_first(index: Index, citations: list[Citation], hit: Hit, s: int, e: int) -> tuple[Citation, ...]:
    """The passage holding the answer span first, then the one the answer was found through.

    They differ when a lead-in ("Key topics include:") is answered with the list that follows it:
    the list is its own chunk and may not have been retrieved at all, yet it is what supports the
    answer, so it is cited even then."""
    chunk, row = hit.chunk, index.chunk_row[hit.chunk.id]
    for r in range(row, min(row + 3, len(index.chunks))):
        c = index.chunks[r]
        if c.doc_id == chunk.doc_id and c.start <= s and e <= c.end:
            holder = c
            break
    else:
        holder = chunk
    first = [c for c in citations if c.doc_id == holder.doc_id and c.start == holder.start]
    if not first:
        first = [Citation(holder.doc_id, holder.title, holder.section, holder.start, holder.end, holder.text, hit.score)]
    found = [c for c in citations if c.doc_id == chunk.doc_id and c.start == chunk.start and c not in first]
    return tuple(first + found + [c for c in citations if c not in first and c not in found])


# Column headers whose cells can answer "who": people, and the actors a news table lists (countries,
# organisations). A "who" question answered from any other column asks for what the table lacks.
_AGENT_HEADER = re.compile(
    r"\b(names?|persons?|people|ministers?|leaders?|commanders?|officials?|heads?|chairs?|"
    r"representatives?|secretar(y|ies)|ambassadors?|contacts?|spokesp\w+|presidents?|directors?|"
    r"authors?|owners?|members?|participants?|partners?|allies|ally|count(ry|ries)|nations?|"
    r"states?|organi[sz]ations?|agenc(y|ies)|compan(y|ies)|part(y|ies)|teams?|who)\b",
    re.I,
)


def _agent_cell(index: Index, best: _Scored, s: int, e: int) -> bool:
    """False when the answer is a table cell under a column that names no person or actor."""
    cand = index.candidates[best.j]
    if cand.kind != "row":
        return True
    for j in index.candidates_of[index.chunk_row[cand.chunk_id]]:
        for cell in index.candidates[j].cells or ():
            if (cell.start, cell.end) == (s, e):
                return bool(_AGENT_HEADER.search(cell.header))
    return True


def _citation(h: Hit) -> Citation:
    c = h.chunk
    return Citation(c.doc_id, c.title, c.section, c.start, c.end, c.text, h.score)


__all__ = ["AnswerConfig", "AnswerModel", "Scorer", "answer", "expected_type", "load_answer_model", "pick_cell", "shorten"]
