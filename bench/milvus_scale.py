"""Milvus 2.3.5 at scale through rag.stores.milvus.MilvusTable: insert throughput, time until the
index is built, search latency, recall@10 against exact search, and the server's memory.

    .venv/bin/python bench/milvus_scale.py --rows 100000 --index HNSW --m 16
    .venv/bin/python bench/milvus_scale.py --rows 100000 --index HNSW --m 32 --vectors realistic
    .venv/bin/python bench/milvus_scale.py --rows 100000 --index FLAT

Starts its own server (tests/milvus_server.py; `.ci/milvus-setup` installs it) in a temporary data
dir unless --uri names one. Rows are chunk rows as the project would write them: a 384-d
normalised vector, a ~600-character text and offsets in the JSON payload, a source in the
metadata, upserted in batches of --batch.

Vectors: ``random`` are Gaussian, normalised: no structure, so HNSW recall on them is low whatever
the engine (--faiss measures FAISS's HNSW on the same vectors for comparison). ``realistic`` are
bench/scale.py's "mix" vectors: 3,000 real ONNX encodings of SQuAD paragraphs, the rest noisy blends
of them (encoded once, cached in bench/results/tmp). Queries: stored vectors plus N(0, 0.05^2)
noise, renormalised (as rag.store.measure_recall), and with realistic vectors also 500 real SQuAD
questions, encoded. One query at a time from one client, as a request of the API would.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.stores.milvus import MilvusTable

DIM = 384
K = 10
TEXT = (
    "The committee met in the old town hall to discuss the budget for the coming year, and after a long "
    "debate about roads, schools and the new library, it agreed to postpone the final vote until spring. "
) * 3


def log(*a) -> None:
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def load_avg() -> str:
    """Other work on the machine slows every figure here: printed beside them."""
    return "load average " + "/".join(f"{x:.1f}" for x in os.getloadavg())


def proc_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def random_vectors(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIM), np.float32)
    for s in range(0, n, 100_000):
        v = rng.normal(size=(min(100_000, n - s), DIM)).astype(np.float32)
        out[s : s + len(v)] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def realistic_vectors(n: int) -> tuple[np.ndarray, np.ndarray]:
    """bench/scale.py's "mix" vectors, and 500 encoded SQuAD questions."""
    sys.path.insert(0, str(ROOT / "bench"))
    import scale

    paragraphs = scale.load_paragraphs()
    texts = scale.synthetic_texts(paragraphs, min(n, 3_000))
    vecs, info = scale.all_vectors(texts, n, 3_000, len(paragraphs), synth="mix")
    log("vectors:", info["note"])
    qfile = scale.TMP / "squad_questions_500.npy"
    if qfile.exists():
        questions = np.load(qfile)
    else:
        from rag.onnx_embedding import OnnxEmbedder

        questions = OnnxEmbedder(cache_size=0).embed_batch(scale.load_questions(500))
        np.save(qfile, questions)
    return vecs, questions.astype(np.float32)


def exact_top(vecs: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    best = np.zeros((len(q), 0), np.int64), np.zeros((len(q), 0), np.float32)
    for s in range(0, len(vecs), 200_000):
        sims = q @ vecs[s : s + 200_000].T
        top = np.argpartition(-sims, k, axis=1)[:, :k]
        ids = np.concatenate([best[0], top + s], axis=1)
        sc = np.concatenate([best[1], np.take_along_axis(sims, top, axis=1)], axis=1)
        order = np.argsort(-sc, axis=1)[:, :k]
        best = np.take_along_axis(ids, order, axis=1), np.take_along_axis(sc, order, axis=1)
    return best[0]


def rows(vecs: np.ndarray, start: int) -> list[dict]:
    return [
        {
            "id": f"c{i}",
            "kind": "chunk",
            "doc_id": f"d{i // 20}",
            "vector": vecs[i - start],
            "metadata": {"source": f"s{i % 50}"},
            "text": TEXT,
            "start": 100 * (i % 20),
            "end": 100 * (i % 20) + len(TEXT),
            "section": "Budget",
            "title": f"Document {i // 20}",
        }
        for i in range(start, start + len(vecs))
    ]


def wait_indexed(table: MilvusTable, n: int, limit: float = 7_200) -> tuple[float, int]:
    """Seconds until every row is indexed, and pending_index_rows then. At 1M rows 2.3.5 kept
    reporting pending rows (879,000) minutes after indexed_rows had reached the total, so that
    counter is printed, not waited for."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        info = table.client.describe_index(table.name, "vector")
        if int(info.get("indexed_rows", 0)) >= n:
            return time.perf_counter() - t0, int(info.get("pending_index_rows", 0))
        time.sleep(0.5)
    raise TimeoutError(f"index not complete after {limit} s: {info}")


def faiss_side(args, vecs: np.ndarray, queries: dict, truth: dict, efs: list) -> None:
    """FAISS IndexHNSWFlat on the same vectors, queries, M and efConstruction: build (its insert rate), memory
    of this process, and latency one query at a time on one thread, as rag.retrieval asks."""
    import faiss

    rss0 = proc_mb(os.getpid(), "VmRSS")
    h = faiss.IndexHNSWFlat(DIM, args.m, faiss.METRIC_INNER_PRODUCT)
    h.hnsw.efConstruction = args.ef_construction
    t0 = time.perf_counter()
    h.add(vecs)
    build = time.perf_counter() - t0
    print(
        f"faiss HNSW M={args.m} efConstruction={args.ef_construction}: build {build:.0f} s = {len(vecs) / build:.0f} rows/s "
        f"({faiss.omp_get_max_threads()} threads); index memory {proc_mb(os.getpid(), 'VmRSS') - rss0:.0f} MB "
        f"(RSS growth of this process); {load_avg()}",
        flush=True,
    )
    faiss.omp_set_num_threads(1)
    for ef in efs:
        h.hnsw.efSearch = ef
        for name, q in queries.items():
            for k in (K, 50):
                lat, got = [], []
                for v in q:
                    t0 = time.perf_counter()
                    _, ids = h.search(v.reshape(1, -1), k)
                    lat.append(time.perf_counter() - t0)
                    got.append(ids[0][:K])
                rec = np.mean([len(set(g) & set(t)) / K for g, t in zip(got, truth[name])])
                p50, p95 = np.percentile(np.array(lat) * 1e3, [50, 95])
                print(
                    f"faiss HNSW M={args.m} ef={ef} k={k} {name}: p50 {p50:.2f} ms, p95 {p95:.2f} ms, recall@10 {rec:.3f} ({load_avg()})",
                    flush=True,
                )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--index", choices=("FLAT", "HNSW"), default="HNSW")
    ap.add_argument("--m", type=int, default=16, help="HNSW M")
    ap.add_argument("--ef-construction", type=int, default=200)
    ap.add_argument("--efs", default="64,128", help="HNSW ef values to search with")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--batch", type=int, default=1_000)
    ap.add_argument("--vectors", choices=("random", "realistic"), default="random")
    ap.add_argument(
        "--faiss", action="store_true", help="also FAISS IndexHNSWFlat on the same vectors and queries: build, memory, latency, recall"
    )
    ap.add_argument("--index-wait", type=float, default=7_200, help="seconds to wait for the index to cover every row")
    ap.add_argument("--uri", help="a running server (default: start one in a temporary dir)")
    args = ap.parse_args()

    server = data = None
    if args.uri is None:
        from tests.milvus_server import MilvusServer

        data = tempfile.mkdtemp(prefix="milvus-bench-")
        server = MilvusServer(data).start()
        args.uri = server.uri
        log(f"server {server.uri}, data {data}")
    try:
        run(args, server)
    finally:
        if server is not None:
            server.close()
            shutil.rmtree(data, ignore_errors=True)  # 1.3 GB at 100k rows, 8.8 GB at 1M


def run(args, server) -> None:
    pid = server._children()[0] if server else None
    if args.vectors == "random":
        vecs, questions = random_vectors(args.rows), None
    else:
        vecs, questions = realistic_vectors(args.rows)
    rng = np.random.default_rng(7)
    picked = rng.choice(args.rows, size=min(args.queries, args.rows), replace=False)
    noisy = vecs[picked] + rng.normal(0, 0.05, size=(len(picked), DIM)).astype(np.float32)
    queries = {"perturbed": noisy / np.linalg.norm(noisy, axis=1, keepdims=True)}
    if questions is not None:
        queries["squad_questions"] = questions[: args.queries]
    truth = {name: exact_top(vecs, q, K) for name, q in queries.items()}

    table = MilvusTable(args.uri, f"bench_{args.index.lower()}_{args.rows}")
    table.drop()
    label = f"{args.index}" + (f" M={args.m} efConstruction={args.ef_construction}" if args.index == "HNSW" else "")
    log(f"{args.rows} rows, {args.vectors} vectors, {label}")
    table.create(dim=DIM, index=args.index, hnsw_m=args.m, ef_construction=args.ef_construction)
    rss0 = proc_mb(pid, "VmRSS") if pid else float("nan")

    spent = 0.0
    t_all = time.perf_counter()
    for s in range(0, args.rows, args.batch):
        batch = rows(vecs[s : s + args.batch], s)
        t0 = time.perf_counter()
        table.upsert_rows(batch, batch=args.batch)
        spent += time.perf_counter() - t0
        if (s // args.batch) % 20 == 0:
            log(f"  upserted {s + len(batch)}: {(s + len(batch)) / spent:.0f} rows/s so far")
    print(
        f"insert: {args.rows} rows in {spent:.1f} s of upsert calls = {args.rows / spent:.0f} rows/s "
        f"(batches of {args.batch}, payload ~{len(TEXT)} chars; {load_avg()})"
    )
    t0 = time.perf_counter()
    table.client.flush(table.name)
    flush_s = time.perf_counter() - t0
    index_s, pending = wait_indexed(table, args.rows, args.index_wait)
    print(
        f"flush: {flush_s:.1f} s; all rows indexed {index_s:.1f} s after the flush (pending_index_rows {pending}) "
        f"(segments sealed during the inserts were being indexed already); "
        f"first upsert to all indexed: {time.perf_counter() - t_all:.1f} s ({load_avg()})"
    )
    # Load again so the query node serves the indexed sealed segments, not growing ones.
    table.release()
    t0 = time.perf_counter()
    table.client.load_collection(table.name)
    print(f"load: {time.perf_counter() - t0:.1f} s")
    if pid:
        print(f"server RSS: {proc_mb(pid, 'VmRSS'):.0f} MB loaded (empty collection: {rss0:.0f} MB; peak {proc_mb(pid, 'VmHWM'):.0f} MB)")
    assert table.count("chunk") == args.rows

    efs = [int(e) for e in args.efs.split(",")] if args.index == "HNSW" else [None]
    for ef in efs:
        for name, q in queries.items():
            for k in (K, 50):
                lat, got = [], []
                for v in q:
                    t0 = time.perf_counter()
                    hits = table.search(v, k=k, kind="chunk", ef=ef)
                    lat.append(time.perf_counter() - t0)
                    got.append([int(h[0][1:]) for h in hits[:K]])
                rec = np.mean([len(set(g) & set(t)) / K for g, t in zip(got, truth[name])])
                p50, p95 = np.percentile(np.array(lat) * 1e3, [50, 95])
                print(f"search {label} ef={ef or '-'} k={k} {name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms, recall@10 {rec:.3f} ({load_avg()})")
    if pid:
        print(f"server RSS after searches: {proc_mb(pid, 'VmRSS'):.0f} MB (peak {proc_mb(pid, 'VmHWM'):.0f} MB)")
    if server is not None:
        used = sum(
            f.stat().st_size for f in server.data_dir.rglob("*") if f.is_file() and "bin" not in f.relative_to(server.data_dir).parts[:1]
        )
        print(f"server data dir without its binaries: {used / 1e9:.1f} GB")
    # Dropped first: the FAISS figures below are then taken without the server indexing or compacting beside them.
    table.drop()
    table.close()
    if args.faiss and args.index == "HNSW":
        faiss_side(args, vecs, queries, truth, efs)


if __name__ == "__main__":
    main()
