"""Evaluation: question records in, per-question outcomes and metric values out.

Records: ``eval/sets/seed-dev.jsonl`` rows ``{id, question, answers, doc, type}`` (``answers: []`` marks
an unanswerable question) or SQuAD-style rows ``{id, question, answers, gold_doc}``. Every question
counts: one that errors or retrieves nothing scores zero, it is never dropped.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ir_measures
import numpy as np
from ir_measures import Qrel, ScoredDoc

from rag.errors import InvalidInputError
from rag.limits import MAX_ANSWER_CHARS

CONTEXT_BUDGET = 1000


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...]
    docs: tuple[str, ...]
    type: str

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


@dataclass
class Outcome:
    question: Question
    answer: str | None
    citations: list[dict]
    seconds: float
    confidence: float | None = None
    correct: bool = False
    abstained: bool = False
    hit1: bool = False
    hit5: bool = False
    rr: float = 0.0
    hit_budget: bool = False
    first_citation_gold_doc: bool = False
    relevant_ranks: list[int] = field(default_factory=list)
    asked: str | None = None  # a conversation's last turn as the service rewrote it

    def to_dict(self) -> dict:
        q = self.question
        return {
            "id": q.id,
            "type": q.type,
            "question": q.question,
            "gold": list(q.answers),
            "docs": list(q.docs),
            "answer": self.answer,
            "abstained": self.abstained,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "correct": self.correct,
            "hit@1": self.hit1,
            "hit@5": self.hit5,
            "rr": round(self.rr, 4),
            "hit@1000c": self.hit_budget,
            "first_citation_gold_doc": self.first_citation_gold_doc,
            "ms": round(self.seconds * 1e3, 2),
            **({"asked": self.asked} if self.asked is not None else {}),
            "citations": [{k: c[k] for k in ("doc_id", "section", "start", "end", "score")} for c in self.citations],
        }


def _doc_id(name: str) -> str:
    return re.sub(r"\.(txt|md)$", "", name)


def load_questions(path: str | Path) -> list[Question]:
    p = Path(path)
    if not p.exists():
        raise InvalidInputError(f"question file not found: {p}" + ("" if p.is_absolute() else f" (looked in {Path.cwd()})"))
    out = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            docs = r.get("doc", r.get("gold_doc", []))
            docs = [docs] if isinstance(docs, str) else list(docs or [])
            docs = [d for d in docs if d]  # "doc": "" on an unanswerable question: no document, not one named ""
            answers = tuple(r.get("answers") or ())
            qtype = r.get("type") or ("unanswerable" if not answers else "squad")
            out.append(Question(str(r["id"]), r["question"], answers, tuple(_doc_id(d) for d in docs), qtype))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidInputError(f"{p}:{n}: not a question record ({exc})") from None
    if not out:
        raise InvalidInputError(f"{p} has no questions")
    return out


def validate_questions(questions: list[Question], documents: dict[str, str]) -> list[str]:
    """Problems with a question set: unknown documents, gold strings not found verbatim in their documents."""
    problems = []
    ids = set()
    for q in questions:
        if q.id in ids:
            problems.append(f"{q.id}: duplicate id")
        ids.add(q.id)
        for d in q.docs:
            if d not in documents:
                problems.append(f"{q.id}: unknown document {d!r}")
        texts = [_norm(documents[d]) for d in q.docs if d in documents]  # as scoring reads them: a line break is a space
        for a in q.answers:
            if not any(_norm(a) in t for t in texts):
                problems.append(f"{q.id}: gold {a!r} not found in {', '.join(q.docs) or 'any listed document'}")
    return problems


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s.replace("’", "'")).strip().lower()


def answer_correct(answer: str | None, golds: Iterable[str]) -> bool:
    if not answer or len(answer) > MAX_ANSWER_CHARS:
        return False
    a = _norm(answer)
    return any(_norm(g) in a for g in golds)


def score(q: Question, answer: str | None, citations: list[dict], seconds: float, confidence: float | None = None) -> Outcome:
    o = Outcome(q, answer, citations, seconds, confidence, abstained=answer is None)
    if not q.answerable:
        return o
    o.correct = answer_correct(answer, q.answers)
    golds = [_norm(g) for g in q.answers]
    relevant = [
        i for i, c in enumerate(citations, 1) if (not q.docs or c["doc_id"] in q.docs) and any(g in _norm(c["text"]) for g in golds)
    ]
    o.relevant_ranks = relevant
    o.hit1 = bool(relevant) and relevant[0] == 1
    o.hit5 = any(r <= 5 for r in relevant)
    o.rr = 1.0 / relevant[0] if relevant and relevant[0] <= 5 else 0.0
    o.first_citation_gold_doc = bool(citations) and (not q.docs or citations[0]["doc_id"] in q.docs)
    used = 0
    for _i, c in enumerate(citations, 1):
        if used >= CONTEXT_BUDGET:
            break
        visible = _norm(c["text"][: CONTEXT_BUDGET - used])
        if (not q.docs or c["doc_id"] in q.docs) and any(g in visible for g in golds):
            o.hit_budget = True
            break
        used += len(c["text"])
    return o


def ir_metrics(outcomes: list[Outcome]) -> dict[str, float]:
    """Success@1, Success@5 and RR@5 through ir_measures, over every answerable question."""
    qrels, run = [], []
    for o in outcomes:
        if not o.question.answerable:
            continue
        qid = o.question.id
        # A never-retrieved relevant entry keeps questions with no relevant citation in the average.
        qrels.append(Qrel(qid, "__gold__", 1))
        for rank, c in enumerate(o.citations, 1):
            did = f"{c['doc_id']}:{c['start']}-{c['end']}#{rank}"
            run.append(ScoredDoc(qid, did, float(len(o.citations) - rank + 1)))
            if rank in o.relevant_ranks:
                qrels.append(Qrel(qid, did, 1))
    if not qrels:
        return {}
    measures = [ir_measures.Success @ 1, ir_measures.Success @ 5, ir_measures.RR @ 5]
    per_query: dict[str, dict[str, float]] = defaultdict(dict)
    for m in ir_measures.iter_calc(measures, qrels, run):
        per_query[m.query_id][str(m.measure)] = m.value
    n = sum(1 for o in outcomes if o.question.answerable)
    return {str(m): sum(per_query[q].get(str(m), 0.0) for q in per_query) / n for m in measures}


def summarize(outcomes: list[Outcome]) -> dict:
    ans = [o for o in outcomes if o.question.answerable]
    una = [o for o in outcomes if not o.question.answerable]
    lat = np.array([o.seconds * 1e3 for o in outcomes]) if outcomes else np.zeros(1)
    answered = [o for o in ans if o.answer]
    mean = lambda xs: float(np.mean(xs)) if xs else 0.0
    s: dict[str, Any] = {
        "questions": len(outcomes),
        "answerable": len(ans),
        "unanswerable": len(una),
        "answer_accuracy": mean([o.correct for o in ans]),
        "mean_answer_chars": mean([len(o.answer or "") for o in answered]),
        "hit@1": mean([o.hit1 for o in ans]),
        "hit@5": mean([o.hit5 for o in ans]),
        "mrr@5": mean([o.rr for o in ans]),
        "hit@1000c": mean([o.hit_budget for o in ans]),
        "citation_correct": mean([o.first_citation_gold_doc for o in ans]),
        "abstention": mean([o.abstained for o in una]) if una else None,
        "false_abstention": mean([o.abstained for o in ans]),
        "latency_p50_ms": float(np.percentile(lat, 50)),
        "latency_p95_ms": float(np.percentile(lat, 95)),
    }
    confs = [(o.confidence, o.question.answerable) for o in outcomes if o.confidence is not None]
    if una and ans and len(confs) == len(outcomes):
        # How well confidence separates answerable from unanswerable questions (0.5 = chance).
        s["no_answer_auroc"] = auroc([c for c, _ in confs], [a for _, a in confs])
        # SQuAD 2.0 style: right answer when there is one, abstention when there is none.
        s["overall_accuracy"] = mean([o.correct for o in ans] + [o.abstained for o in una])
    irm = ir_metrics(outcomes)
    if irm:
        s["ir_measures"] = irm
    return s


def auroc(scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray) -> float:
    """Area under the ROC curve: the chance that a positive scores above a negative, ties counting
    half (the Mann-Whitney statistic, from average ranks)."""
    x = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if not n_pos or not n_neg:
        return float("nan")
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=np.float64)
    sorted_x = x[order]
    i = 0
    while i < len(x):  # tied scores share their average rank
        j = i
        while j + 1 < len(x) and sorted_x[j + 1] == sorted_x[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def by_type(outcomes: list[Outcome]) -> dict[str, dict]:
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        groups[o.question.type].append(o)
    out = {}
    for t, os_ in sorted(groups.items()):
        if t == "unanswerable":
            out[t] = {"n": len(os_), "accuracy": float(np.mean([o.abstained for o in os_])), "hit@5": None}
        else:
            out[t] = {"n": len(os_), "accuracy": float(np.mean([o.correct for o in os_])), "hit@5": float(np.mean([o.hit5 for o in os_]))}
    return out


AskFn = Callable[[str, int], dict]


def run(questions: list[Question], ask_fn: AskFn, k: int = 5, progress: Callable[[int, int], None] | None = None) -> list[Outcome]:
    outcomes = []
    for i, q in enumerate(questions):
        t0 = time.perf_counter()
        res = ask_fn(q.question, k)
        dt = time.perf_counter() - t0
        outcomes.append(score(q, res.get("answer"), res.get("citations", []), dt, res.get("confidence")))
        if progress:
            progress(i + 1, len(questions))
    return outcomes


@dataclass(frozen=True)
class Conversation:
    """A conversation whose last user turn only makes sense after the ones before it."""

    id: str
    turns: tuple[str, ...]  # the user's turns; the service's replies go between them
    standalone: str  # the last turn written out in full (for reading reports; never sent)
    answers: tuple[str, ...]
    docs: tuple[str, ...]
    type: str


def load_conversations(path: str | Path) -> list[Conversation]:
    p = Path(path)
    if not p.exists():
        raise InvalidInputError(f"conversation file not found: {p}")
    out = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            docs = r.get("doc") or []
            docs = [docs] if isinstance(docs, str) else list(docs)
            turns = tuple(str(t) for t in r["turns"])
            if len(turns) < 2:
                raise ValueError("fewer than two turns")
            out.append(
                Conversation(
                    str(r["id"]),
                    turns,
                    str(r.get("standalone", "")),
                    tuple(r.get("answers") or ()),
                    tuple(_doc_id(d) for d in docs if d),
                    r.get("type") or "follow-up",
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidInputError(f"{p}:{n}: not a conversation record ({exc})") from None
    if not out:
        raise InvalidInputError(f"{p} has no conversations")
    return out


# (messages so far, k) -> (the answer as ``Answer.to_dict`` gives it plus "standalone_question", the reply's text)
ChatFn = Callable[[list[tuple[str, str]], int], tuple[dict, str]]


def run_conversations(conversations: list[Conversation], chat_fn: ChatFn, k: int = 5) -> list[Outcome]:
    """Each conversation turn by turn, the service's reply to a turn sent back with the next one, as a
    chat client does; the last turn's answer is scored."""
    outcomes = []
    for c in conversations:
        messages: list[tuple[str, str]] = []
        res: dict = {}
        dt = 0.0
        for i, turn in enumerate(c.turns):
            messages.append(("user", turn))
            t0 = time.perf_counter()
            res, reply = chat_fn(messages, k)
            dt = time.perf_counter() - t0
            if i < len(c.turns) - 1:
                messages.append(("assistant", reply))
        q = Question(c.id, c.turns[-1], c.answers, c.docs, c.type)
        o = score(q, res.get("answer"), res.get("citations", []), dt, res.get("confidence"))
        o.asked = res.get("standalone_question")
        outcomes.append(o)
    return outcomes


def load_thresholds(path: str | Path) -> dict[str, float]:
    import tomllib

    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    return {k: float(v) for k, v in data.get("minimum", {}).items()} | {f"max:{k}": float(v) for k, v in data.get("maximum", {}).items()}


def check(summary: dict, thresholds: dict[str, float]) -> list[str]:
    """Metrics that fall short of their thresholds, as messages."""
    failures = []
    for key, bound in thresholds.items():
        if key.startswith("max:"):
            name = key[4:]
            v = summary.get(name)
            if v is not None and v > bound:
                failures.append(f"{name} = {v:.3f} is above its maximum {bound:.3f}")
        else:
            v = summary.get(key)
            if v is None:  # e.g. no unanswerable question in a --limit run: a gate cannot pass unmeasured
                failures.append(f"{key} was not measured (no question of the kind it needs); its minimum is {bound:.3f}")
            elif v < bound:
                failures.append(f"{key} = {round(v, 3)} is below its minimum {bound:.3f}")
    return failures
