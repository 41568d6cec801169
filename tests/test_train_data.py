"""The training-pair builders of train/reader_data.py (no model needed)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "train"))

from reader_data import answer_deleted  # noqa: E402


def test_answer_deleted_keeps_the_question_words_but_not_the_answer():
    s = "Secretary of Defense Pete Hegseth is set to embark on a diplomatic visit to Germany, Belgium, and Poland."
    assert answer_deleted(s, ["Germany, Belgium, and Poland", "Belgium"]) == \
        "Secretary of Defense Pete Hegseth is set to embark on a diplomatic visit."
    assert answer_deleted("The 1973 oil crisis began in October 1973 when OAPEC proclaimed an oil embargo.", ["October 1973"]) == \
        "The 1973 oil crisis began when OAPEC proclaimed an oil embargo."


def test_answer_deleted_refuses_when_an_answer_survives_or_too_little_is_left():
    # "1973" still occurs after "October 1973" is cut: the cut sentence would still answer.
    assert answer_deleted("It began in October 1973 and peaked in 1973.", ["October 1973", "1973"]) is None
    assert answer_deleted("Paris is the capital.", ["Paris"]) is None
    assert answer_deleted("No answer in this sentence at all, none.", ["Rome"]) is None
    # A cut subject does not leave a lower-case start behind.
    assert answer_deleted("Denver Broncos defeated the Carolina Panthers to earn their third title.", ["Denver Broncos"]) == \
        "Defeated the Carolina Panthers to earn their third title."


def test_dense_negatives_mix_the_closest_by_words_and_by_meaning():
    import numpy as np

    from reader_data import _Nearest

    # A toy embedder: the vector of a text is fixed by its first word, so "meaning" is chosen here.
    basis = {"q": [1.0, 0.0], "near": [0.9, 0.1], "far": [0.0, 1.0], "mid": [0.5, 0.5]}
    calls = []

    def embed(texts):
        calls.append(list(texts))
        v = np.array([basis[t.split()[0]] for t in texts], np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    near = _Nearest(embed)
    by_words = ["far but many shared words", "mid sentence", "near sentence"]
    assert near.mixed("q question", by_words, 2) == ["far but many shared words", "near sentence"]
    assert near.closest("q question", by_words) == "near sentence"
    # When the two orders agree, the second pick is the next by words.
    assert near.mixed("q question", ["near sentence", "mid sentence", "far x"], 2) == ["near sentence", "mid sentence"]
    assert near.mixed("q question", [], 2) == []
    # Each text is embedded once, however often it is asked about.
    flat = [t for c in calls for t in c]
    assert len(flat) == len(set(flat))


def test_previous_words_prefix_the_sentence_before_and_keep_the_answer_span(tmp_path):
    import json

    from reader_data import pairs_from

    text = ("The Joint Strike Fighter program involves the United States and Australia. "
            "This project develops the F-35 Lightning II. It first flew in 2006. Costs rose every year.")
    (tmp_path / "corpus.jsonl").write_text(json.dumps({"id": "Jets#0", "title": "Jets", "text": text}) + "\n")
    (tmp_path / "q.jsonl").write_text(json.dumps({"id": "1", "question": "Which jet does the program develop?",
                                                  "answers": ["F-35 Lightning II"], "gold_doc": "Jets#0"}) + "\n")
    pairs = pairs_from(tmp_path / "q.jsonl", tmp_path / "corpus.jsonl", None, 10, 0, previous_words=4)
    q, shown, label, a0, a1 = pairs[0]
    assert label == 1 and shown == "The Joint Strike Fighter: This project develops the F-35 Lightning II."
    assert shown[a0:a1] == "F-35 Lightning II"
    # The paragraph's first sentence has nothing before it and is read bare.
    negatives = [s for _, s, lab, _, _ in pairs if lab == 0]
    assert "The Joint Strike Fighter program involves the United States and Australia." in negatives
    assert "This project develops the: It first flew in 2006." in negatives or "It first flew in: Costs rose every year." in negatives
    assert pairs_from(tmp_path / "q.jsonl", tmp_path / "corpus.jsonl", None, 10, 0)[0][1] == "This project develops the F-35 Lightning II."
