"""Train the answer selector and the no-answer verifier on SQuAD 2.0 dev (by-article split).

Reproducible: fixed seeds, one command (``rag train``). The 35 articles are split once into
train / calibration / test (``eval/sets/squad2_split.json``); nothing is fit or tuned on test articles.
The selector is a logistic model over candidate features (label: the candidate holds a gold
answer); the verifier is a logistic model over the chosen candidate's features (label: the question
is answerable and the chosen candidate holds a gold answer), calibrated with isotonic regression on
the calibration split; its threshold is set there for a target false-abstention rate.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from rag.evaluation import Question, _norm, auroc
from rag.retrieval import RetrievalConfig, retrieve
from rag.scoring import FEATURES, AnswerModel, LinearModel, Scorer, candidate_features
from rag.splits import article_of, in_split
from rag.text import sentence_spans, terms

VERIFIER_FEATURES = FEATURES + ("margin",)


def _fit_lr(X: np.ndarray, y: np.ndarray, names: tuple[str, ...], C: float = 1.0) -> LinearModel:
    from sklearn.linear_model import LogisticRegression

    mean, scale = X.mean(0), X.std(0)
    scale[scale == 0] = 1.0
    lr = LogisticRegression(C=C, max_iter=2000, random_state=0)
    lr.fit((X - mean) / scale, y)
    return LinearModel(
        names, tuple(float(c) for c in lr.coef_[0]), float(lr.intercept_[0]), tuple(map(float, mean)), tuple(map(float, scale))
    )


def _contains_gold(text: str, golds) -> bool:
    t = _norm(text)
    return any(_norm(g) in t for g in golds)


def collect(
    index, embedder, questions: list[Question], k: int = 5, masked: bool = False, progress: Callable[[int, int], None] | None = None
):
    """Per question: the candidate features and which candidates hold a gold answer.

    With ``masked``, each answerable question is also asked with its gold paragraph removed from
    the results: the article still talks about the same things, but the fact is gone, which is
    the "mentioned but not given" case that a verifier has to learn to refuse."""
    scorer = Scorer(index)
    data = []
    for i, q in enumerate(questions):
        qvec = embedder.embed_query(q.question)
        hits = retrieve(index, qvec, q.question, k + 10, RetrievalConfig())
        variants = [(q, hits[:k])]
        if masked and q.answerable:
            kept = [h for h in hits if h.chunk.doc_id not in q.docs][:k]
            kept = [replace(h, rank=n + 1) for n, h in enumerate(kept)]
            variants.append((Question(q.id + ":masked", q.question, q.answers, q.docs, "masked"), kept))
        for qq, hs in variants:
            feats = candidate_features(scorer, qq.question, qvec, hs)
            labels = [qq.answerable and _contains_gold(index.candidates[j].text, qq.answers) for j, _, _ in feats]
            data.append((qq, feats, labels))
        if progress:
            progress(i + 1, len(questions))
    return data


def _choose(selector: LinearModel, feats):
    if not feats:
        return None
    logits = [selector.logit(f) for _, _, f in feats]
    order = np.argsort(logits)[::-1]
    best = int(order[0])
    f = dict(feats[best][2])
    f["margin"] = min(logits[best] - (logits[int(order[1])] if len(order) > 1 else logits[best] - 5.0), 5.0)
    return best, f


def verifier_rows(selector: LinearModel, data):
    X, y = [], []
    for _q, feats, labels in data:
        chosen = _choose(selector, feats)
        if chosen is None:
            X.append([0.0] * len(VERIFIER_FEATURES))
            y.append(0)
            continue
        best, f = chosen
        X.append([f[n] for n in VERIFIER_FEATURES])
        y.append(int(labels[best]))
    return np.array(X, dtype=float), np.array(y)


def train(
    index,
    embedder,
    questions: list[Question],
    split: dict,
    target_false_abstention: float = 0.05,
    max_train: int = 3000,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[AnswerModel, dict]:
    t0 = time.time()
    rng = random.Random(0)
    tr = in_split(questions, split, "train")
    cal = in_split(questions, split, "calibration")
    tr = rng.sample(tr, min(max_train, len(tr)))
    cb = (lambda stage: lambda d, n: progress(stage, d, n)) if progress else (lambda stage: None)
    train_data = collect(index, embedder, tr, masked=True, progress=cb("features (train)"))
    cal_data = collect(index, embedder, cal, progress=cb("features (calibration)"))
    # Selector: every candidate of answerable training questions.
    sel_data = [(q, feats, labels) for q, feats, labels in train_data if q.answerable and q.type != "masked"]
    Xs = np.array([[f[n] for n in FEATURES] for q, feats, labels in sel_data for _, _, f in feats])
    ys = np.array([int(label) for q, feats, labels in sel_data for label in labels])
    selector = _fit_lr(Xs, ys, FEATURES)
    Xv, yv = verifier_rows(selector, train_data)
    verifier = _fit_lr(Xv, yv, VERIFIER_FEATURES)
    # Calibration on held-out articles: isotonic map from raw probability to P(correct answer).
    from sklearn.isotonic import IsotonicRegression

    Xc, yc = verifier_rows(selector, cal_data)
    raw = np.array([verifier.prob(dict(zip(VERIFIER_FEATURES, row))) for row in Xc])
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, yc)
    xs = np.linspace(0, 1, 101)
    ys_ = iso.predict(xs)
    calibrated = iso.predict(raw)
    # Threshold: the largest one that wrongly abstains on at most the target share of answerable questions.
    answerable = np.array([q.answerable for q, _, _ in cal_data])
    conf_ans = np.sort(calibrated[answerable])
    threshold = float(conf_ans[int(np.floor(target_false_abstention * len(conf_ans)))]) if len(conf_ans) else 0.5
    threshold = max(threshold - 1e-6, 0.0)
    model = AnswerModel(selector, verifier, tuple(map(float, xs)), tuple(map(float, ys_)), threshold)
    report = {
        "train_questions": len(tr),
        "calibration_questions": len(cal),
        "selector_train_candidates": len(ys),
        "verifier_auroc_calibration_raw": auroc(raw, (answerable).astype(int)),
        "threshold": threshold,
        "target_false_abstention": target_false_abstention,
        "seconds": round(time.time() - t0, 1),
    }
    return model, report


def answer_sentence_overlap(question: str, answers, text: str) -> float:
    """Share of the question's terms found in the first sentence of ``text`` that holds an answer
    (1.0 when none does): how much a question copies its source rather than paraphrasing it."""
    qt = set(terms(question))
    answers = [a for a in answers if a.strip()]
    for a, b in sentence_spans(text):
        if qt and any(g in text[a:b] for g in answers):
            return len(qt & set(terms(text[a:b]))) / len(qt)
    return 1.0


def gold_overlap(index, q: Question) -> float:
    doc = index.documents.get(q.docs[0]) if q.docs else None
    return answer_sentence_overlap(q.question, q.answers, doc.text) if doc is not None else 1.0


def fit_reader_verifier(
    index,
    embedder,
    model: AnswerModel,
    reader,
    questions: list[Question],
    split: dict,
    target_false_abstention: float = 0.05,
    progress=None,
    margin: float = 1.0,
    combiner_max_overlap: float = 1.0,
    reads: int = 2,
) -> tuple[AnswerModel, dict]:
    """Fit the verifier that uses the reader's scores, on the calibration articles (the reader never saw them).

    Half of the calibration articles fit the logistic model, the other half its isotonic calibration and
    the abstention threshold, so no number is chosen on the data that set it.

    The combiner of selector and reader logits is fitted on the reader's candidates (as read at run
    time: within ``margin``) of the questions that share
    at most ``combiner_max_overlap`` of their terms with their answer's sentence. SQuAD's questions
    mostly copy the paragraph (median 0.67), ours paraphrase (median 0.43); on all of SQuAD the
    selector weighs 1.5x the reader, on the part at most 0.5 the reader weighs 1.5x the selector
    (measured, not the default: MODEL_CARD.md)."""
    from sklearn.isotonic import IsotonicRegression

    from rag.answer import READER_FEATURES, reader_candidates, rerank
    from rag.scoring import score_candidates

    cal = in_split(questions, split, "calibration")
    arts = sorted({article_of(q.docs[0]) for q in cal})
    fit_arts = set(arts[::2])
    scorer = Scorer(index, model)
    rows: list[tuple[bool, bool, dict]] = []  # (fit half?, natural answerable?, features + label)
    pick_X: list[list[float]] = []  # (selector logit, reader logit) per candidate, fit half
    pick_y: list[int] = []
    for i, q in enumerate(cal):
        qvec = embedder.embed_query(q.question)
        hits = retrieve(index, qvec, q.question, 15, RetrievalConfig())
        variants = [(q, hits[:5])]
        if q.answerable:
            kept = [replace(h, rank=n + 1) for n, h in enumerate([h for h in hits if h.chunk.doc_id not in q.docs][:5])]
            variants.append((Question(q.id + ":masked", q.question, q.answers, q.docs, "masked"), kept))
        for qq, hs in variants:
            scored = score_candidates(scorer, qq.question, qvec, hs)
            if not scored:
                continue
            n = reads
            if (
                qq.type != "masked"
                and qq.answerable
                and article_of(q.docs[0]) in fit_arts
                and gold_overlap(index, qq) <= combiner_max_overlap
            ):
                top = reader_candidates(scored, n, margin)
                logits = reader.score(qq.question, [index.candidates[c.j].render for c in top])
                for c, r in zip(top, logits):
                    pick_X.append([c.score, float(r)])
                    pick_y.append(int(_contains_gold(index.candidates[c.j].text, qq.answers)))
            best = rerank(scorer, qq.question, scored, reader, n, margin)
            label = qq.answerable and _contains_gold(index.candidates[best.j].text, qq.answers)
            rows.append((article_of(q.docs[0]) in fit_arts, qq.type != "masked" and qq.answerable, {**best.features, "_y": float(label)}))
        if progress:
            progress(i + 1, len(cal))
    fit = [r for r in rows if r[0]]
    hold = [r for r in rows if not r[0]]
    X = np.array([[f[n] for n in READER_FEATURES] for _, _, f in fit])
    y = np.array([int(f["_y"]) for _, _, f in fit])
    verifier = _fit_lr(X, y, READER_FEATURES)
    raw = np.array([verifier.prob(f) for _, _, f in hold])
    yh = np.array([int(f["_y"]) for _, _, f in hold])
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, yh)
    xs = np.linspace(0, 1, 101)
    calibrated = iso.predict(raw)
    natural = np.array([n for _, n, _ in hold])
    conf_ans = np.sort(calibrated[natural])
    threshold = float(conf_ans[int(np.floor(target_false_abstention * len(conf_ans)))]) - 1e-6 if len(conf_ans) else 0.5
    report: dict[str, object] = {
        "reader_verifier_fit_rows": len(fit),
        "reader_verifier_holdout_rows": len(hold),
        "reader_verifier_auroc_holdout": auroc(raw, yh),
        "reader_threshold": threshold,
        "holdout_abstention_at_threshold": float(np.mean(calibrated[~natural] < threshold)) if (~natural).any() else None,
    }
    combiner = _fit_lr(np.array(pick_X), np.array(pick_y), ("selector", "reader"))
    report["reader_selector_coef"] = list(combiner.coef)
    report["reader_selector_rows"] = len(pick_y)
    report["reader_selector_max_overlap"] = combiner_max_overlap
    report["reader_reads"] = {"rerank": reads, "margin": margin}
    model = replace(
        model,
        reader_selector=combiner,
        reader_verifier=verifier,
        reader_calibration_x=tuple(map(float, xs)),
        reader_calibration_y=tuple(map(float, iso.predict(xs))),
        reader_threshold=max(threshold, 0.0),
    )
    return model, report


def save(model: AnswerModel, report: dict, path: Path) -> None:
    data = {
        "format": 1,
        "selector": model.selector.to_dict(),
        "verifier": model.verifier.to_dict(),
        "calibration": {"x": list(model.calibration_x), "y": list(model.calibration_y)},
        "threshold": model.threshold,
        "info": report,
    }
    if model.reader_verifier is not None:
        data["reader_verifier"] = model.reader_verifier.to_dict()
        data["reader_calibration"] = {"x": list(model.reader_calibration_x), "y": list(model.reader_calibration_y)}
        data["reader_threshold"] = model.reader_threshold
    if model.reader_selector is not None:
        data["reader_selector"] = model.reader_selector.to_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(path)


__all__ = ["collect", "fit_reader_verifier", "save", "train"]
