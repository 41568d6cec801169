"""Core benchmark (a script, not a test): index build throughput vs raw encoder throughput,
in-process query latency split into embed / search / answer, and peak memory.

    .venv/bin/python bench/core.py [--corpus corpus] [--repeat 3]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from rag.ask import ask
from rag.chunking import Chunker, ChunkerConfig
from rag.corpus import load_corpus
from rag.embedding import load_embedder
from rag.evaluation import load_questions
from rag.settings import Settings
from rag.store import build_index, load_index


def cpu() -> str:
    """The host's CPU and the vector extensions the int8 kernels use: latency here moves with both, so
    every figure is printed beside them (figures from different hosts are not comparable)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown CPU"
    model = next((ln.split(":", 1)[1].strip() for ln in info.splitlines() if ln.startswith("model name")), "unknown CPU")
    flags = set(next((ln.split(":", 1)[1].split() for ln in info.splitlines() if ln.startswith("flags")), []))
    isa = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8") if f in flags]
    return f"{model}; {', '.join(isa) or 'no AVX2'}"


def pct(xs, p):
    return float(np.percentile(np.array(xs), p))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="corpus")
    ap.add_argument("--questions", default="eval/sets/seed-dev.jsonl")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--backend", default=Settings().backend)
    args = ap.parse_args()

    t = time.perf_counter()
    emb = load_embedder(backend=args.backend)
    load_s = time.perf_counter() - t
    docs = load_corpus(args.corpus)

    # The same texts the index embeds (chunks + answer candidates), encoded raw.
    ch = Chunker(emb.count_tokens, ChunkerConfig())
    texts = []
    for d in docs:
        cs, cands = ch.chunk(d)
        texts += [c.index_text for c in cs] + [c.render for c in cands]
    emb.embed_batch(texts[:64])  # warm-up
    t = time.perf_counter()
    emb.embed_batch(texts, batch_size=32)
    raw_s = time.perf_counter() - t

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        report = build_index(docs, emb, Path(tmp) / "index")
        build_s = time.perf_counter() - t
        index = load_index(Path(tmp) / "index")
        settings = Settings()
        answering = settings.answering()
        questions = [q.question for q in load_questions(args.questions)]
        ask(index, emb, "warm up the caches", answering=answering)
        parts = {"embed": [], "search": [], "answer": [], "total": []}
        for _r in range(args.repeat):
            for q in questions:
                if hasattr(emb, "_cache"):
                    emb._cache._data.clear()  # measure real encodes, not cache hits
                a = ask(index, emb, q, answering=answering)
                for k in parts:
                    parts[k].append(a.timings_ms[k])
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n = len(texts)
    print(f"cpu: {cpu()}")
    print(f"backend: {args.backend}; model load {load_s:.1f} s")
    print(f"documents {len(docs)}, chunks {report.chunks}, candidates {report.candidates}, texts embedded {report.embedded_texts}")
    print(f"raw encoder: {n} texts in {raw_s:.2f} s = {n / raw_s:.1f} texts/s")
    print(
        f"index build: {build_s:.2f} s = {report.embedded_texts / build_s:.1f} texts/s "
        f"({report.chunks / build_s:.1f} chunks/s); ratio to raw encoder {raw_s / build_s:.2f}"
    )
    print(f"query latency over {len(parts['total'])} asks (ms):")
    for k, xs in parts.items():
        print(f"  {k:7s} p50 {pct(xs, 50):7.2f}  p95 {pct(xs, 95):7.2f}  mean {statistics.fmean(xs):7.2f}")
    print(f"peak RSS {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
