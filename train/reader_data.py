"""Build (question, sentence, label) pairs for the answer reader from SQuAD (no test articles)."""

from __future__ import annotations

import functools
import json
import random
import re
from pathlib import Path

from rag.text import STOPWORDS, sentence_spans, terms
from rag.train import answer_sentence_overlap


def _sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def _overlap(q: set[str], s: str) -> int:
    return len(q & set(terms(s)))


def _gold_overlap(q: dict, corpus: dict[str, str]) -> float:
    return answer_sentence_overlap(q["question"], q["answers"], corpus[q["gold_doc"]])


# A name: capitalised words in a row ("New York City"); a year; a number. The first word of a question
# is capitalised by position, not by being a name.
_NAME = re.compile(r"(?<![\w'’-])[A-Z][\w'’-]*(?: [A-Z][\w'’-]*)*")
_YEAR = re.compile(r"(?<![\w.,])(1[0-9]{3}|20[0-9]{2})(?![\w.,]|[.,]\d)")
_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)?(?![\w]|[.,]\d)")


def _names(text: str) -> set[str]:
    """Capitalised phrases inside sentences (a capital after a full stop says nothing)."""
    out = set()
    for m in _NAME.finditer(text):
        if not re.search(r"[\w,;] $", text[max(0, m.start() - 2) : m.start()]):
            continue
        words = m.group(0).split()
        while words and words[0].lower() in STOPWORDS:
            words = words[1:]  # "The Normans" -> "Normans"
        if words and not (len(words) == 1 and (len(words[0]) < 3 or words[0].lower().startswith("no"))):
            out.add(" ".join(words))
    return out


def swapped(question: str, sentence: str, article: str, rng: random.Random) -> str | None:
    """``question`` with one of its names, years or numbers that ``sentence`` states swapped for another
    of the same kind from the same article that ``sentence`` does not state: a question the sentence no
    longer answers, though it still shares nearly every word ("mentioned but not given"). None when
    the question has nothing to swap."""
    body = question.split(" ", 1)[1] if " " in question else ""
    kinds = []
    for rx in (_YEAR, _NUMBER):
        asked = [m.group(0) for m in rx.finditer(body) if m.group(0) in sentence]
        pool = sorted({m.group(0) for m in rx.finditer(article)} - {m.group(0) for m in rx.finditer(sentence)})
        if asked and pool:
            kinds.append((asked, pool))
    asked_names = [n for n in _names(body) if _states(sentence, n)]
    low = (sentence + " " + question).lower()
    # a plain substring test first: the word-bounded one only for what it lets through
    name_pool = sorted(n for n in _article_names(article) if n.lower() not in low or not (_states(sentence, n) or _states(question, n)))
    if asked_names and name_pool:
        kinds.append((asked_names, name_pool))
    if not kinds:
        return None
    asked, pool = rng.choice(kinds)
    old = rng.choice(asked)
    # not a name sharing a word with the one it replaces ("Alaska" for "Southern Alaska")
    pool = [p for p in pool if not set(p.lower().split()) & set(old.lower().split())]
    return re.sub(rf"(?<![\w'’-]){re.escape(old)}(?![\w'’-])", rng.choice(pool), question, count=1) if pool else None


@functools.lru_cache(maxsize=64)
def _article_names(article: str) -> frozenset[str]:
    return frozenset(_names(article))


def _states(text: str, phrase: str) -> bool:
    return re.search(rf"(?<![\w'’-]){re.escape(phrase)}(?![\w'’-])", text, re.I) is not None


def pairs_from(
    questions_path: Path,
    corpus_path: Path,
    articles: set[str] | None,
    n_questions: int,
    seed: int,
    unanswerable_negatives: int = 2,
    paraphrase_bias: float = 0.0,
) -> list[tuple[str, str, int]]:
    """``(question, sentence, label)`` pairs: each answerable question's answer sentence (label 1), its
    two sentences sharing the most words with the question and the closest sentence of another
    paragraph of the same article (the "mentioned but not given" case); an unanswerable question's
    closest sentences (label 0).

    ``paraphrase_bias`` > 0 prefers questions that share few words with their answer's sentence:
    SQuAD's questions were written looking at the paragraph and mostly copy its words, so a reader
    trained on a uniform sample learns word overlap; users' questions paraphrase."""

    rng = random.Random(seed)
    corpus = {}
    by_article: dict[str, list[str]] = {}
    for line in corpus_path.open(encoding="utf-8"):
        r = json.loads(line)
        corpus[r["id"]] = r["text"]
        by_article.setdefault(r["id"].rsplit("#", 1)[0], []).append(r["id"])
    qs = [json.loads(line) for line in questions_path.open(encoding="utf-8")]
    if articles is not None:
        qs = [q for q in qs if q["gold_doc"].rsplit("#", 1)[0] in articles]
    rng.shuffle(qs)
    if paraphrase_bias > 0:
        keys = {id(q): _gold_overlap(q, corpus) * paraphrase_bias + rng.random() for q in qs}
        qs.sort(key=lambda q: keys[id(q)])
    out: list[tuple[str, str, int]] = []
    used = 0
    for q in qs:
        if used >= n_questions:
            break
        text = corpus[q["gold_doc"]]
        sents = _sentences(text)
        if len(sents) < 2:
            continue
        qt = set(terms(q["question"]))
        answers = [a for a in q["answers"] if a.strip()]
        if answers:
            pos = [s for s in sents if any(a in s for a in answers)]
            if not pos:
                continue  # the answer crosses a sentence boundary
            neg = [s for s in sents if s not in pos]
            out.append((q["question"], pos[0], 1))
            rng.shuffle(neg)
            neg.sort(key=lambda s: -_overlap(qt, s))
            out += [(q["question"], s, 0) for s in neg[:2]]
        else:
            ranked = sorted(sents, key=lambda s: -_overlap(qt, s))
            out += [(q["question"], s, 0) for s in ranked[:unanswerable_negatives]]
        # "Mentioned but not given": the closest sentence of another paragraph of the same article.
        others = [d for d in by_article[q["gold_doc"].rsplit("#", 1)[0]] if d != q["gold_doc"]]
        if others:
            cands = [s for d in rng.sample(others, min(6, len(others))) for s in _sentences(corpus[d])]
            cands = [s for s in cands if not any(a in s for a in answers)]
            if cands:
                out.append((q["question"], max(cands, key=lambda s: _overlap(qt, s)), 0))
        used += 1
    return out


def swap_pairs(questions_path: Path, corpus_path: Path, n_questions: int, seed: int) -> list[tuple[str, str, int]]:
    """Contrast pairs from a uniform sample of answerable questions: the answer sentence with its question
    (label 1) and with the question ``swapped`` (label 0), for the ``n_questions`` that have something
    to swap. The paraphrase-biased sample of ``pairs_from`` rarely has: its questions seldom share a
    name with their sentence."""
    rng = random.Random(seed)
    corpus: dict[str, str] = {}
    by_article: dict[str, list[str]] = {}
    for line in corpus_path.open(encoding="utf-8"):
        r = json.loads(line)
        corpus[r["id"]] = r["text"]
        by_article.setdefault(r["id"].rsplit("#", 1)[0], []).append(r["id"])
    qs = [json.loads(line) for line in questions_path.open(encoding="utf-8")]
    rng.shuffle(qs)
    out: list[tuple[str, str, int]] = []
    articles: dict[str, str] = {}
    made = 0
    for q in qs:
        if made >= n_questions:
            break
        answers = [a for a in q["answers"] if a.strip()]
        pos = [s for s in _sentences(corpus[q["gold_doc"]]) if any(a in s for a in answers)]
        if not pos:
            continue
        art = q["gold_doc"].rsplit("#", 1)[0]
        text = articles.setdefault(art, " ".join(corpus[d] for d in by_article[art]))
        if (sq := swapped(q["question"], pos[0], text, rng)) is not None:
            out += [(q["question"], pos[0], 1), (sq, pos[0], 0)]
            made += 1
    return out
