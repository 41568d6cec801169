"""Build (question, sentence, label) pairs for the answer reader from SQuAD (no test articles)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np

from rag.reader import with_context
from rag.text import sentence_spans, terms
from rag.train import answer_sentence_overlap


def _sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def _overlap(q: set[str], s: str) -> int:
    return len(q & set(terms(s)))


def _gold_overlap(q: dict, corpus: dict[str, str]) -> float:
    return answer_sentence_overlap(q["question"], q["answers"], corpus[q["gold_doc"]])


_DANGLING = {"the", "a", "an", "of", "in", "on", "at", "to", "by", "for", "from", "with", "as", "and", "or", "was", "were",
             "is", "are", "be", "been", "than", "about", "nearly", "some", "its", "his", "her", "their", "called", "named"}


def answer_deleted(sentence: str, answers: list[str], min_words: int = 6) -> str | None:
    """``sentence`` without the longest gold answer in it (and the function words left dangling
    before it), or None when a gold answer survives or too little is left."""
    inside = [a for a in answers if a in sentence]
    if not inside:
        return None
    a = max(inside, key=len)
    i = sentence.index(a)
    left = sentence[:i].rstrip().split(" ")
    while left and left[-1].lower().strip(",;:(\"'") in _DANGLING:
        left.pop()
    right = sentence[i + len(a):].lstrip()
    out = " ".join(left).rstrip(",;: ")
    if right and right[0] not in ".,;:)":
        out += " "
    out = (out + right.lstrip(",;: ") if out.endswith(" ") else out + right).strip()
    out = out[:1].upper() + out[1:]  # a cut subject must not leave a lower-case start to learn from
    if len(out.split()) < min_words or any(g in out for g in answers):
        return None
    return out


class _Nearest:
    """Sentences closest to a question by embedding, with the vectors cached across questions."""

    def __init__(self, embed):
        self.embed = embed
        self.cache: dict[str, np.ndarray] = {}

    def _vectors(self, texts: list[str]) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if todo:
            for t, v in zip(todo, self.embed(todo)):
                self.cache[t] = v
        return np.stack([self.cache[t] for t in texts])

    def _order(self, question: str, sents: list[str]) -> list[str]:
        sims = self._vectors(sents) @ self._vectors([question])[0]
        return [sents[i] for i in np.argsort(-sims, kind="stable")]

    def closest(self, question: str, sents: list[str]) -> str:
        return self._order(question, sents)[0]

    def mixed(self, question: str, by_overlap: list[str], n: int) -> list[str]:
        """The best by word overlap, then the closest in meaning not yet taken, alternating."""
        if not by_overlap:
            return []
        by_meaning = self._order(question, by_overlap)
        out: list[str] = []
        for i in range(len(by_overlap)):
            for s in (by_overlap[i], by_meaning[i]):
                if s not in out and len(out) < n:
                    out.append(s)
        return out


def pairs_from(questions_path: Path, corpus_path: Path, articles: set[str] | None, n_questions: int, seed: int,
               unanswerable_negatives: int = 2, paraphrase_bias: float = 0.0, context_words: int = 0,
               deletion_negatives: float = 0.0, foreign_negatives: float = 0.0, embed=None,
               previous_words: int = 0) -> list[tuple[str, str, int, int, int]]:
    """``paraphrase_bias`` > 0 prefers questions that share few words with their answer's sentence:
    SQuAD's questions were written looking at the paragraph and mostly copy its words, so a reader
    trained on a uniform sample learns word overlap; users' questions paraphrase.

    Each pair is ``(question, sentence, label, answer_start, answer_end)``: the answer's character
    span inside a positive sentence (``-1, -1`` for negatives), for the span objective.

    ``context_words`` > 0 prefixes every sentence with that many words of its article's title
    (``rag.reader.with_context``), as the reader then sees our passages' section headings.

    ``previous_words`` > 0 prefixes every sentence with that many words of the sentence before it in
    its paragraph, as the reader then sees the sentence before each candidate of a passage: a fact is
    often given about what the previous sentence names ("This project develops the F-35").

    ``deletion_negatives``: the share of answerable questions that also get their answer's sentence
    with the answer cut out as a negative (``answer_deleted``): it keeps every word the question
    shares with it but no longer gives the fact, the "mentioned but not given" case.

    ``foreign_negatives``: the share of questions that also get a sentence of another article (the
    closest of 30 drawn at random) as a negative. Every other negative comes from the question's own
    article, so without these the reader never sees an unrelated pair (measured in session 7: they
    did not make it doubt "Who won the 2022 FIFA World Cup?", see models/MODEL_CARD.md).

    ``embed`` (texts -> unit vectors, e.g. the bundled MiniLM): half the negatives are then the
    sentences closest to the question in meaning rather than in words: one of the two from the
    question's paragraph, and the one from another paragraph. Overlap-mined negatives are what a
    word-counting selector confuses; at run time the reader also reads what the embedding ranks high,
    which for a paraphrased question shares few words and the topic."""

    rng = random.Random(seed)
    near = _Nearest(embed) if embed is not None else None
    corpus = {}
    titles: dict[str, str] = {}
    by_article: dict[str, list[str]] = {}
    for line in corpus_path.open(encoding="utf-8"):
        r = json.loads(line)
        corpus[r["id"]] = r["text"]
        titles[r["id"]] = r.get("title", "")
        by_article.setdefault(r["id"].rsplit("#", 1)[0], []).append(r["id"])
    previous: dict[str, str] = {}
    if previous_words > 0:
        for text in corpus.values():
            sents = _sentences(text)
            for before, sent in zip(sents, sents[1:]):
                previous.setdefault(sent, before)
    qs = [json.loads(l) for l in questions_path.open(encoding="utf-8")]
    if articles is not None:
        qs = [q for q in qs if q["gold_doc"].rsplit("#", 1)[0] in articles]
    rng.shuffle(qs)
    if paraphrase_bias > 0:
        keys = {id(q): _gold_overlap(q, corpus) * paraphrase_bias + rng.random() for q in qs}
        qs.sort(key=lambda q: keys[id(q)])
    out: list[tuple[str, str, int, int, int]] = []
    used = 0
    pool: list[tuple[str, str]] = []
    if foreign_negatives > 0:
        # Only articles the questions may come from: no test article's text is trained on, even as a negative.
        pool = [(d.rsplit("#", 1)[0], s) for d, text in corpus.items()
                if articles is None or d.rsplit("#", 1)[0] in articles for s in _sentences(text)]
    for q in qs:
        if used >= n_questions:
            break
        text = corpus[q["gold_doc"]]
        sents = _sentences(text)
        if len(sents) < 2:
            continue
        qt = set(terms(q["question"]))
        first = len(out)
        answers = [a for a in q["answers"] if a.strip()]
        if answers:
            pos = [s for s in sents if any(a in s for a in answers)]
            if not pos:
                continue  # the answer crosses a sentence boundary
            neg = [s for s in sents if s not in pos]
            a = next(a for a in answers if a in pos[0])
            start = pos[0].index(a)
            out.append((q["question"], pos[0], 1, start, start + len(a)))
            rng.shuffle(neg)
            neg.sort(key=lambda s: -_overlap(qt, s))
            for s in (near.mixed(q["question"], neg, 2) if near else neg[:2]):
                out.append((q["question"], s, 0, -1, -1))
            if deletion_negatives > 0 and rng.random() < deletion_negatives:
                cut = answer_deleted(pos[0], answers)
                if cut is not None:
                    out.append((q["question"], cut, 0, -1, -1))
        else:
            ranked = sorted(sents, key=lambda s: -_overlap(qt, s))
            for s in (near.mixed(q["question"], ranked, unanswerable_negatives) if near else ranked[:unanswerable_negatives]):
                out.append((q["question"], s, 0, -1, -1))
        # "Mentioned but not given": the closest sentence of another paragraph of the same article.
        others = [d for d in by_article[q["gold_doc"].rsplit("#", 1)[0]] if d != q["gold_doc"]]
        if others:
            cands = [s for d in rng.sample(others, min(6, len(others))) for s in _sentences(corpus[d])]
            cands = [s for s in cands if not any(a in s for a in answers)]
            if cands:
                pick = near.closest(q["question"], cands) if near else max(cands, key=lambda s: _overlap(qt, s))
                out.append((q["question"], pick, 0, -1, -1))
        if pool and rng.random() < foreign_negatives:
            art = q["gold_doc"].rsplit("#", 1)[0]
            drawn = [s for a, s in (pool[rng.randrange(len(pool))] for _ in range(30)) if a != art]
            if drawn:
                out.append((q["question"], max(drawn, key=lambda s: _overlap(qt, s)), 0, -1, -1))
        if context_words > 0 or previous_words > 0:
            for i in range(first, len(out)):
                qq, sent, label, a0, a1 = out[i]
                shown = (with_context(titles[q["gold_doc"]], sent, context_words) if context_words > 0
                         else with_context(previous.get(sent, ""), sent, previous_words))
                shift = len(shown) - len(sent)
                out[i] = (qq, shown, label, a0 + shift if a0 >= 0 else -1, a1 + shift if a1 >= 0 else -1)
        used += 1
    return out
