"""Ours beside the tutorial pipeline a user would otherwise write, in one run on this host.

The tutorial: LangChain ``RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)``, the same
MiniLM through sentence-transformers, FAISS ``IndexFlatIP`` over normalised vectors; a question is
embedded and searched (top 5), nothing more. Ours: ``rag.store.build_index`` from scratch with the
production embedder, ``rag.ask.ask`` with the production answer settings (reader on), and ``POST /ask``
through ``rag serve`` in its own process.

Measured, each pair interleaved so that a busy neighbour slows both alike (the figures are only
comparable within one run):
- index time on three corpora (the seed corpus, the handbook, SQuAD dev's paragraphs); both on every
  core; documents are read once beforehand, for both;
- in-process latency over the seed-dev questions: ours ``ask`` (question cache off) against the
  tutorial's retrieval at one intra-op thread and at its default (every core); the better of the two is
  the reference;
- HTTP ``/ask`` p50 at concurrency 1 against that reference, and requests/s at concurrency 8.

    .venv/bin/python bench/versus_tutorial.py [--repeat 3] [--passes 3] [--requests 800] [--skip-http]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")  # both pipelines tokenise on every core when indexing
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from core import cpu
from http_bench import free_port, run, wait_ready

ROOT = Path(__file__).resolve().parents[1]
CORES = os.cpu_count() or 1
K = 5


class Tutorial:
    """The pipeline of the LangChain / sentence-transformers / FAISS tutorials, as a user writes it."""

    def __init__(self) -> None:
        import torch
        from langchain_text_splitters import RecursiveCharacterTextSplitter
        from sentence_transformers import SentenceTransformer

        from rag.model_files import DEFAULT_MODEL, resolve_model_path

        self.torch = torch
        self.model = SentenceTransformer(str(resolve_model_path(DEFAULT_MODEL)), device="cpu", local_files_only=True)
        self.splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        self.index = None

    def build(self, texts: list[str]) -> int:
        import faiss

        self.torch.set_num_threads(CORES)
        chunks = [c for t in texts for c in self.splitter.split_text(t)]
        vecs = self.model.encode(chunks, batch_size=32, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        index = faiss.IndexFlatIP(vecs.shape[1])
        index.add(np.ascontiguousarray(vecs, dtype=np.float32))
        self.index = index
        return len(chunks)

    def search(self, question: str, threads: int):
        self.torch.set_num_threads(threads)
        v = self.model.encode([question], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return self.index.search(np.ascontiguousarray(v, dtype=np.float32), K)


def corpora(args) -> dict[str, Path]:
    found = {"seed": ROOT / "corpus", "handbook": ROOT / "eval" / "corpora" / "tts-handbook", "squad-dev": args.squad}
    for name, path in list(found.items()):
        if not path.exists():
            print(f"note: {name} left out: {path} is not here")
            del found[name]
    return found


def ms(xs: list[float], p: float) -> float:
    return float(np.percentile(np.array(xs), p))


def index_times(name: str, path: Path, tutorial: Tutorial, embedder, chunker, repeat: int, keep: Path | None):
    from rag.corpus import load_corpus
    from rag.store import build_index

    docs = load_corpus(path)
    texts = [d.text for d in docs]
    ours: list[float] = []
    theirs: list[float] = []
    report = n_chunks = None
    for r in range(repeat):
        # alternate who goes first: a neighbour's burst should not always land on the same one
        for who in ("ours", "tutorial") if r % 2 == 0 else ("tutorial", "ours"):
            t0 = time.perf_counter()
            if who == "ours":
                with tempfile.TemporaryDirectory(prefix="rag-vs-") as tmp:
                    report = build_index(docs, embedder, Path(tmp) / "index", chunker=chunker)
                    ours.append(time.perf_counter() - t0)
                    if keep is not None and r == 0:
                        shutil.copytree(Path(tmp) / "index", keep)
            else:
                n_chunks = tutorial.build(texts)
                theirs.append(time.perf_counter() - t0)
    assert report is not None
    print(
        f"  {name}: {len(docs)} documents; ours {report.chunks} passages + {report.candidates} candidates, "
        f"{report.embedded_texts} texts encoded; tutorial {n_chunks} chunks"
    )
    return statistics.median(ours), statistics.median(theirs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="index builds of each small corpus per pipeline (median)")
    ap.add_argument("--repeat-large", type=int, default=1, help="... of SQuAD dev")
    ap.add_argument("--passes", type=int, default=3, help="passes over the questions, in process")
    ap.add_argument("--requests", type=int, default=800, help="requests at concurrency 8")
    ap.add_argument("--questions", type=Path, default=ROOT / "eval" / "sets" / "seed-dev.jsonl", help="their texts are the load")
    ap.add_argument("--squad", type=Path, default=ROOT.parent / "shared" / "bench" / "squad-dev" / "corpus.jsonl")
    ap.add_argument("--only", default="", help="comma-separated corpora to index (default all); the seed corpus is always built")
    ap.add_argument("--skip-http", action="store_true")
    args = ap.parse_args()

    from rag.ask import ask
    from rag.embedding import load_embedder
    from rag.evaluation import load_questions
    from rag.settings import Settings
    from rag.store import Index

    settings = Settings()
    print(f"cpu: {cpu()}; {CORES} cores; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    vectors = getattr(settings, "candidate_vectors", "separate")
    print(
        f"ours: backend {settings.backend}, candidate vectors {vectors}, reader {'on' if settings.use_reader else 'off'}, {settings.workers} worker(s)"
    )
    embedder = load_embedder(settings.model, backend=settings.backend, query_threads=settings.threads, cache_size=0)
    tutorial = Tutorial()
    work = Path(tempfile.mkdtemp(prefix="rag-vs-"))
    rows: list[tuple[str, float, float, str, float, bool]] = []
    try:
        print("index time (median of interleaved builds):")
        wanted = {x for x in args.only.split(",") if x}
        seed_index = work / "seed-index"
        for name, path in corpora(args).items():
            if wanted and name not in wanted and name != "seed":
                continue
            repeat = args.repeat_large if name == "squad-dev" else args.repeat
            ours, theirs = index_times(name, path, tutorial, embedder, settings.chunker(), repeat, seed_index if name == "seed" else None)
            rows.append((f"index time, {name} (s)", ours, theirs, "<=", 1.0, ours / theirs <= 1.0))

        # -- in process --------------------------------------------------------------------------
        index = Index.load(seed_index)
        tutorial.build([d.text for d in index.documents.values()])
        retrieval, answering = settings.retrieval(), settings.answering()
        questions = [q.question for q in load_questions(args.questions)]
        for q in questions[:10]:  # warm-up
            ask(index, embedder, q, retrieval=retrieval, answering=answering)
            tutorial.search(q, 1)
            tutorial.search(q, CORES)
        lat: dict[str, list[float]] = {"ours": [], "one": [], "all": []}
        for _ in range(args.passes):
            for q in questions:
                t0 = time.perf_counter()
                ask(index, embedder, q, retrieval=retrieval, answering=answering)
                t1 = time.perf_counter()
                tutorial.search(q, 1)
                t2 = time.perf_counter()
                tutorial.search(q, CORES)
                t3 = time.perf_counter()
                lat["ours"].append((t1 - t0) * 1e3)
                lat["one"].append((t2 - t1) * 1e3)
                lat["all"].append((t3 - t2) * 1e3)
        n = len(lat["ours"])
        print(f"in process, {n} questions each ({args.passes} passes over {args.questions.name}), ms:")
        for key, label in (
            ("ours", "ours, ask (reader on)"),
            ("one", "tutorial, retrieval, 1 thread"),
            ("all", f"tutorial, retrieval, {CORES} threads"),
        ):
            print(f"  {label:34s} p50 {ms(lat[key], 50):7.2f}  p95 {ms(lat[key], 95):7.2f}")
        ref_key = min(("one", "all"), key=lambda k_: ms(lat[k_], 50))
        reference = ms(lat[ref_key], 50)
        rows.append(("in-process p50 (ms)", ms(lat["ours"], 50), reference, "<=", 0.5, ms(lat["ours"], 50) / reference <= 0.5))

        # -- over HTTP -------------------------------------------------------------------------------
        if not args.skip_http:
            p50, rps, errors = http(seed_index, questions, args.requests)
            rows.append(("HTTP /ask p50, concurrency 1 (ms)", p50, reference, "<=", 0.6, p50 / reference <= 0.6))
            rows.append(("HTTP /ask requests/s, concurrency 8", rps, float("nan"), ">=", 150.0, rps >= 150.0))
            if errors:
                print(f"note: {errors} HTTP requests failed")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"tutorial reference for latency: its retrieval at {'1 thread' if ref_key == 'one' else f'{CORES} threads'} (the faster)")
    print(f"{'measure':40s} {'ours':>9s} {'tutorial':>9s} {'ratio':>7s} {'bar':>9s}  met")
    for label, ours_v, theirs_v, op, bar, met in rows:
        if np.isnan(theirs_v):
            print(f"{label:40s} {ours_v:9.1f} {'':>9s} {'':>7s} {op + ' ' + format(bar, 'g'):>9s}  {'yes' if met else 'NO'}")
        else:
            print(
                f"{label:40s} {ours_v:9.2f} {theirs_v:9.2f} {ours_v / theirs_v:7.2f} {op + ' ' + format(bar, 'g') + 'x':>9s}  {'yes' if met else 'NO'}"
            )


def http(index: Path, questions: list[str], n_requests: int) -> tuple[float, float, int]:
    """p50 at concurrency 1 (each question once per pass, two passes) and requests/s at concurrency 8,
    from ``rag serve`` in its own process, question cache off (no answer is a cache hit)."""
    import subprocess

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, RAG_CORPUS=str(ROOT / "corpus"), RAG_INDEX=str(index), RAG_QUERY_CACHE="0")
    proc = subprocess.Popen([sys.executable, "-m", "rag", "serve", "--port", str(port)], cwd=ROOT, env=env)
    try:
        wait_ready(url, proc)
        run(url, 4, 2 * 16, questions[:16])  # warm-up
        lat1, _, e1 = run(url, 1, 2 * len(questions), questions)
        lat8, wall, e8 = run(url, 8, n_requests, questions)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    print(f"HTTP: concurrency 1, {len(lat1)} requests: p50 {ms(lat1, 50):.2f} p95 {ms(lat1, 95):.2f} ms")
    print(f"HTTP: concurrency 8, {len(lat8)} requests: {len(lat8) / wall:.1f} requests/s, p50 {ms(lat8, 50):.1f} p95 {ms(lat8, 95):.1f} ms")
    return ms(lat1, 50), len(lat8) / wall, e1 + e8


if __name__ == "__main__":
    main()
