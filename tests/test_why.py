"""A bare "why?" after an answer: the real model and index, on a corpus of one page."""

from __future__ import annotations

import pytest

from rag.chat import answer_turn
from rag.indexing import open_index
from rag.reply import render, turns

PAGE = """# Harbour ferries

## The night ferry

The night ferry leaves at 23:40 from pier 4. It waits for the last train from the city, so passengers
from the train can make the connection.

## Tickets

Tickets are sold on board and at the kiosk by pier 2. The kiosk closes at 20:00.
"""


@pytest.fixture(scope="module")
def ferry_index(embedder, tmp_path_factory):
    corpus = tmp_path_factory.mktemp("ferries")
    (corpus / "ferries.md").write_text(PAGE)
    index, _ = open_index(corpus, tmp_path_factory.mktemp("index") / "index", embedder)
    return index


def _chat(index, embedder, answering, *user_turns: str):
    messages: list[tuple[str, str]] = []
    turn = None
    for text in user_turns:
        messages.append(("user", text))
        turn = answer_turn(index, embedder, turns(messages), answering=answering)
        messages.append(("assistant", render(turn.answer, talk=turn.talk, more=turn.more)))
    return turn


def test_why_after_an_answer_gives_its_sentence_and_the_one_after(ferry_index, embedder, answering):
    first = _chat(ferry_index, embedder, answering, "What time does the night ferry leave?")
    assert first.answer.answer is not None and "23:40" in first.answer.answer
    why = _chat(ferry_index, embedder, answering, "What time does the night ferry leave?", "Why is that?")
    assert why.answer.answer is not None and "waits for the last train" in why.answer.answer
    assert "kiosk" not in why.answer.answer  # another section is not the reason
    span, cited = why.answer.answer_span, why.answer.citations[0]
    assert span is not None and cited.doc_id == span.doc_id == "ferries"
    text = ferry_index.documents["ferries"].source_text[span.start : span.end]  # offsets into the file as written
    assert "23:40" in text and "last train" in text


def test_why_after_an_abstention_is_not_a_reason(ferry_index, embedder, answering):
    assert _chat(ferry_index, embedder, answering, "Which airline flies to the island?").answer.answer is None
    why = _chat(ferry_index, embedder, answering, "Which airline flies to the island?", "Why?")
    assert why.answer.answer is None or "last train" not in why.answer.answer
