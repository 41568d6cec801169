"""Small text utilities shared by chunking, BM25 and answer selection: sentences and terms."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

import Stemmer

_ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "st",
    "no",
    "vs",
    "etc",
    "e.g",
    "i.e",
    "inc",
    "ltd",
    "jr",
    "sr",
    "gen",
    "col",
    "lt",
    "sgt",
    "u.s",
    "u.k",
    "u.n",
}

# End of a sentence: punctuation, optional closing quote, then whitespace, or a missing space
# before a capitalised word ("Chile.The").
_BOUNDARY = re.compile(r"[.!?][\"”’)\]]?(?:\s+|(?=[A-Z][a-z]))")


def sentence_spans(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text`` (whitespace trimmed), shifted by ``offset``."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        end = m.end()
        before = text[start : m.start() + 1]
        word = re.search(r"([\w.]+)\.$", before)
        token = word.group(1).lower() if word else ""
        if token in _ABBREVIATIONS or re.fullmatch(r"[a-z]", token) or re.fullmatch(r"(?:[a-z]\.)+[a-z]", token):
            continue  # "U.S. officials", "Mr. Smith"
        if m.end() < len(text) and not re.match(r"\s", text[m.end() - 1 : m.end()]) and text[m.start() - 1 : m.start()].isupper():
            continue  # "U.S.Pledge"-like run-ons after an initialism are not boundaries
        if text[m.start()] == "!" and m.end() < len(text) and text[m.end()].islower():
            continue  # "BookIt! is what ...", "Yahoo! reported": a name's "!" (after a full stop, lower case
            # does start sentences in careless text: "... center. the progress of ...")
        _append(spans, text, start, end, offset)
        start = end
    _append(spans, text, start, len(text), offset)
    return spans


def _append(spans: list[tuple[int, int]], text: str, start: int, end: int, offset: int) -> None:
    seg = text[start:end]
    lead = len(seg) - len(seg.lstrip())
    trail = len(seg) - len(seg.rstrip())
    if end - trail > start + lead:
        spans.append((offset + start + lead, offset + end - trail))


STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself no nor
    not now of off on once only or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves also may might
    must shall s t d ll re ve m o y according""".split()
)

# Words that say what kind of answer is wanted, not what it is about.
QUESTION_WORDS = frozenset("what which who whom whose when where why how many much does do did is are was were name list".split())

_TERM = re.compile(r"[\w][\w'’-]*\w|\w", re.UNICODE)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    return [w.lower().replace("’", "'").removesuffix("'s") for w in _TERM.findall(text)]


def terms(text: str) -> list[str]:
    """Stemmed content terms: the vocabulary of BM25 and of lexical answer features."""
    ws = [w for w in words(text) if w not in STOPWORDS and not (len(w) == 1 and not w.isdigit())]
    return _stemmer().stemWords(ws) if ws else []


def question_terms(question: str) -> list[str]:
    ws = [w for w in words(question) if (w not in STOPWORDS and w not in QUESTION_WORDS and len(w) > 1) or w.isdigit()]
    return _stemmer().stemWords(ws) if ws else []


# A word as a name is written: "U.S.", "Okafor’s", "Jean-Claude". One pattern, so every name test splits alike.
NAME_WORD = r"[A-Za-z][\w'’.-]*"
_MID_SENTENCE_WORD = re.compile(r"(?<=[\w,;] )(" + NAME_WORD + ")")


def capitalised_names(texts: Iterable[str]) -> frozenset[str]:
    """Words the texts capitalise inside sentences more often than not ("Chile", "NATO"; not
    "Military", of "Enhanced Military Cooperation"), lower-cased: names, without a tagger."""
    cap: dict[str, int] = {}
    low: dict[str, int] = {}
    for text in texts:
        for m in _MID_SENTENCE_WORD.finditer(text):
            w = m.group(1).rstrip(".")  # "Germany." at a sentence's end; "U.S" stays one word
            d = cap if w[0].isupper() else low
            d[w.lower()] = d.get(w.lower(), 0) + 1
    return frozenset(w for w, n in cap.items() if n > low.get(w, 0) and w not in STOPWORDS)


def name_key(word: str) -> str:
    """A capitalised word as ``capitalised_names`` keys it, without its possessive or final stop."""
    return word.rstrip(".").lower().replace("’", "'").removesuffix("'s").removesuffix("'")


# Continents, which news names like countries: pycountry has countries only.
_REGIONS = ("Africa", "America", "Americas", "Antarctica", "Arctic", "Asia", "Europe", "Oceania")


@lru_cache(maxsize=1)
def _places() -> tuple[frozenset[str], frozenset[str]]:
    import pycountry

    words: set[str] = {name_key(r) for r in _REGIONS}
    codes: set[str] = set()
    for c in pycountry.countries:
        for n in (c.name, getattr(c, "common_name", ""), getattr(c, "official_name", "")):
            words |= {name_key(w) for w in re.findall(NAME_WORD, n) if w[0].isupper()}
        codes |= {c.alpha_2, c.alpha_3}
    return frozenset(words), frozenset(codes)


def is_place_word(word: str) -> bool:
    """Whether a capitalised word is (part of) a country's or continent's name: "Lanka", "Sri",
    "United", "Europe", or a country code written in capitals ("US", "U.S."; not "Ben" for Benin).
    From ISO 3166 (pycountry), so a name test can tell a country from a person without a tagger."""
    words, codes = _places()
    return name_key(word) in words or word.replace(".", "").removesuffix("'s").removesuffix("’s") in codes
