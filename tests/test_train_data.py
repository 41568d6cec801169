"""The training-pair builder of train/reader_data.py (no model needed)."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "train"))

from reader_data import pairs_from


def test_pairs_hold_the_answer_sentence_and_its_closest_negatives(tmp_path):
    text = (
        "The Joint Strike Fighter program involves the United States and Australia. "
        "This project develops the F-35 Lightning II. It first flew in 2006. Costs rose every year."
    )
    (tmp_path / "corpus.jsonl").write_text(
        json.dumps({"id": "Jets#0", "title": "Jets", "text": text})
        + "\n"
        + json.dumps({"id": "Jets#1", "title": "Jets", "text": "The program develops engines too."})
        + "\n"
    )
    (tmp_path / "q.jsonl").write_text(
        json.dumps({"id": "1", "question": "Which jet does the program develop?", "answers": ["F-35 Lightning II"], "gold_doc": "Jets#0"})
        + "\n"
        + json.dumps({"id": "2", "question": "Who paid for the program?", "answers": [], "gold_doc": "Jets#0"})
        + "\n"
    )
    pairs = pairs_from(tmp_path / "q.jsonl", tmp_path / "corpus.jsonl", None, 10, 0)
    answerable = [p for p in pairs if p[0].startswith("Which")]
    assert answerable[0] == ("Which jet does the program develop?", "This project develops the F-35 Lightning II.", 1)
    negatives = [s for _, s, label in answerable if label == 0]
    # two of its own paragraph, the one sharing most words first, and the closest of another paragraph
    assert negatives[0] == "The Joint Strike Fighter program involves the United States and Australia."
    assert "The program develops engines too." in negatives and len(negatives) == 3
    unanswerable = [p for p in pairs if p[0].startswith("Who")]
    assert unanswerable and all(label == 0 for _, _, label in unanswerable)
