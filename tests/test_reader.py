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


def test_side_by_side_sessions_give_each_pair_its_own_logit(reader):
    # Pairs split over two sessions (RAG_READER_PARALLEL) must score exactly as one session reads them.
    side = load_reader(ROOT / "models" / "reader", parallel=2)
    assert len(side.sessions) == 2
    texts = [ANSWER] + OTHERS + [OTHERS[0] + " " + ANSWER]
    np.testing.assert_array_equal(side.score(QUESTION, texts), reader.score(QUESTION, texts))
    np.testing.assert_array_equal(side.score(QUESTION, [ANSWER]), reader.score(QUESTION, [ANSWER]))


def test_under_concurrent_reads_each_question_reads_on_its_own_thread(reader):
    # Side by side only when alone: with other questions being read, the pairs stay on the caller's
    # thread (the other cores are busy), and every logit is the same either way.
    import threading

    side = load_reader(ROOT / "models" / "reader", parallel=2)
    texts = [ANSWER] + OTHERS
    want = reader.score(QUESTION, texts)
    used: list[int] = []
    real = side._pool.submit

    def counting(*a, **k):
        used.append(1)
        return real(*a, **k)

    side._pool.submit = counting
    side.score(QUESTION, texts)
    assert used  # alone: the helper reads
    used.clear()
    side._active = 1  # another question is being read
    try:
        got = side.score(QUESTION, texts)
    finally:
        side._active = 0
    assert not used
    np.testing.assert_array_equal(got, want)
    results: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda: results.append(side.score(QUESTION, texts))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert side._active == 0 and all((r == want).all() for r in results)
