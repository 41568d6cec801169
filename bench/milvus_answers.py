"""The seed sets' questions answered from the FAISS store and from the Milvus store: with an exact FLAT
index the answers must be the same, question by question; with HNSW the answer accuracy within 0.01
(issue 40's bars for the Milvus store).

    .venv/bin/python bench/milvus_answers.py                 # every seed set, with the reader, FLAT
    .venv/bin/python bench/milvus_answers.py --index HNSW    # Milvus's HNSW (M 16, ef 128)
    .venv/bin/python bench/milvus_answers.py --limit 20      # the first 20 questions of each set
    .venv/bin/python bench/milvus_answers.py --uri http://127.0.0.1:19530

Starts its own Milvus server (tests/milvus_server.py; `.ci/milvus-setup` installs it) in a temporary
data dir unless --uri names one. Both indexes are built from the seed corpus with the default model
and settings. Compared per question: the answer text, whether it abstained, the confidence (to 4
places) and the cited passages (document and offsets, in order); the citations' scores are compared apart:
FAISS and Milvus sum float32 products in their own order, so a score may differ in the 5th digit
(the largest difference is printed). Prints the counts, each store's answer accuracy (as rag eval
scores it) and every question that differs; exits 1 when the bar is missed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def answer_key(a: dict) -> tuple:
    cites = tuple((c["doc_id"], c["start"], c["end"]) for c in a["citations"])
    return a["answer"], a["abstained"], round(a["confidence"], 4), cites


def score_gap(x: dict, y: dict) -> float:
    return max((abs(c["score"] - d["score"]) for c, d in zip(x["citations"], y["citations"])), default=0.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--uri", help="a running Milvus server (default: start one in a temporary dir)")
    ap.add_argument("--limit", type=int, help="at most this many questions of each set")
    ap.add_argument("--k", type=int, default=5, help="passages per question (as rag eval)")
    ap.add_argument("--index", choices=["FLAT", "HNSW"], default="FLAT", help="the Milvus collection's vector index")
    args = ap.parse_args()

    server = data = None
    if args.uri is None:
        from tests.milvus_server import MilvusServer

        data = tempfile.mkdtemp(prefix="milvus-answers-")
        server = MilvusServer(data).start()
        args.uri = server.uri
        log(f"server {server.uri}, data {data}")
    try:
        return run(args)
    finally:
        if server is not None:
            server.close()
            shutil.rmtree(data, ignore_errors=True)


def run(args) -> int:
    from rag.ask import ask
    from rag.embedding import load_embedder
    from rag.eval_sets import load_registry, set_questions
    from rag.evaluation import score, summarize
    from rag.indexing import open_index
    from rag.settings import Settings
    from rag.stores.faiss import FaissStore
    from rag.stores.milvus import MilvusStore

    s = Settings()
    registry = load_registry(ROOT / "eval/sets/sets.toml")
    sets = [x for x in registry.select(None, external=False) if x.corpus == "seed" and x.kind == "qa"]
    corpus = registry.corpora["seed"]
    embedder = load_embedder(s.model, backend=s.backend, query_prefix=s.query_prefix, query_threads=s.threads)
    tmp = Path(tempfile.mkdtemp(prefix="faiss-answers-"))
    milvus = MilvusStore(args.uri, f"answers_{uuid.uuid4().hex[:12]}", index=args.index)
    try:
        indexes = {}
        for name, store in (("faiss", FaissStore(tmp / "index")), ("milvus", milvus)):
            t0 = time.perf_counter()
            indexes[name], _ = open_index(corpus, store, embedder, s.chunker())
            log(f"{name}: {len(indexes[name].chunks)} chunks, {len(indexes[name].candidates)} candidates ({time.perf_counter() - t0:.0f}s)")
        a, b = indexes["faiss"], indexes["milvus"]
        assert [c.id for c in a.chunks] == [c.id for c in b.chunks], "the two stores hold different chunks"
        retrieval, answering = s.retrieval(), s.answering()
        total = same = 0
        gap = 0.0
        differ: list[tuple[str, str, tuple, tuple]] = []
        outcomes: dict[int, list] = {0: [], 1: []}
        for es in sets:
            questions = set_questions(registry, es)[: args.limit]
            n_same = 0
            for q in questions:
                answers = [ask(idx, embedder, q.question, k=args.k, retrieval=retrieval, answering=answering).to_dict() for idx in (a, b)]
                got = [answer_key(x) for x in answers]
                for n, x in enumerate(answers):
                    outcomes[n].append(score(q, x["answer"], x["citations"], 0.0, x["confidence"]))
                gap = max(gap, score_gap(*answers))
                if got[0] == got[1]:
                    n_same += 1
                else:
                    differ.append((es.name, q.question, got[0], got[1]))
            total += len(questions)
            same += n_same
            print(f"{es.name:18} {n_same:4d} of {len(questions):4d} the same")
        print(f"{'all seed sets':18} {same:4d} of {total:4d} the same (FAISS vs Milvus {args.index})")
        print(f"largest difference of a cited passage's score: {gap:.2g}")
        acc = [summarize(outcomes[n])["answer_accuracy"] for n in (0, 1)]
        print(f"answer accuracy: FAISS {acc[0]:.4f}, Milvus {args.index} {acc[1]:.4f} (difference {acc[1] - acc[0]:+.4f})")
        for name, question, fa, mi in differ:
            print(f"\n{name}: {question}\n  faiss:  {fa}\n  milvus: {mi}")
        return 0 if (same == total if args.index == "FLAT" else abs(acc[1] - acc[0]) <= 0.01) else 1
    finally:
        milvus.table.drop()
        milvus.table.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
