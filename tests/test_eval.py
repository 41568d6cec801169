import json
import os
import subprocess
import sys

import pytest

from rag.evaluation import Question, answer_correct, check, ir_metrics, load_questions, score, summarize, validate_questions

from .conftest import ROOT


def _cit(doc, text, start=0):
    return {"doc_id": doc, "title": "", "section": "", "start": start, "end": start + len(text), "text": text, "score": 1.0}


def test_metrics_by_hand():
    q1 = Question("1", "q?", ("Rapid Response",), ("a",), "table")
    q2 = Question("2", "q?", ("Poland",), ("b",), "fact")
    q3 = Question("3", "q?", (), ("a",), "unanswerable")
    o1 = score(
        q1,
        "Enhancement of Rapid Response forces",
        [_cit("a", "x"), _cit("a", "Belgium | Enhancement of Rapid Response forces |", 10)],
        0.01,
    )
    o2 = score(q2, None, [_cit("c", "Poland")], 0.02)  # right words, wrong document: not a hit
    o3 = score(q3, None, [_cit("a", "x")], 0.03)
    assert (o1.correct, o1.hit1, o1.hit5, o1.rr, o1.hit_budget) == (True, False, True, 0.5, True)
    assert (o2.correct, o2.hit5, o2.first_citation_gold_doc) == (False, False, False)
    s = summarize([o1, o2, o3])
    assert s["answer_accuracy"] == 0.5 and s["hit@5"] == 0.5 and s["mrr@5"] == 0.25
    assert s["abstention"] == 1.0 and s["false_abstention"] == 0.5
    assert ir_metrics([o1, o2, o3]) == {"Success@1": 0.0, "Success@5": 0.5, "RR@5": 0.25}
    # results.jsonl carries the confidence, so a threshold can be studied from the rows alone.
    row = score(q1, "x", [_cit("a", "x")], 0.01, confidence=0.123456).to_dict()
    assert row["confidence"] == 0.1235 and o2.to_dict()["confidence"] is None


def test_long_answers_and_context_budget_cannot_win_by_size():
    assert not answer_correct("Poland " + "x" * 300, ["Poland"])
    q = Question("1", "q?", ("needle",), ("a",), "fact")
    o = score(q, "needle", [_cit("a", "y" * 1200 + " needle")], 0.0)
    assert o.hit5 and not o.hit_budget


def test_thresholds():
    assert check({"answer_accuracy": 0.9, "false_abstention": 0.02}, {"answer_accuracy": 0.85, "max:false_abstention": 0.05}) == []
    assert len(check({"answer_accuracy": 0.8, "false_abstention": 0.2}, {"answer_accuracy": 0.85, "max:false_abstention": 0.05})) == 2


def test_every_registered_set_is_valid_against_its_corpus():
    from rag.corpus import load_corpus
    from rag.eval_sets import load_registry, set_questions
    from rag.evaluation import load_conversations

    registry = load_registry(ROOT / "eval" / "sets" / "sets.toml")
    local = [s for s in registry.sets if not s.external]
    assert {s.corpus for s in local} >= {"seed"}
    docs_of: dict[str, dict[str, str]] = {}
    for s in local:
        assert (ROOT / s.file).exists(), s.file
        docs = docs_of.setdefault(s.corpus, {d.id: d.text for d in load_corpus(ROOT / registry.corpus(s))})
        if s.kind == "conversation":
            for c in load_conversations(ROOT / s.file):
                assert all(d in docs for d in c.docs) and any(a.lower() in docs[d].lower() for a in c.answers for d in c.docs), c.id
        else:
            assert validate_questions(set_questions(registry, s), docs) == [], s.name
    main = load_questions(ROOT / "eval" / "sets" / "seed-dev.jsonl")
    types = [q.type for q in main]
    assert len(main) >= 80 and types.count("unanswerable") >= 12 and types.count("paraphrase") >= 15
    assert types.count("list") >= 10 and types.count("multi-doc") >= 5


def test_auroc_counts_ties_half():
    from rag.evaluation import auroc

    assert auroc([0.9, 0.8, 0.1], [True, True, False]) == 1.0
    assert auroc([0.5, 0.5], [True, False]) == 0.5
    assert auroc([0.2, 0.9, 0.4, 0.4], [True, False, True, False]) == 0.125  # one tie among four pairs


def test_an_empty_doc_means_no_document(tmp_path):
    f = tmp_path / "q.jsonl"
    f.write_text(
        '{"id": "u1", "question": "Who is it?", "answers": [], "doc": ""}\n'
        '{"id": "a1", "question": "Which?", "answers": ["x"], "doc": ["", "d"]}\n'
    )
    u, a = load_questions(f)
    assert u.docs == () and u.type == "unanswerable" and a.docs == ("d",)
    assert validate_questions([u], {}) == []


@pytest.mark.slow
def test_a_broken_retrieval_setting_fails_the_gate(tmp_path):
    """The CI gate has teeth: searching only one passage deep (RAG_DEPTH=1) must fail --check."""
    env = {**os.environ, "RAG_DEPTH": "1", "RAG_MODE": "bm25", "RAG_INDEX": str(tmp_path / "index")}
    r = subprocess.run(
        [sys.executable, "-m", "rag", "eval", "eval/sets/seed-dev.jsonl", "--check", "--out", str(tmp_path / "out")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 1, r.stderr
    assert "check failed: hit@5" in r.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())["summary"]["bm25"]
    assert summary["hit@5"] < 0.9


def test_progress_says_the_rate_and_the_time_left():
    from rag.progress import Rate

    t = iter([0.0, 10.0, 20.0])
    r = Rate(clock=lambda: next(t))
    assert r.describe(0, 1000, "texts") == "0/1000 texts"
    assert r.describe(100, 1000, "texts") == "100/1000 texts (10 texts/s, about 2 min left)"
    assert r.describe(200, 1000, "texts") == "200/1000 texts (10 texts/s, about 1 min left)"
