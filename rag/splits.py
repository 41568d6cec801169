"""Article-level splits of SQuAD-style question sets: train, calibration and test articles never mix."""

from __future__ import annotations

import json
import random
from pathlib import Path

from rag.errors import InvalidInputError
from rag.evaluation import Question


def article_of(doc_id: str) -> str:
    return doc_id.rsplit("#", 1)[0]


def make_split(questions: list[Question], seed: int = 13, fractions=(0.6, 0.2, 0.2)) -> dict:
    articles = sorted({article_of(d) for q in questions for d in q.docs})
    random.Random(seed).shuffle(articles)
    n_train = round(len(articles) * fractions[0])
    n_cal = round(len(articles) * fractions[1])
    return {
        "seed": seed,
        "train": sorted(articles[:n_train]),
        "calibration": sorted(articles[n_train : n_train + n_cal]),
        "test": sorted(articles[n_train + n_cal :]),
    }


def read_split(path: Path) -> dict:
    """A split file: {"train": [article, ...], "calibration": [...], "test": [...]}."""
    try:
        split = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidInputError(f"{path} is not a JSON split file ({e})") from None
    if not isinstance(split, dict):
        raise InvalidInputError(f"{path} is not a JSON split file (it holds a {type(split).__name__}, not an object)")
    return split


def load_split(path: Path, questions: list[Question]) -> dict:
    if path.exists():
        return read_split(path)
    split = make_split(questions)
    path.write_text(json.dumps(split, indent=2) + "\n")
    return split


def in_split(questions: list[Question], split: dict, part: str) -> list[Question]:
    arts = set(split[part])
    return [q for q in questions if q.docs and article_of(q.docs[0]) in arts]
