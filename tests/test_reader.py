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


def test_no_text_no_scores(reader):
    assert reader.score(QUESTION, []).shape == (0,)


def test_context_prefix_only_for_context_trained_readers(reader):
    from rag.reader import with_context

    assert with_context("Poland and the peace force in Ukraine today", ANSWER, 3) == "Poland and the: " + ANSWER
    assert with_context("", ANSWER, 8) == ANSWER and with_context("Heading", ANSWER, 0) == ANSWER
    # The shipped reader was trained on bare sentences: it must read them bare.
    assert reader.context_words == int(reader.info.get("context_words", 0)) == 0
