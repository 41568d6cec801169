"""The years, numbers and ordinals a question sets, which a passage must state for its answer to be the
answer: "the salary cap in 2025" is not answered by the passage that gives the cap "as of 2024", nor
"the toll in lane 4" by the one about lane 2, nor "the third partner" by the one about the second.

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


# Ordinals from "second": questions say "first" where passages say "began", "initially", "the earliest".
# Before a capital an ordinal is part of a name ("the Second World War"; "World War II" in the passage);
# after "a", "per" or "one", "second" is the unit of time.
_ORDINALS = ("second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh", "twelfth")
_ORDINAL = re.compile(rf"(?<!\ba )(?<!\bper )(?<!\bone )\b({'|'.join(_ORDINALS)})\b(?!\s+(?-i:[A-Z]))", re.I)
_ORDINAL_DIGITS = {w: f"{i}{'nd' if i == 2 else 'rd' if i == 3 else 'th'}" for i, w in enumerate(_ORDINALS, start=2)}


@dataclass(frozen=True)
class Constraint:
    kind: str  # "year" | "number" | "ordinal"
    text: str  # as the question writes it


def constraints(question: str) -> list[Constraint]:
    years = [Constraint("year", y) for y in _YEAR.findall(question)]
    seen = {c.text for c in years}
    numbers = [Constraint("number", n) for n in _NUMBER.findall(question) if n not in seen]
    ordinals = [Constraint("ordinal", w.lower()) for w in _ORDINAL.findall(question)]
    return list(dict.fromkeys(years + numbers + ordinals))


def met(c: Constraint, text: str) -> bool:
    """Whether ``text`` states the constraint: the same digits (not inside a longer number), or the number spelled out."""
    if c.kind == "ordinal":
        return re.search(rf"\b({c.text}|{_ORDINAL_DIGITS[c.text]})\b", text, re.I) is not None
    if re.search(rf"(?<![\d.,]){re.escape(c.text)}(?![\d]|[.,]\d)", text):
        return True
    spelled = _SPELLED.get(c.text)
    return spelled is not None and re.search(rf"\b{spelled}\b", text, re.I) is not None


def unmet(question: str, text: str, positional: bool = False) -> list[Constraint]:
    """The question's years, numbers and ordinals ``text`` does not state. For a list item or a table row
    (``positional``) an ordinal may be its place ("the third step on the list"), which no text states."""
    return [c for c in constraints(question) if not (positional and c.kind == "ordinal") and not met(c, text)]
