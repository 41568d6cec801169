"""What kind of answer a question asks for ("how many": a number, "when": a date) and whether a
text is of that kind."""

from __future__ import annotations

import re

# "F-35" or "MQ-9" is a name, not a quantity.
NUMBER = re.compile(
    r"(?<![A-Za-z]-)\b\d[\d,.]*\b|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|hundreds|thousand|thousands|million|millions|billion|dozen|dozens|several|half|few|numerous)\b",
    re.I,
)
_MONTHS = r"(january|february|march|april|may|june|july|august|september|october|november|december)"
# Any 3-4 digit number may be a year (1562, 800s); a bare "2" or "3" is not a date.
_CALENDAR_PART = (
    rf"\b\d{{3,4}}s?\b|\b\d{{1,2}}(st|nd|rd|th)\b|\b{_MONTHS}\b|"
    r"\b(BC|BCE|AD|CE|monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|yesterday|tomorrow)\b"
)
# "What year / on what date": a calendar date, not just "during the talks".
_CALENDAR = re.compile(_CALENDAR_PART, re.I)
# "When": a calendar date, a time word, or a temporal preposition ("after the war").
_DATE = re.compile(
    _CALENDAR_PART + r"|\b(seconds?|hours?|minutes?|day|days|weeks?|months?|years?|decades?|century|centuries|era|"
    r"period|ages|spring|summer|autumn|fall|winter|after|before|during|until|since|beginning)\b",
    re.I,
)
_PERCENT = re.compile(r"\d\s*(%|percent|per cent)", re.I)
# A cell that is only an amount: "$0.80", "12%", "1,200", "3.5 bn".
QUANTITY = re.compile(r"^[~≈<>]?\s*[$€£¥]?\s*\d[\d,.\s]*(%|percent|[kmb]n?|million|billion|thousand)?$", re.I)
_MONEY = re.compile(r"[$€£]\s*\d|\b\d[\d,.]*\s*(dollars|euros|billion|million)\b", re.I)


# "72 hours", "2-3 business days": how long, not how much
_TIME_SPAN = re.compile(
    r"\b\d[\d,.]*(\s*[-–]\s*\d[\d,.]*)?\s*(business\s+|working\s+)?(seconds?|minutes?|hours?|days?|weeks?|months?|years?)\b",
    re.I,
)
_WHAT_IS = r"\bwhat (is|was|are|were|will be) (the |its |their )?"


def expected_type(question: str) -> str:
    q = question.lower().strip()
    if re.search(r"\bhow (many|much)\b|\bwhat (number|amount)\b|\bhow large\b", q):
        if re.search(r"\bhow much time\b", q):
            return "duration"
        return "money" if re.search(r"\bhow much\b.*\b(cost|spend|budget|pay|fund|worth)|\bbudget\b", q) else "number"
    if re.search(r"\bwhat (percentage|percent|share|proportion)\b", q):
        return "percent"
    if re.search(_WHAT_IS + r"([\w'’&-]+ ){0,4}(cost|price|budget|salary|revenue|fee|fare|charge|rate(?! of))s?\b", q):
        return "money"  # an amount: "the fare", "the mileage rate" (not "the rate of growth": that may be "slow")
    if re.search(_WHAT_IS + r"([\w'’&-]+ ){0,3}(phone|telephone|fax|serial|control|account|id) number\b", q):
        return "number"  # digits, not a word about them
    if re.search(r"\b(what|which) (year|date|day|month)\b|\bin (what|which) year\b", q):
        return "calendar"
    if re.search(r"\bhow long\b", q):
        return "duration"
    if re.search(r"^when\b[^,]*,\s*(what|which|who|whom|how|where|why|do|does|did|is|are|can|should|must|will)\b", q):
        # "When X happened, what ...?", "When using X, do I ...?": the when-clause sets the scene, it is not asked
        q = q.split(",", 1)[1].strip()
    if re.search(r"^when\b|\bwhen (did|will|was|is|does)\b", q):
        return "date"
    if re.search(
        r"^(who|whom|whose)\b|\b(who|whom) (is|was|are|were|will|has|had|did)\b"
        r"|\bwhich (person|official|leader|minister|general|officer)\b",
        q,
    ):
        return "person"
    return "other"


# Answer types a regular expression can check reliably ("person" cannot: "who" may ask for a country).
CHECKED_TYPES = ("number", "percent", "money", "date", "calendar", "duration")


def type_match(kind: str, text: str) -> float:
    if kind == "number":
        return 1.0 if NUMBER.search(text) else 0.0
    if kind == "percent":
        return 1.0 if _PERCENT.search(text) else 0.0
    if kind == "money":  # "5,000 francs" is an amount too, "72 hours" is not
        return 1.0 if _MONEY.search(text) or NUMBER.search(_TIME_SPAN.sub(" ", text)) else 0.0
    if kind == "date":
        return 1.0 if _DATE.search(text) else 0.0
    if kind == "calendar":
        return 1.0 if _CALENDAR.search(text) else 0.0
    if kind == "duration":  # "how long": a time span or a length, both carry a number or a time word
        return 1.0 if _DATE.search(text) or NUMBER.search(text) else 0.0
    if kind == "person":
        # A capitalised name that does not start the sentence.
        return 1.0 if re.search(r"(?<=[a-z,;] )[A-Z][a-z]+(?: [A-Z][a-z]+)+", text) else 0.0
    return 1.0
