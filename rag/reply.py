"""The assistant's reply in a chat: the text a client shows, and the record a later turn reads back.

Chat clients (OpenAI's protocol) send the whole conversation each turn, as text. What a follow-up
needs of an earlier reply is the answer it gave ("Which nation ...?" -> "Chile": "its" then means
Chile), so the one module that writes a reply's text also reads the answer back out of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rag.types import Answer

ABSTAIN_TEXT = "The corpus does not say."
MORE_TEXT = "The documents say nothing more about this."
TALK_TEXT = "Ask me a question about the documents: I answer from them, with the passages I took it from."


@dataclass(frozen=True)
class Turn:
    """One message of a conversation. ``answer`` is what an assistant turn answered (None for a user
    turn, an abstention or talk)."""

    role: str  # "user" | "assistant" | "system"
    content: str
    answer: str | None = None


def cited_indices(a: Answer) -> list[int]:
    """1-based numbers of the citations that contain the answer span (the first one if none does)."""
    if a.answer_span is None or not a.citations:
        return []
    sp = a.answer_span
    hits = [i + 1 for i, c in enumerate(a.citations) if c.doc_id == sp.doc_id and c.start <= sp.start and sp.end <= c.end]
    return hits[:1] or [1]


def render(a: Answer, talk: bool = False, more: int = 0) -> str:
    """The assistant message: the answer with numbered markers, then the sources it cites."""
    if talk:
        return TALK_TEXT
    if a.abstained:
        return MORE_TEXT if more else f"{ABSTAIN_TEXT} No passage in the indexed documents answers this question."
    cited = cited_indices(a)
    marks = "".join(f"[{i}]" for i in cited)
    lines = [f"{a.answer} {marks}".rstrip(), "", "Sources:"]
    # only the sources the answer cites: the other passages (the response's `citations`) are context,
    # and five titles under a one-line answer read as noise in a chat window
    for i, c in enumerate(a.citations, 1):
        if i not in cited:
            continue
        where = f"{c.title}" + (f" — {c.section}" if c.section and c.section != c.title else "")
        lines.append(f"[{i}] {where} ({c.doc_id}, characters {c.start}–{c.end})")
    return "\n".join(lines)


_SOURCES = re.compile(r"\n\s*\n\s*Sources:")
_MARKER = re.compile(r"\[\d+\]")
_NOT_ANSWERS = (ABSTAIN_TEXT.lower(), MORE_TEXT.lower(), TALK_TEXT.lower())


def answer_of(content: str) -> str | None:
    """The answer a reply ``render`` wrote (its first part, without markers and sources), or None
    when it gave none. A reply written by someone else is read as its own answer."""
    text = _MARKER.sub(" ", _SOURCES.split(content or "", maxsplit=1)[0]).strip()
    if not text or text.lower().startswith(_NOT_ANSWERS):
        return None
    return text


def turns(messages: Iterable[tuple[str, str]]) -> list[Turn]:
    """(role, content) pairs as turns, each assistant reply's answer read once."""
    return [Turn(role, content, answer_of(content) if role == "assistant" else None) for role, content in messages]
