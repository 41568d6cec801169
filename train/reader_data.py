"""Build (question, sentence, label) pairs for the answer reader from SQuAD (no test articles)."""

from __future__ import annotations

import json
import random
from pathlib import Path

from rag.text import sentence_spans, terms
from rag.train import answer_sentence_overlap


def _sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def _overlap(q: set[str], s: str) -> int:
    return len(q & set(terms(s)))


def _gold_overlap(q: dict, corpus: dict[str, str]) -> float:
    return answer_sentence_overlap(q["question"], q["answers"], corpus[q["gold_doc"]])


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
