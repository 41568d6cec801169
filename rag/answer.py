"""Extractive answers: score the candidates (sentences, list items, table rows) of the retrieved
passages (``rag.scoring``), let the reader re-score the best, apply the rules (``rag.rules``), cut the
pick down to the answer (``rag.compose``), or abstain."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.compose import compose, with_antecedent
from rag.kinds import expected_type
from rag.rules import PICKS, VETOES, Context
from rag.scoring import AnswerModel, Scorer, _Scored, confidence, score_candidates
from rag.store import Index
from rag.tables import Similarity
from rag.types import Answer, Citation, Hit, Span


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
    disabled: frozenset[str] = frozenset()  # rules switched off (by name), to measure what each one does

    @property
    def threshold(self) -> float:
        if self.min_confidence is not None:
            return self.min_confidence
        if self.model is not None:
            t = self.model.reader_threshold if self.reader is not None else self.model.threshold
            if t is not None:
                return t
        return 0.5


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
    similar: Similarity | None = None,
    trace: dict | None = None,
) -> Answer:
    """Pick an answer from ``hits`` (best first) or abstain; citations list the supporting passage first.
    Candidates that overlap a span of ``exclude`` (answers already given) are not considered;
    ``similar`` (the embedder's text similarity) tells a table's column asked in other words.
    ``trace`` (a dict), when given, hears which rules fired and the answer before the vetoes."""
    citations = [_citation(h) for h in hits]
    if not hits:
        return Answer(question, None, tuple(citations), 0.0)
    scored = score_candidates(scorer, question, qvec, hits[: config.candidate_passages])
    if exclude:
        cands = scorer.index.candidates
        scored = [sc for sc in scored if not _overlaps(cands[sc.j].doc_id, cands[sc.j].start, cands[sc.j].end, exclude)]
    if not scored:
        return Answer(question, None, tuple(citations), 0.0)
    if config.reader is not None:
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
    ctx = Context(scorer, question, scored, exclude, expected_type(question))
    fired: list[str] = []
    for rule in PICKS:
        if rule.name in config.disabled:
            continue
        picked = rule.fn(ctx, best, conf)
        if picked is None or picked[0] is not best:
            fired.append(rule.name)
        if picked is None:
            return _traced(trace, fired, None, 0.0, Answer(question, None, tuple(citations), 0.0))
        best, conf = picked
    text, s, e = compose(scorer, best, question, similar)
    if _overlaps(best.hit.chunk.doc_id, s, e, exclude):
        # composing went back to an answer already given (the row the question names): nothing more
        return _traced(trace, fired, None, 0.0, Answer(question, None, tuple(citations), 0.0))
    vetoed = [rule.name for rule in VETOES if rule.name not in config.disabled and rule.fn(ctx, best, text, s, e)]
    before = (text, conf)
    if vetoed:
        conf = 0.0
    if conf < config.threshold:
        return _traced(trace, fired + vetoed, *before, Answer(question, None, tuple(citations), conf))
    text, s, e = with_antecedent(scorer.index, best.j, text, s, e)
    span = Span(best.hit.chunk.doc_id, s, e)
    return _traced(trace, fired, *before, Answer(question, text, _supporting_first(scorer.index, citations, best.hit, s, e), conf, span))


def _traced(trace: dict | None, fired: list[str], text: str | None, conf: float, result: Answer) -> Answer:
    if trace is not None:
        trace.update(fired=list(fired), unvetoed_text=text, unvetoed_confidence=conf)
    return result


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


def _citation(h: Hit) -> Citation:
    c = h.chunk
    return Citation(c.doc_id, c.title, c.section, c.start, c.end, c.text, h.score)
