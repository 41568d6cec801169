"""Where wrong answers go wrong: for every answerable question answered wrongly, the first stage that
lost the gold answer.

- retrieval: no passage of the top five holds a gold string;
- candidates: the passages hold it, but no answer candidate of theirs does (it spans candidates);
- selection: a candidate holds it, but not one the reader read (its rank in the selector's order and
  how many logits behind the best are printed);
- reader: the reader read one that holds it and picked another;
- abstention: the pick holds it, and the service abstained;
- composition: the pick holds it, and the answer cut from it does not.

    .venv/bin/python bench/failures.py --set seed-dev --set tts-dev [--type paraphrase --type multi-doc]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

from rag.answer import reader_candidates
from rag.ask import ask
from rag.embedding import load_embedder
from rag.eval_sets import load_registry, set_questions
from rag.evaluation import answer_correct
from rag.indexing import open_index
from rag.retrieval import retrieve
from rag.scoring import score_candidates
from rag.settings import Settings

STAGES = ("retrieval", "candidates", "selection", "reader", "abstention", "composition")


def _holds(text: str, golds) -> bool:
    t = re.sub(r"\s+", " ", text).lower()
    return any(re.sub(r"\s+", " ", g).lower() in t for g in golds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", dest="sets", action="append", required=True)
    ap.add_argument("--type", dest="types", action="append", help="only questions of these types")
    args = ap.parse_args()
    registry = load_registry()
    s = Settings()
    embedder = load_embedder(s.model, backend=s.backend)
    retrieval, answering = s.retrieval(), s.answering()
    from rag.ask import _scorer

    for es in registry.select(args.sets):
        index, _ = open_index(registry.corpus(es), Path("index-eval") / es.corpus, embedder, s.chunker())
        scorer = _scorer(index, answering)
        stages: Counter[str] = Counter()
        by_type: dict[str, Counter[str]] = {}
        behind: list[tuple[int, float]] = []  # selection losses: (rank of the first gold candidate, logits behind)
        n = 0
        for q in set_questions(registry, es):
            if not q.answers or (args.types and q.type not in args.types):
                continue
            n += 1
            a = ask(index, embedder, q.question, retrieval=retrieval, answering=answering)
            if answer_correct(a.answer, q.answers):
                continue
            wanted = q.question
            qvec = embedder.embed_query(wanted)
            hits = retrieve(index, qvec, wanted, max(5, answering.candidate_passages), retrieval)
            scored = score_candidates(scorer, wanted, qvec, hits[: answering.candidate_passages])
            texts = [index.candidates[c.j].text for c in scored]
            read = reader_candidates(scored, answering.rerank, answering.rerank_margin)
            if not any(_holds(h.chunk.text, q.answers) for h in hits[:5]):
                stage = "retrieval"
            elif not any(_holds(t, q.answers) for t in texts):
                stage = "candidates"
            elif not any(_holds(index.candidates[c.j].text, q.answers) for c in read):
                stage = "selection"
                rank = next(i for i, t in enumerate(texts) if _holds(t, q.answers))
                behind.append((rank + 1, scored[0].score - scored[rank].score))
            elif a.answer_span is None:
                stage = "abstention"
            else:
                stage = "reader"
                doc = index.documents[a.answer_span.doc_id]
                picked = next(
                    (
                        c
                        for c in scored
                        if index.candidates[c.j].start <= a.answer_span.start < index.candidates[c.j].end
                        and index.candidates[c.j].doc_id == a.answer_span.doc_id
                    ),
                    None,
                )
                if (picked is not None and _holds(index.candidates[picked.j].text, q.answers)) or _holds(
                    doc.source_text[a.answer_span.start : a.answer_span.end], q.answers
                ):
                    stage = "composition"
            stages[stage] += 1
            by_type.setdefault(q.type, Counter())[stage] += 1
        wrong = sum(stages.values())
        print(f"{es.name}: {wrong} of {n} answerable questions wrong: " + ", ".join(f"{k} {stages[k]}" for k in STAGES if stages[k]))
        for t, c in sorted(by_type.items()):
            print(f"  {t}: " + ", ".join(f"{k} {c[k]}" for k in STAGES if c[k]))
        if behind:
            print("  selection: gold candidate's rank / logits behind the best: " + ", ".join(f"{r} / {d:.1f}" for r, d in sorted(behind)))


if __name__ == "__main__":
    main()
