"""The question-answering entry points: ``search`` (passages) and ``ask`` (answer + citations)."""

from __future__ import annotations

import time
import weakref
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from rag.answer import AnswerConfig, answer
from rag.embedding import Embedder
from rag.errors import EmptyQueryError, InvalidInputError
from rag.limits import MAX_ANSWER_CHARS, MAX_K, MAX_QUESTION_CHARS
from rag.retrieval import RetrievalConfig, retrieve
from rag.scoring import Scorer
from rag.store import Index
from rag.tables import Similarity
from rag.types import Answer, Candidate, Citation, Hit, Span

_scorers: weakref.WeakKeyDictionary[Index, dict] = weakref.WeakKeyDictionary()


def _scorer(index: Index, answering: AnswerConfig) -> Scorer:
    """One Scorer per (index, answer model): it caches IDF weights and candidate terms."""
    per_index = _scorers.setdefault(index, {})
    key = id(answering.model)
    s = per_index.get(key)
    if s is None or s.model is not answering.model:
        s = per_index[key] = Scorer(index, answering.model)
    return s


def _similarity(embedder: Embedder) -> Similarity:
    """The cosine of a text to each of several, by the question encoder (whose cache keeps a table's
    column texts after their first use): how a table's column asked in other words is told."""

    def similar(text: str, options: Sequence[str]) -> list[float]:
        q = embedder.embed_query(text)
        return [float(np.dot(embedder.embed_query(o), q)) for o in options]

    return similar


def validate_question(question: str, k: int, name: str = "question") -> str:
    if not isinstance(question, str) or not question.strip():
        raise EmptyQueryError(f"the {name} is empty", field=name)
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidInputError(f"the {name} is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}", field=name)
    if not 1 <= k <= MAX_K:
        raise InvalidInputError(f"k must be between 1 and {MAX_K}, not {k}", field="k")
    return question.strip()


def search(
    index: Index,
    embedder: Embedder | None,
    question: str,
    k: int = 5,
    retrieval: RetrievalConfig = RetrievalConfig(),
    docs: frozenset[str] | None = None,
) -> list[Hit]:
    """Top-k passages for ``question`` (of the documents ``docs`` only, when given); ``embedder`` may
    be None in bm25 mode."""
    question = validate_question(question, k, name="query")
    qvec = embedder.embed_query(question) if embedder is not None and retrieval.mode != "bm25" else None
    return [in_source(index, h) for h in retrieve(index, qvec, question, k, retrieval, docs)]


def in_source(index: Index, hit: Hit) -> Hit:
    """A passage as its user sees it: offsets and text of the file it came from (the indexed text
    is a clean view of a markdown file), and its page for a PDF."""
    doc = index.documents.get(hit.chunk.doc_id)
    if doc is None:
        return hit
    s, e = doc.to_source(hit.chunk.start, hit.chunk.end)
    return replace(hit, chunk=replace(hit.chunk, start=s, end=e, text=doc.source_text[s:e]), page=doc.page_at(hit.chunk.start))


def _cited_in_source(index: Index, a: Answer) -> Answer:
    """``in_source`` for an answer's citations and span; the answer's text stays the clean one."""
    docs = index.documents

    def cite(c: Citation) -> Citation:
        doc = docs.get(c.doc_id)
        if doc is None:
            return c
        s, e = doc.to_source(c.start, c.end)
        return replace(c, start=s, end=e, text=doc.source_text[s:e], page=doc.page_at(c.start))

    span = a.answer_span
    if span is not None and span.doc_id in docs:
        span = Span(span.doc_id, *docs[span.doc_id].to_source(span.start, span.end))
    return replace(a, citations=tuple(cite(c) for c in a.citations), answer_span=span)


def ask(
    index: Index,
    embedder: Embedder,
    question: str,
    k: int = 5,
    retrieval: RetrievalConfig = RetrievalConfig(),
    answering: AnswerConfig = AnswerConfig(),
    docs: frozenset[str] | None = None,
    trace: dict | None = None,
) -> Answer:
    """Answer ``question`` from the index (from the documents ``docs`` only, when given) with
    citations, or abstain when the corpus does not say. ``trace`` (a dict), when given, hears which
    rules (``rag.rules``) fired and what the answer was before a veto."""
    return _cited_in_source(index, _ask(index, embedder, question, k, retrieval, answering, docs=docs, trace=trace))


def _ask(
    index: Index,
    embedder: Embedder,
    question: str,
    k: int = 5,
    retrieval: RetrievalConfig = RetrievalConfig(),
    answering: AnswerConfig = AnswerConfig(),
    exclude: Sequence[Span] = (),
    docs: frozenset[str] | None = None,
    trace: dict | None = None,
) -> Answer:
    """``ask`` in the indexed text's offsets; ``exclude``: answers already given ("tell me more")."""
    question = validate_question(question, k)
    t0 = time.perf_counter()
    qvec = embedder.embed_query(question)
    t1 = time.perf_counter()
    hits = retrieve(index, qvec if retrieval.mode != "bm25" else None, question, max(k, answering.candidate_passages), retrieval, docs)
    t2 = time.perf_counter()
    result = answer(_scorer(index, answering), question, qvec, hits, answering, exclude, _similarity(embedder), trace)
    t3 = time.perf_counter()
    timings = {"embed": (t1 - t0) * 1e3, "search": (t2 - t1) * 1e3, "answer": (t3 - t2) * 1e3, "total": (t3 - t0) * 1e3}
    return replace(result, question=question, citations=result.citations[:k], timings_ms={k_: round(v, 3) for k_, v in timings.items()})


def ask_more(
    index: Index,
    embedder: Embedder,
    question: str,
    times: int,
    k: int = 5,
    retrieval: RetrievalConfig = RetrievalConfig(),
    answering: AnswerConfig = AnswerConfig(),
    docs: frozenset[str] | None = None,
) -> Answer:
    """The answer ``question`` gets after ``times`` "tell me more": each asking leaves out the answers
    already given, so "more" is the next best answer, not the same one again (or an abstention
    when the corpus has nothing more)."""
    given: list[Span] = []
    said: set[str] = set()
    a = _ask(index, embedder, question, k, retrieval, answering, docs=docs)
    for _ in range(times + 5):  # + a few: the same words in another place (a repeated table) are not more
        if a.answer_span is None or a.answer is None or (len(said) == times and a.answer.casefold() not in said):
            break
        said.add(a.answer.casefold())
        given.append(a.answer_span)
        a = _ask(index, embedder, question, k, retrieval, answering, exclude=tuple(given), docs=docs)
    return _cited_in_source(index, a)


def ask_why(
    index: Index,
    embedder: Embedder,
    previous: str,
    question: str,
    k: int = 5,
    retrieval: RetrievalConfig = RetrievalConfig(),
    answering: AnswerConfig = AnswerConfig(),
    docs: frozenset[str] | None = None,
) -> Answer | None:
    """The reason behind the answer ``previous`` gets, for a bare "why?" (``question``) after it: what
    its sentence (or list item) says beyond the answer (all of it when the answer was all of it) and
    the next one of the same section, as far as an answer's length allows. Writers put a reason next
    to what it explains ("two interpreters, to prevent fatigue"; "Don't. It is illegal ..."), and
    "why?" alone has nothing to search for. None when ``previous`` is not answered, or from a table."""
    a = _ask(index, embedder, previous, k, retrieval, answering, docs=docs)
    span = a.answer_span
    if span is None or span.doc_id not in index.documents:
        return None
    order = [j for r in index.rows_of(frozenset({span.doc_id})) for j in index.candidates_of[r]]
    cands = index.candidates
    at = next((i for i, j in enumerate(order) if cands[j].start <= span.start < cands[j].end), None)
    if at is None or cands[order[at]].kind == "row":
        return None
    first = cands[order[at]]
    text = index.documents[span.doc_id].text
    whole = span.end >= first.end or len(text[span.end : first.end].split()) < 3
    s, e = (first.start, first.end) if whole else (span.end, first.end)

    def section(c: Candidate) -> str:
        return index.chunks[index.chunk_row[c.chunk_id]].section

    nxt = cands[order[at + 1]] if at + 1 < len(order) else None
    if nxt is not None and (nxt.kind == "row" or section(nxt) != section(first)):
        nxt = None
    if nxt is not None and nxt.end - s <= MAX_ANSWER_CHARS:
        e = nxt.end
    elif e - s > MAX_ANSWER_CHARS:
        s, e = (nxt.start, nxt.end) if whole and nxt is not None else (s, s + text[s : s + MAX_ANSWER_CHARS].rfind(" "))
    lead = len(text[s:e]) - len(text[s:e].lstrip(" \t\n—–-,;:"))  # the rest of a sentence starts at its dash or comma
    s, e = s + lead, s + len(text[s:e].rstrip())
    return _cited_in_source(index, replace(a, question=question, answer=text[s:e], answer_span=Span(span.doc_id, s, e)))
