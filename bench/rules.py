"""What each rule of ``rag.rules`` earns, per corpus: the development sets answered with every rule on,
then, for each rule, the questions it touched answered again without it.

A rule earns its place by a gain (right answers plus right abstentions) on at least two corpora, one
of them not the seed articles, and a net gain over all three; a rule that pays on the seed articles
alone does not.

    .venv/bin/python bench/rules.py [--out docs/rules.md]          # ~20 min on 2 cores (SQuAD 2.0's 1,964 questions)
    .venv/bin/python bench/rules.py --quick                        # without SQuAD 2.0

A veto's effect is read from one traced run (the answer it vetoed, and whether another veto or the
threshold would have stopped it too); a pick rule's by asking the questions it fired on again with it
off.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, replace
from pathlib import Path

from rag.ask import ask
from rag.embedding import load_embedder
from rag.eval_sets import load_registry, set_questions
from rag.evaluation import Question, answer_correct
from rag.indexing import open_index
from rag.rules import PICKS, RULES, VETOES
from rag.settings import Settings

# corpus -> the development sets measured on it
GROUPS = {
    "seed": [f"seed-heldout-{n:02d}" for n in range(1, 17)] + ["seed-dev"],
    "squad": ["squad-dev-calibration", "squad2-calibration"],
    "handbook": ["tts-dev", "tts-test"],
}


@dataclass
class Outcome:
    question: Question
    right: bool  # a right answer, or an abstention on an unanswerable question
    trace: dict


def _right(q: Question, answer: str | None) -> bool:
    return answer_correct(answer, q.answers) if q.answerable else answer is None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, help="write the table as markdown here too")
    ap.add_argument("--quick", action="store_true", help="leave out SQuAD 2.0 (1,964 questions)")
    args = ap.parse_args()
    registry = load_registry()
    s = Settings()
    embedder = load_embedder(s.model, backend=s.backend)
    retrieval, base = s.retrieval(), s.answering()
    gains: dict[str, dict[str, int]] = {r: {} for r in RULES}
    counts: dict[str, int] = {}
    for group, names in GROUPS.items():
        names = [n for n in names if not (args.quick and n == "squad2-calibration")]
        chosen = [e for e in registry.select(names, external=True) if Path(e.file).exists()]
        outcomes: list[tuple[object, Outcome]] = []
        t0 = time.perf_counter()
        for es in chosen:
            index, _ = open_index(registry.corpus(es), Path("index-eval") / es.corpus, embedder, s.chunker())
            for q in set_questions(registry, es):
                trace: dict = {}
                a = ask(index, embedder, q.question, retrieval=retrieval, answering=base, trace=trace)
                outcomes.append((index, Outcome(q, _right(q, a.answer), trace)))
        counts[group] = len(outcomes)
        for rule in RULES.values():
            delta = 0
            for index, o in outcomes:
                fired = rule.name in o.trace.get("fired", ())
                if not fired:
                    continue
                if rule in VETOES:
                    others = [n for n in o.trace["fired"] if n != rule.name and n in {v.name for v in VETOES}]
                    kept = not others and o.trace["unvetoed_confidence"] >= base.threshold
                    without = o.trace["unvetoed_text"] if kept else None
                else:
                    off = replace(base, disabled=frozenset({rule.name}))
                    without = ask(index, embedder, o.question.question, retrieval=retrieval, answering=off).answer  # type: ignore[arg-type]
                delta += int(o.right) - int(_right(o.question, without))
            gains[rule.name][group] = delta
        print(f"{group}: {len(outcomes)} questions in {time.perf_counter() - t0:.0f} s", flush=True)
    rows = [
        "| rule | kind | what it does | " + " | ".join(f"{g} ({counts[g]} q.)" for g in GROUPS) + " | earns its place |",
        "|---|---|---|" + "---:|" * len(GROUPS) + "---|",
    ]
    for rule in RULES.values():
        g = gains[rule.name]
        kind = "pick" if rule in PICKS else "veto"
        earns = sum(v > 0 for v in g.values()) >= 2 and any(g.get(c, 0) > 0 for c in GROUPS if c != "seed") and sum(g.values()) > 0
        rows.append(
            f"| {rule.name} | {kind} | {rule.purpose} | "
            + " | ".join(f"{g.get(c, 0):+d}" for c in GROUPS)
            + f" | {'yes' if earns else 'no'} |"
        )
    table = "\n".join(rows)
    print(table)
    if args.out:
        args.out.write_text(
            "# What each rule earns\n\nQuestions answered right (or abstained on, when unanswerable) with the rule, "
            "minus without it, on the development sets of each corpus (`bench/rules.py`). A rule earns its place by a "
            "gain on at least two corpora, one of them not the seed articles, and a net gain over all three.\n\n" + table + "\n"
        )


if __name__ == "__main__":
    main()
