"""Answering the last turn of a conversation: the follow-up resolved, talk not looked up, "tell me
more" given the next answer. What ``/chat`` and ``/v1/chat/completions`` share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.answer import AnswerConfig
from rag.ask import ask, ask_more, ask_why
from rag.conversation import asks_for_more, asks_why, is_talk, more_requests, standalone_question
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
    why = _why_after(messages)
    if why is not None:
        previous, asked = why
        reason = ask_why(index, embedder, previous, asked, k, retrieval, answering, docs)
        if reason is not None:
            return ChatTurn(question, reason, talk=False, more=0)
    more = more_requests(messages)
    if more:
        return ChatTurn(question, ask_more(index, embedder, question, more, k, retrieval, answering, docs), talk=False, more=more)
    return ChatTurn(question, ask(index, embedder, question, k, retrieval, answering, docs), talk=False, more=0)


def _why_after(messages: Sequence[Turn]) -> tuple[str, str] | None:
    """(the question before, the "why?") when the last user message asks why of an answer given; else None."""
    users = [i for i, t in enumerate(messages) if t.role == "user" and (t.content or "").strip()]
    if len(users) < 2 or not asks_why(messages[users[-1]].content):
        return None
    earlier = messages[: users[-1]]
    replies = [t for t in earlier[users[-2] :] if t.role == "assistant"]
    if not replies or replies[-1].answer is None:  # nothing was answered: nothing to give the reason for
        return None
    return standalone_question(earlier, max_chars=MAX_QUESTION_CHARS), messages[users[-1]].content.strip()
