"""Scale benchmark: FAISS and BM25 at 10k / 100k / 1M chunks, plus encoder latency (torch vs ONNX).

    .venv/bin/python bench/scale.py                      # 10k, 100k, 1M (~25 min on 2 cores)
    .venv/bin/python bench/scale.py --quick              # 10k only
    .venv/bin/python bench/scale.py --sizes 10000,100000

Corpus: paragraphs of /work/shared/bench/squad-dev/corpus.jsonl (2,067), each synthetic chunk a
perturbation of one (sentences shuffled, ~10% of words dropped). Row i < 2,067 is the original.

VECTORS ARE PARTLY SYNTHETIC. Encoding 1M texts on 2 cores would take hours, so only the first
``--encode`` texts (default 3,000: ONNX does ~15 texts/s on this 2-core box, so 20k would take ~25 min) are encoded with the ONNX embedder; every further vector is an
encoded vector plus Gaussian noise, renormalised. The noise level is calibrated so that a synthetic
vector's cosine to its source matches the mean cosine measured between real encoded perturbations
of the same paragraph (printed and written to the JSON). The output says so.

Index vectors are built exactly as the FAISS store does (``rag.stores.faiss.faiss_index(vecs, IndexConfig())``:
IndexFlatIP up to IndexConfig.flat_threshold (20k), HNSW above); at 100k and 1M, flat and HNSW are also measured explicitly,
with an efSearch sweep on HNSW. Dense queries are perturbed stored vectors (as
``rag.store.measure_recall`` does, sigma 0.05), 500 of them, single-threaded (faiss.omp_set_num_threads(1));
recall@10 is against exact search. Real SQuAD questions (encoded) are a second query set.

Writes bench/results/scale.json, scale_latency.png, scale_memory.png.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import faiss

from rag.store import IndexConfig
from rag.stores.faiss import faiss_index as _faiss_index

SQUAD = Path("/work/shared/bench/squad-dev")
SQUAD_TRAIN = Path("/work/shared/bench/squad-train")
RESULTS = ROOT / "bench" / "results"
TMP = RESULTS / "tmp"  # git-ignored: cached encoded vectors
K = 10
DEPTH = 50  # rag.retrieval's default depth: the k a real dense search asks for
QUERY_SIGMA = 0.05  # as rag.store.measure_recall
SKIP_FLAT = False
EF_SWEEP = (16, 32, 64, 96, 128, 192, 256, 384, 512, 768)


def log(*a) -> None:
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def pct(xs, q) -> float:
    return float(np.percentile(np.asarray(xs) * 1e3, q))


# -- corpus ----------------------------------------------------------------------------------
_SENT = re.compile(r"(?<=[.!?])\s+")


def load_paragraphs() -> list[str]:
    with open(SQUAD / "corpus.jsonl") as f:
        return [json.loads(line)["text"] for line in f]


def load_questions(n: int) -> list[str]:
    with open(SQUAD / "queries.jsonl") as f:
        return [json.loads(line)["question"] for line in f][:n]


def synthetic_texts(paragraphs: list[str], n: int, seed: int = 0) -> list[str]:
    """Row i: paragraph i % P, perturbed (sentence shuffle + ~10% word drop) unless i < P."""
    rng = np.random.default_rng(seed)
    sents = [_SENT.split(p) for p in paragraphs]
    out = list(paragraphs[:n])
    P = len(paragraphs)
    for i in range(len(out), n):
        ss = list(sents[i % P])
        if len(ss) > 1:
            ss = [ss[j] for j in rng.permutation(len(ss))]
        words = " ".join(ss).split()
        keep = rng.random(len(words)) >= 0.1
        out.append(" ".join(w for w, k in zip(words, keep) if k) or words[0])
    return out


def real_texts(n: int, seed: int = 0) -> list[str]:
    """Up to n distinct real texts from SQuAD v1.1 train: its sentences, its questions, then
    two-sentence windows, shuffled together (so any prefix is a mix of kinds)."""
    with open(SQUAD_TRAIN / "corpus.jsonl") as f:
        paras = [json.loads(line)["text"] for line in f]
    with open(SQUAD_TRAIN / "questions.jsonl") as f:
        qs = [json.loads(line)["question"] for line in f]
    sents = [[s for s in _SENT.split(p) if len(s) > 20] for p in paras]
    pool = [s for ss in sents for s in ss] + qs + [a + " " + b for ss in sents for a, b in zip(ss, ss[1:])]
    pool = list(dict.fromkeys(pool))  # distinct, first occurrence order
    rng = np.random.default_rng(seed)
    return [pool[i] for i in rng.permutation(len(pool))[:n]]


def encode_cached(texts: list[str], tag: str, part: int = 20_000) -> tuple[np.ndarray, float]:
    """Encode in parts cached under bench/results/tmp, so a long run can resume after an interruption."""
    from rag.onnx_embedding import OnnxEmbedder

    e = None
    TMP.mkdir(parents=True, exist_ok=True)
    out, spent = [], 0.0
    for s in range(0, len(texts), part):
        f = TMP / f"{tag}_{s}_{min(s + part, len(texts))}.npy"
        if f.exists():
            out.append(np.load(f))
            continue
        e = e or OnnxEmbedder(cache_size=0)
        t0 = time.perf_counter()
        v = e.embed_batch(texts[s : s + part], batch_size=64)
        spent += time.perf_counter() - t0
        np.save(f, v)
        out.append(v)
        log(f"encoded {s + len(v)}/{len(texts)} real texts ({len(v) / (time.perf_counter() - t0):.0f} texts/s)")
    return np.concatenate(out), spent


def perturb(vecs: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    q = vecs + rng.normal(0, sigma, size=vecs.shape).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return q


def calibrate_sigma(enc: np.ndarray, n_par: int, dim: int) -> tuple[float, float]:
    """Noise sigma whose expected cosine to the source equals the mean cosine of real perturbations to their original."""
    rows = np.arange(n_par, len(enc))
    cos = float(np.mean(np.sum(enc[rows] * enc[rows % n_par], axis=1)))
    # ||v + e|| with e ~ N(0, s^2 I_d): cos(v, v+e) ~= 1 / sqrt(1 + d s^2)
    sigma = float(np.sqrt(max(1.0 / cos**2 - 1.0, 1e-8) / dim))
    return sigma, cos


def all_vectors(texts: list[str], n_total: int, n_encode: int, n_par: int, seed: int = 1, synth: str = "noise") -> tuple[np.ndarray, dict]:
    from rag.onnx_embedding import OnnxEmbedder

    n_encode = min(n_encode, n_total)
    cache = TMP / f"encoded_{n_encode}.npy"
    e = None
    if synth == "real":
        enc, encode_s = encode_cached(texts[:n_encode], "real")
        # sigma calibrated on the paragraph perturbations, as in the other modes
        sigma, cos = (
            calibrate_sigma(np.load(TMP / "encoded_3000.npy"), 2067, enc.shape[1])
            if (TMP / "encoded_3000.npy").exists()
            else (0.0156, 0.956)
        )
    elif cache.exists():
        enc = np.load(cache)
        log(f"loaded {len(enc)} encoded vectors from {cache}")
        encode_s = None
    else:
        e = OnnxEmbedder()
        log(f"encoding {n_encode} texts with ONNX ({os.cpu_count()} threads)...")
        t0 = time.perf_counter()
        enc = e.embed_batch(texts[:n_encode], batch_size=32)
        encode_s = time.perf_counter() - t0
        log(f"encoded {n_encode} texts in {encode_s:.0f} s ({n_encode / encode_s:.0f} texts/s)")
        TMP.mkdir(parents=True, exist_ok=True)
        np.save(cache, enc)
    dim = enc.shape[1]
    if synth != "real":
        sigma, cos = calibrate_sigma(enc, n_par, dim)
    vecs = np.empty((n_total, dim), np.float32)
    vecs[:n_encode] = enc
    rng = np.random.default_rng(seed)
    step = 200_000
    for s in range(n_encode, n_total, step):
        rows = np.arange(s, min(s + step, n_total))
        base = enc[rows % n_encode]
        if synth in ("mix", "real"):  # blend in a second random encoded vector: no tight clusters of copies
            other = enc[rng.integers(0, n_encode, size=len(rows))]
            base = base + rng.uniform(0.2, 0.6, size=(len(rows), 1)).astype(np.float32) * other
            base /= np.linalg.norm(base, axis=1, keepdims=True)
        vecs[rows] = perturb(base, sigma, rng)
    mix = " blended with w*another encoded vector (w ~ U(0.2, 0.6))," if synth in ("mix", "real") else ""
    info = {
        "encoded": int(n_encode),
        "synthetic": int(n_total - n_encode),
        "synth": synth,
        "noise_sigma": sigma,
        "real_perturbation_mean_cosine": cos,
        "encode_seconds": encode_s,
        "note": f"only the first {n_encode} vectors are real ONNX encodings; the other {n_total - n_encode} are "
        f"encoded vectors{mix} + N(0, {sigma:.4f}^2) noise, renormalised (calibrated to the mean cosine {cos:.3f} "
        "between real perturbations of a paragraph and the paragraph)",
    }
    return vecs, info


# -- dense -----------------------------------------------------------------------------------
def size_on_disk(index: faiss.Index) -> float:
    with tempfile.NamedTemporaryFile(dir=TMP, suffix=".faiss", delete=True) as f:
        faiss.write_index(index, f.name)
        return os.path.getsize(f.name) / 1e6


def time_queries(index: faiss.Index, q: np.ndarray, k: int) -> tuple[list[float], np.ndarray, np.ndarray]:
    faiss.omp_set_num_threads(1)
    times, ids, scores = [], [], []
    for i in range(len(q)):
        t0 = time.perf_counter()
        D, I = index.search(q[i : i + 1], k)
        times.append(time.perf_counter() - t0)
        ids.append(I[0])
        scores.append(D[0])
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    return times, np.vstack(ids), np.vstack(scores)


def recall(truth: np.ndarray, got: np.ndarray, k: int = K) -> float:
    return float(np.mean([len(set(a[:k]) & set(b[:k])) / k for a, b in zip(truth, got)]))


TIE_TOL = 1e-3


def measure_index(index: faiss.Index, queries: dict[str, np.ndarray], truths: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict:
    out = {}
    for name, q in queries.items():
        t10, got, got_d = time_queries(index, q, K)
        t50, _, _ = time_queries(index, q, DEPTH)
        true_d, true_i = truths[name]
        # share of returned hits scoring within TIE_TOL of the exact 10th score: near-ties count as found
        tol = float(np.mean(np.sum(got_d >= true_d[:, K - 1 : K] - TIE_TOL, axis=1) / K))
        out[name] = {
            "p50_ms": pct(t10, 50),
            "p95_ms": pct(t10, 95),
            "p50_ms_k50": pct(t50, 50),
            "p95_ms_k50": pct(t50, 95),
            "recall_at_10": recall(true_i, got),
            "recall_at_10_tol1e-3": tol,
            "exact_gap_10th_11th_median": float(np.median(true_d[:, K - 1] - true_d[:, K])),
        }
    return out


def build(fn):
    gc.collect()
    r0 = rss_mb()
    t0 = time.perf_counter()
    res = fn()
    dt = time.perf_counter() - t0
    return res, dt, rss_mb() - r0


def dense_size(vecs: np.ndarray, queries: dict[str, np.ndarray], cfg: IndexConfig, explicit: bool) -> dict:
    n, dim = vecs.shape
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    exact = faiss.IndexFlatIP(dim)
    exact.add(vecs)
    truths = {name: exact.search(q, K + 1) for name, q in queries.items()}
    del exact
    res: dict = {}
    log(f"[{n}] rag.stores.faiss.faiss_index ...")
    (index, meta), dt, drss = build(lambda: _faiss_index(vecs, cfg))
    entry = {
        "type": meta["type"],
        "build_s": dt,
        "rss_delta_mb": drss,
        "disk_mb": size_on_disk(index),
        "manifest": meta,
        "queries": measure_index(index, queries, truths),
    }
    if meta["type"] == "IndexHNSWFlat":
        entry["note"] = "build_s includes rag.store.measure_recall (an exact index + 200 searches)"
    res["store_default"] = entry
    log(f"[{n}] default {meta['type']}: build {dt:.1f}s, {entry['queries']}")
    if explicit:
        if meta["type"] == "IndexFlatIP":
            flat = index
            res["flat"] = entry
            del index
            hcfg = cfg

            def mk_hnsw():
                h = faiss.IndexHNSWFlat(dim, hcfg.hnsw_m, faiss.METRIC_INNER_PRODUCT)
                h.hnsw.efConstruction = hcfg.hnsw_ef_construction
                h.add(vecs)
                h.hnsw.efSearch = hcfg.hnsw_ef_search
                return h

            del flat
            gc.collect()
            log(f"[{n}] explicit HNSW m={cfg.hnsw_m} efC={cfg.hnsw_ef_construction} ...")
            hnsw, dt, drss = build(mk_hnsw)
            res["hnsw"] = {
                "type": "IndexHNSWFlat",
                "build_s": dt,
                "rss_delta_mb": drss,
                "disk_mb": size_on_disk(hnsw),
                "m": cfg.hnsw_m,
                "ef_construction": cfg.hnsw_ef_construction,
                "ef_search": cfg.hnsw_ef_search,
                "queries": measure_index(hnsw, queries, truths),
            }
        else:
            hnsw = index
            res["hnsw"] = entry
            del index
            gc.collect()

            def mk_flat():
                f = faiss.IndexFlatIP(dim)
                f.add(vecs)
                return f

            if not SKIP_FLAT:
                log(f"[{n}] explicit IndexFlatIP ...")
                flat, dt, drss = build(mk_flat)
                res["flat"] = {
                    "type": "IndexFlatIP",
                    "build_s": dt,
                    "rss_delta_mb": drss,
                    "disk_mb": size_on_disk(flat),
                    "queries": measure_index(flat, queries, truths),
                }
                del flat
        if "flat" in res:
            log(f"[{n}] flat {res['flat']['queries']}")
        log(f"[{n}] hnsw {res['hnsw']['queries']}")
        sweep = {}
        for ef in EF_SWEEP:
            hnsw.hnsw.efSearch = ef
            sweep[ef] = measure_index(hnsw, queries, truths)
            log(
                f"[{n}] efSearch={ef}: "
                + ", ".join(
                    f"{k}: p50 {v['p50_ms']:.2f} ms r@10 {v['recall_at_10']:.3f} (tol {v['recall_at_10_tol1e-3']:.3f})"
                    for k, v in sweep[ef].items()
                )
            )
        res["hnsw_ef_sweep"] = sweep
        del hnsw
    gc.collect()
    return res


# -- BM25 ------------------------------------------------------------------------------------
def bm25_size(texts: list[str], questions: list[str], cfg: IndexConfig) -> dict:
    import bm25s

    from rag.text import question_terms, terms

    n = len(texts)
    gc.collect()
    r0 = rss_mb()
    t0 = time.perf_counter()
    toks = [terms(t) or ["_empty_"] for t in texts]
    tok_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    bm = bm25s.BM25(k1=cfg.bm25_k1, b=cfg.bm25_b)
    bm.index(toks, show_progress=False)
    idx_s = time.perf_counter() - t1
    del toks
    gc.collect()
    drss = rss_mb() - r0
    qt = [t for t in (question_terms(q) for q in questions) if t]
    times = []
    for t in qt:  # as rag.retrieval.bm25_search: scores for every chunk, top DEPTH by argpartition
        t0 = time.perf_counter()
        scores = bm.get_scores(t)
        top = np.argpartition(-scores, DEPTH - 1)[:DEPTH]
        _ = [(int(r), float(scores[r])) for r in top if scores[r] > 0]
        times.append(time.perf_counter() - t0)
    with tempfile.TemporaryDirectory(dir=TMP) as d:
        bm.save(d, show_progress=False)
        disk = sum(f.stat().st_size for f in Path(d).rglob("*") if f.is_file()) / 1e6
    res = {
        "tokenize_s": tok_s,
        "index_s": idx_s,
        "build_s": tok_s + idx_s,
        "rss_delta_mb": drss,
        "disk_mb": disk,
        "queries": len(qt),
        "p50_ms": pct(times, 50),
        "p95_ms": pct(times, 95),
    }
    log(f"[{n}] bm25: {res}")
    return res


# -- encoders --------------------------------------------------------------------------------
def encoder_bench(paragraphs: list[str], questions: list[str]) -> dict:
    from rag.onnx_embedding import OnnxEmbedder
    from rag.torch_embedding import SentenceTransformerEmbedder

    rng = np.random.default_rng(3)
    words = " ".join(paragraphs).split()
    texts150 = [" ".join(words[s : s + 150]) for s in rng.integers(0, len(words) - 150, size=256)]
    qs = questions[:200]
    out = {"query_texts": len(qs), "batch_texts": len(texts150), "batch_words_per_text": 150}
    vecs = {}
    # ONNX first: torch's OpenMP pool, once started, competes with ONNX Runtime's threads in the same process.
    for name, make in (
        ("onnx_fp32", lambda: OnnxEmbedder(cache_size=0, query_threads=1)),
        ("onnx_int8", lambda: OnnxEmbedder(cache_size=0, query_threads=1, quantized=True)),
        ("torch", lambda: SentenceTransformerEmbedder(cache_size=0, query_threads=1)),
    ):
        e = make()
        for q in qs[:20]:
            e.embed_query(q)  # warm-up
        times, vq = [], []
        for q in qs:
            t0 = time.perf_counter()
            vq.append(e.embed_query(q))
            times.append(time.perf_counter() - t0)
        vq = np.vstack(vq)
        e.embed_batch(texts150[:32])
        t0 = time.perf_counter()
        vb = e.embed_batch(texts150, batch_size=32)
        bs = time.perf_counter() - t0
        vecs[name] = (vq, vb)
        out[name] = {
            "query_p50_ms": pct(times, 50),
            "query_p95_ms": pct(times, 95),
            "query_threads": 1,
            "batch_texts_per_s": len(texts150) / bs,
            "batch_threads": os.cpu_count(),
        }
        log(f"encoder {name}: {out[name]}")
        del e
        gc.collect()
    ref_q, ref_b = vecs["torch"]
    for name in ("onnx_fp32", "onnx_int8"):
        vq, vb = vecs[name]
        cq, cb = np.sum(vq * ref_q, axis=1), np.sum(vb * ref_b, axis=1)
        out[name].update(
            {
                "cos_vs_torch_query_mean": float(cq.mean()),
                "cos_vs_torch_query_min": float(cq.min()),
                "cos_vs_torch_batch_mean": float(cb.mean()),
                "cos_vs_torch_batch_min": float(cb.min()),
            }
        )
    return out


# -- plots -----------------------------------------------------------------------------------
def plot(result: dict, stem: str = "scale") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(int(s) for s in result["sizes"])
    ic = result["index_config"]
    series = {
        f"store default (flat <={IndexConfig().flat_threshold // 1000}k, HNSW above)": lambda r: r["dense"]["store_default"],
        "IndexFlatIP": lambda r: r["dense"].get("flat"),
        f"HNSW m={ic['hnsw_m']} efC={ic['hnsw_ef_construction']} ef={ic['hnsw_ef_search']}": lambda r: r["dense"].get("hnsw"),
    }
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, get in series.items():
        pts = [(n, get(result["sizes"][str(n)])) for n in sizes]
        pts = [(n, e) for n, e in pts if e]
        if label != list(series)[0] and len(pts) < 2:
            continue
        ax.plot([n for n, _ in pts], [e["queries"]["perturbed"]["p50_ms"] for _, e in pts], "o-", label=f"{label} p50")
        ax.plot([n for n, _ in pts], [e["queries"]["perturbed"]["p95_ms"] for _, e in pts], "x--", alpha=0.6, label=f"{label} p95")
    pts = [(n, result["sizes"][str(n)].get("bm25")) for n in sizes]
    pts = [(n, b) for n, b in pts if b and "p50_ms" in b]
    if pts:
        ax.plot([n for n, _ in pts], [b["p50_ms"] for _, b in pts], "s-", color="gray", label="BM25 p50 (bm25s)")
    ax.axhline(5, color="red", lw=0.8, ls=":", label="5 ms bar")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chunks")
    ax.set_ylabel("query latency, ms (1 thread, k=10)")
    ax.set_title("Search latency vs corpus size (vectors partly synthetic)")
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(RESULTS / f"{stem}_latency.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, get in series.items():
        pts = [(n, get(result["sizes"][str(n)])) for n in sizes]
        pts = [(n, e) for n, e in pts if e]
        if label != list(series)[0] and len(pts) < 2:
            continue
        ax.plot([n for n, _ in pts], [e["rss_delta_mb"] for _, e in pts], "o-", label=f"{label} RSS")
        ax.plot([n for n, _ in pts], [e["disk_mb"] for _, e in pts], "x--", alpha=0.6, label=f"{label} disk")
    pts = [(n, result["sizes"][str(n)].get("bm25")) for n in sizes]
    pts = [(n, b) for n, b in pts if b and "disk_mb" in b]
    if pts:
        ax.plot([n for n, _ in pts], [b["rss_delta_mb"] for _, b in pts], "s-", color="gray", label="BM25 RSS")
        ax.plot([n for n, _ in pts], [b["disk_mb"] for _, b in pts], "s--", color="silver", label="BM25 disk")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chunks")
    ax.set_ylabel("MB")
    ax.set_title("Index memory (RSS delta) and size on disk")
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(RESULTS / f"{stem}_memory.png", dpi=120)
    plt.close(fig)


# -- main ------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--quick", action="store_true", help="10k only")
    ap.add_argument("--encode", type=int, default=3000, help="texts really encoded with ONNX; the rest are noisy copies")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument(
        "--synth",
        choices=("noise", "mix", "real"),
        default="noise",
        help="noise: copies of encoded vectors + noise (tight clusters of n/encode copies); "
        "mix: each copy also blended with a second random encoded vector (spread out)",
    )
    ap.add_argument("--bm25-max", type=int, default=1_000_000, help="skip BM25 above this size")
    ap.add_argument("--no-encoders", action="store_true", help="skip the torch/ONNX encoder comparison")
    ap.add_argument("--encoders-only", action="store_true", help="only the encoder comparison, merged into an existing --out file")
    ap.add_argument("--hnsw", default="", help="override IndexConfig HNSW settings, e.g. m=48,efc=200,ef=128")
    ap.add_argument("--no-flat", action="store_true", help="skip the explicit flat index when the store default is HNSW")
    ap.add_argument("--out", default=str(RESULTS / "scale.json"))
    args = ap.parse_args()
    sizes = [10_000] if args.quick else sorted(int(s) for s in args.sizes.split(","))
    RESULTS.mkdir(parents=True, exist_ok=True)
    TMP.mkdir(parents=True, exist_ok=True)
    cfg = IndexConfig()
    if args.hnsw:
        kv = dict(x.split("=") for x in args.hnsw.split(","))
        names = {"m": "hnsw_m", "efc": "hnsw_ef_construction", "ef": "hnsw_ef_search"}
        cfg = replace(cfg, **{names[k]: int(v) for k, v in kv.items()})
    global SKIP_FLAT
    SKIP_FLAT = args.no_flat
    t_start = time.perf_counter()
    paragraphs = load_paragraphs()
    questions = load_questions(args.queries)
    result: dict = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "faiss": faiss.__version__},
        "index_config": asdict(cfg),
        "k": K,
        "query_sigma": QUERY_SIGMA,
        "n_queries": args.queries,
        "sizes": {},
    }
    out = Path(args.out)

    def save():
        result["total_seconds"] = time.perf_counter() - t_start
        out.write_text(json.dumps(result, indent=2))

    if args.encoders_only:
        old = json.loads(out.read_text()) if out.exists() else {}
        old["encoders"] = encoder_bench(paragraphs, questions)
        out.write_text(json.dumps(old, indent=2))
        log(f"encoders -> {out}")
        return
    if not args.no_encoders:
        result["encoders"] = encoder_bench(paragraphs, questions)
        save()

    n_max = max(sizes)
    if args.synth == "real":
        log(f"loading up to {args.encode} distinct real texts from SQuAD train...")
        texts = real_texts(args.encode)
        args.encode = len(texts)
        texts += synthetic_texts(paragraphs, n_max - len(texts))  # BM25 text for the synthetic rows only
    else:
        log(f"building {n_max} synthetic texts from {len(paragraphs)} paragraphs...")
        texts = synthetic_texts(paragraphs, n_max)
    vecs, info = all_vectors(texts, n_max, args.encode, len(paragraphs), synth=args.synth)
    result["vectors"] = info
    log("NOTE:", info["note"])
    from rag.onnx_embedding import OnnxEmbedder

    qvec_real = OnnxEmbedder(cache_size=0).embed_batch(questions)
    save()
    rng = np.random.default_rng(7)
    for n in sizes:
        sub = np.ascontiguousarray(vecs[:n])
        rows = rng.choice(n, size=min(args.queries, n), replace=False)
        queries = {"perturbed": perturb(sub[rows], QUERY_SIGMA, rng), "squad_questions": qvec_real}
        entry: dict = {"dense": dense_size(sub, queries, cfg, explicit=n >= 100_000)}
        result["sizes"][str(n)] = entry
        save()
        if n <= args.bm25_max:
            entry["bm25"] = bm25_size(texts[:n], questions, cfg)
        else:
            entry["bm25"] = {"skipped": f"n > --bm25-max {args.bm25_max}"}
        save()
        plot(result, out.stem)
        del sub
        gc.collect()
    save()
    plot(result, out.stem)
    log(f"done in {time.perf_counter() - t_start:.0f} s -> {out}")


if __name__ == "__main__":
    main()
