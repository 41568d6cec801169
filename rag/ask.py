"""The question-answering entry points: ``search`` (passages) and ``ask`` (answer + citations)."""

from __future__ import annotations

import time
import weakref
from collections.abc import Sequence
from dataclasses import replace

from rag.answer import AnswerConfig, Scorer, answer, without_exclusions
from rag.embedding import Embedder
from rag.errors import EmptyQueryError, InvalidInputError
from rag.limits import MAX_K, MAX_QUESTION_CHARS
from rag.retrieval import RetrievalConfig, retrieve
from rag.store import Index
from rag.types import Answer, Hit, Span

_scorers: weakref.WeakKeyDictionary[Index, dict] = weakref.WeakKeyDictionary()


def _scorer(index: Index, answering: AnswerConfig) -> Scorer:
    """One Scorer per (index, answer model): it caches IDF weights and candidate terms."""
    per_index = _scorers.setdefault(index, {})
    key = id(answering.model)
    s = per_index.get(key)
    if s is None or s.model is not answering.model:
        s = per_index[key] = Scorer(index, answering.model)
    return s


def validate_question(question: str, k: int, name: str = "question") -> str:
    if not isinstance(question, str) or not question.strip():
        raise EmptyQueryError(f"the {name} is empty", field=name)
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidInputError(f"the {name} is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}", field=name)
    if not 1 <= k <= MAX_K:
        raise InvalidInputError(f"k must be between 1 and {MAX_K}, not {k}", field="k")
    return question.strip()


def search(index: Index, embedder: Embedder | None, question: str, k: int = 5, retrieval: RetrievalConfig = RetrievalConfig()) -> list[Hit]:
    """Top-k passages for ``question``; ``embedder`` may be None in bm25 mode."""
    question = validate_question(question, k, name="query")
    qvec = embedder.embed_query(question) if embedder is not None and retrieval.mode != "bm25" else None
    return retrieve(index, qvec, question, k, retrieval)


def ask(
    index: Index,
    embedder: Embedder,
    question: str,
    k: int = 5,
    retrieval: RetrievalConfig = RetrievalConfig(),
    answering: AnswerConfig = AnswerConfig(),
    exclude: Sequence[Span] = (),
) -> Answer:
    """Answer ``question`` from the index with citations, or abstain when the corpus does not say.
    ``exclude``: answers already given ("tell me more"), not to be given again."""
    question = validate_question(question, k)
    t0 = time.perf_counter()
    # "(not the proposed collaboration areas table)" says where not to look: its words are not wanted
    wanted = without_exclusions(question)
    qvec = embedder.embed_query(wanted)
    t1 = time.perf_counter()
    hits = retrieve(index, qvec if retrieval.mode != "bm25" else None, wanted, max(k, answering.candidate_passages), retrieval)
    t2 = time.perf_counter()
    result = answer(_scorer(index, answering), wanted, qvec, hits, answering, exclude)
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
) -> Answer:
    """The answer ``question`` gets after ``times`` "tell me more": each asking leaves out the answers
    already given, so "more" is the next best answer, not the same one again (or an abstention
    when the corpus has nothing more)."""
    given: list[Span] = []
    said: set[str] = set()
    a = ask(index, embedder, question, k, retrieval, answering)
    for _ in range(times + 5):  # + a few: the same words in another place (a repeated table) are not more
        if a.answer_span is None or a.answer is None or (len(said) == times and a.answer.casefold() not in said):
            break
        said.add(a.answer.casefold())
        given.append(a.answer_span)
        a = ask(index, embedder, question, k, retrieval, answering, exclude=tuple(given))
    return a
