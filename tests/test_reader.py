"""The shipped cross-encoder reader: real weights from models/reader, offline."""

import numpy as np
import pytest

from rag.reader import load_reader

from .conftest import ROOT

pytestmark = pytest.mark.slow

QUESTION = "Why does Poland refuse to send troops to Ukraine?"
ANSWER = "Poland, however, opposes sending troops due to low public support."
OTHERS = [
    "Britain and France are also prepared to send hundreds of soldiers, stationed away from the front line in the second stage.",
    "The Netherlands has already deployed 2 of 3 Patriot batteries to Poland.",
]


@pytest.fixture(scope="module")
def reader():
    r = load_reader(ROOT / "models" / "reader")
    if r is None:
        pytest.skip("models/reader is not installed")
    return r


def test_a_batch_scores_each_pair_as_it_would_alone(reader):
    # score() pads the pairs itself: padding must not change any pair's logit.
    batch = reader.score(QUESTION, [ANSWER] + OTHERS)
    alone = np.array([reader.score(QUESTION, [t])[0] for t in [ANSWER] + OTHERS])
    assert batch.shape == (3,)
    np.testing.assert_allclose(batch, alone, atol=1e-4)


def test_the_answering_sentence_scores_highest(reader):
    logits = reader.score(QUESTION, OTHERS + [ANSWER])
    assert int(np.argmax(logits)) == len(OTHERS)


def test_an_over_long_pair_is_truncated_to_the_trained_length(reader):
    long = " ".join([ANSWER] * 40)
    enc = reader.tok.encode(QUESTION, long)
    assert len(enc.ids) == reader.max_len
    assert np.isfinite(reader.score(QUESTION, [long])).all()


def test_a_question_longer_than_the_window_is_cut_not_an_error(reader):
    # Truncation takes tokens from the sentence only: a question filling the window alone used to raise.
    briefing = "Ahead of the ministers' meeting next week, and given everything reported so far, " * 8 + QUESTION
    logits = reader.score(briefing, [ANSWER] + OTHERS)
    assert logits.shape == (3,) and np.isfinite(logits).all()
    assert reader.score(QUESTION, [ANSWER])[0] == reader.score(reader._fit_question(QUESTION), [ANSWER])[0]  # short: untouched


def test_no_text_no_scores(reader):
    assert reader.score(QUESTION, []).shape == (0,)


def test_context_prefix_only_for_context_trained_readers(reader):
    from rag.reader import with_context

    assert with_context("Poland and the peace force in Ukraine today", ANSWER, 3) == "Poland and the: " + ANSWER
    assert with_context("", ANSWER, 8) == ANSWER and with_context("Heading", ANSWER, 0) == ANSWER
    # The shipped reader was trained on bare sentences: it must read them bare.
    assert reader.context_words == int(reader.info.get("context_words", 0)) == 0


def test_a_previous_words_reader_reads_the_sentence_before_in_the_same_passage(small_corpus, fake_embedder, tmp_path):
    from types import SimpleNamespace

    from rag.answer import _Scored, reader_texts
    from rag.session import open_index
    from rag.types import Hit

    idx, _ = open_index(small_corpus, tmp_path / "idx", fake_embedder)
    by_chunk = {c.id: c for c in idx.chunks}
    top = [_Scored(j, Hit(by_chunk[c.chunk_id], 1.0, 1), 0.0, {}) for j, c in enumerate(idx.candidates)]
    plain = reader_texts(idx, top, SimpleNamespace(context_words=0, previous_words=0))
    assert plain == [c.render for c in idx.candidates]
    shown = reader_texts(idx, top, SimpleNamespace(context_words=0, previous_words=2))
    for j, (c, s) in enumerate(zip(idx.candidates, shown)):
        before = idx.candidates[j - 1] if j else None
        if c.kind == "sentence" and before is not None and before.chunk_id == c.chunk_id and before.kind == "sentence":
            assert s == " ".join(before.render.split()[:2]) + ": " + c.render
        else:
            assert s == c.render  # a passage's first sentence, a row or an item: read as is
    assert shown != plain


def test_side_by_side_sessions_give_each_pair_its_own_logit(reader):
    # Pairs split over two sessions (RAG_READER_PARALLEL) must score exactly as one session reads them.
    side = load_reader(ROOT / "models" / "reader", parallel=2)
    assert len(side.sessions) == 2
    texts = [ANSWER] + OTHERS + [OTHERS[0] + " " + ANSWER]
    np.testing.assert_array_equal(side.score(QUESTION, texts), reader.score(QUESTION, texts))
    np.testing.assert_array_equal(side.score(QUESTION, [ANSWER]), reader.score(QUESTION, [ANSWER]))
