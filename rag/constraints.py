"""The years and numbers a question sets, which a passage must state for its answer to be the answer:
"the salary cap in 2025" is not answered by the passage that gives the cap "as of 2024", nor "the
toll in lane 4" by the one about lane 2.

Names and role words ("former", "runner-up") were measured too and are not checked: questions name
things in other words than their passages ("American" for "U.S.") far more often than they swap them."""

from __future__ import annotations

import re
from dataclasses import dataclass

_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
# a number standing alone: not part of a name or code ("18F", "F-35", "v2")
_NUMBER = re.compile(r"(?<![\w.-])(\d+(?:[.,]\d+)?)(?![\w]|[.,]\d)")
_SPELLED = {
    "1": "one",
    "2": "two",
    "3": "three",
    "4": "four",
    "5": "five",
    "6": "six",
    "7": "seven",
    "8": "eight",
    "9": "nine",
    "10": "ten",
    "11": "eleven",
    "12": "twelve",
}


@dataclass(frozen=True)
class Constraint:
    kind: str  # "year" | "number"
    text: str  # as the question writes it


def constraints(question: str) -> list[Constraint]:
    years = [Constraint("year", y) for y in _YEAR.findall(question)]
    seen = {c.text for c in years}
    return list(dict.fromkeys(years + [Constraint("number", n) for n in _NUMBER.findall(question) if n not in seen]))


def met(c: Constraint, text: str) -> bool:
    """Whether ``text`` states the constraint: the same digits (not inside a longer number), or the number spelled out."""
    if re.search(rf"(?<![\d.,]){re.escape(c.text)}(?![\d]|[.,]\d)", text):
        return True
    spelled = _SPELLED.get(c.text)
    return spelled is not None and re.search(rf"\b{spelled}\b", text, re.I) is not None


def unmet(question: str, text: str) -> list[Constraint]:
    """The question's years and numbers ``text`` does not state."""
    return [c for c in constraints(question) if not met(c, text)]
