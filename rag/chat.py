"""Answering the last turn of a conversation: the follow-up resolved, talk not looked up, "tell me
more" given the next answer. What ``/chat`` and ``/v1/chat/completions`` share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.answer import AnswerConfig
from rag.ask import ask, ask_more
from rag.conversation import asks_for_more, is_talk, more_requests, standalone_question
from rag.embedding import Embedder
from rag.limits import MAX_QUESTION_CHARS
from rag.reply import Turn
from rag.retrieval import RetrievalConfig
from rag.store import Index
from rag.types import Answer


@dataclass(frozen=True)
class ChatTurn:
    question: str  # the standalone question that was searched for
    answer: Answer
    talk: bool  # "thanks!" (or "tell me more" with nothing before it): nothing was looked up
    more: int  # how many "tell me more" this answer follows; abstained then means nothing more


def answer_turn(
    index: Index,
    embedder: Embedder,
    messages: Sequence[Turn],
    k: int = 5,
    retrieval: RetrievalConfig = RetrievalConfig(),
    answering: AnswerConfig = AnswerConfig(),
    docs: frozenset[str] | None = None,
) -> ChatTurn:
    """The answer to the last user message of ``messages`` (``rag.reply.turns`` reads a client's (role,
    content) pairs), from the documents ``docs`` only when given."""
    question = standalone_question(messages, max_chars=MAX_QUESTION_CHARS)
    if is_talk(question) or asks_for_more(question):
        return ChatTurn(question, Answer(question, None, (), 0.0, timings_ms={"total": 0.0}), talk=True, more=0)
    more = more_requests(messages)
    if more:
        return ChatTurn(question, ask_more(index, embedder, question, more, k, retrieval, answering, docs), talk=False, more=more)
    return ChatTurn(question, ask(index, embedder, question, k, retrieval, answering, docs), talk=False, more=0)
