"""Ours beside the tutorial pipeline a user would otherwise write, in one run on this host.

The tutorial: LangChain ``RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)``, the same
MiniLM through sentence-transformers, FAISS ``IndexFlatIP`` over normalised vectors; a question is
embedded and searched (top 5), nothing more. Ours: ``rag.store.build_index`` from scratch with the
production embedder, ``rag.ask.ask`` with the production answer settings (reader on), and ``POST /ask``
through ``rag serve`` in its own process, question cache off.

Every measure of ours is paired with one of the tutorial's taken right before or after it (the order
alternates), so a neighbour's burst of work slows both alike; a ratio is the median of the pairs'
ratios. Figures are comparable only within one run:
- index time on three corpora (the seed corpus, the handbook, SQuAD dev's paragraphs), both on every
  core; documents are read once beforehand, for both. CPU seconds too: on a shared host they move less
  than wall time;
- in-process latency over the seed-dev questions: ours ``ask`` against the tutorial's retrieval on one
  intra-op thread (as ours runs a question; its default, every core, is timed apart and shown);
- ``/ask`` over HTTP at concurrency 1 against the tutorial's in-process retrieval, pair by pair; then
  requests/s at concurrency 8.

    .venv/bin/python bench/versus_tutorial.py [--repeat 3] [--passes 3] [--requests 800] [--skip-http]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np

# this checkout's rag, not whichever one the environment installed
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]
from core import cpu
from http_bench import free_port, run, stop_server, wait_ready

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

    def search(self, question: str, threads: int = 1):
        self.torch.set_num_threads(threads)
        v = self.model.encode([question], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return self.index.search(np.ascontiguousarray(v, dtype=np.float32), K)


class Pairs:
    """Paired samples (wall ms or s, CPU) of ours and the tutorial."""

    def __init__(self) -> None:
        self.ours: list[tuple[float, float]] = []
        self.theirs: list[tuple[float, float]] = []

    def add(self, who: str, wall: float, cpu_s: float) -> None:
        (self.ours if who == "ours" else self.theirs).append((wall, cpu_s))

    def p(self, who: str, q: float, i: int = 0) -> float:
        return float(np.percentile([x[i] for x in (self.ours if who == "ours" else self.theirs)], q))

    def ratio(self, i: int = 0) -> float:
        """Median over the pairs of ours / tutorial."""
        return statistics.median(a[i] / b[i] for a, b in zip(self.ours, self.theirs))


def timed(fn, *args, **kwargs):
    w, c = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - w, time.process_time() - c


def corpora(args) -> dict[str, Path]:
    found = {"seed": ROOT / "corpus", "handbook": ROOT / "eval" / "corpora" / "tts-handbook", "squad-dev": args.squad}
    wanted = {x for x in args.only.split(",") if x} | {"seed"}
    for name, path in list(found.items()):
        if args.only and name not in wanted:
            del found[name]
        elif not path.exists():
            print(f"note: {name} left out: {path} is not here")
            del found[name]
    return found


def index_times(name: str, path: Path, tutorial: Tutorial, embedder, chunker, repeat: int, keep: Path | None) -> Pairs:
    from rag.corpus import load_corpus
    from rag.store import build_index

    docs = load_corpus(path)
    texts = [d.text for d in docs]
    pairs = Pairs()
    report = n_chunks = None
    for r in range(repeat):
        # alternate who goes first: a neighbour's burst should not always land on the same one
        for who in ("ours", "tutorial") if r % 2 == 0 else ("tutorial", "ours"):
            if who == "ours":
                with tempfile.TemporaryDirectory(prefix="rag-vs-") as tmp:
                    report, wall, cpu_s = timed(build_index, docs, embedder, Path(tmp) / "index", chunker=chunker)
                    if keep is not None and not keep.exists():
                        shutil.copytree(Path(tmp) / "index", keep)
            else:
                n_chunks, wall, cpu_s = timed(tutorial.build, texts)
            pairs.add(who, wall, cpu_s)
    assert report is not None
    print(
        f"  {name}: {len(docs)} documents; ours {report.chunks} passages + {report.candidates} candidates, "
        f"{report.embedded_texts} texts encoded; tutorial {n_chunks} chunks. Median wall s: ours {pairs.p('ours', 50):.2f}, "
        f"tutorial {pairs.p('tutorial', 50):.2f}; CPU s: ours {pairs.p('ours', 50, 1):.2f}, tutorial {pairs.p('tutorial', 50, 1):.2f}"
    )
    return pairs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="index builds of each small corpus per pipeline")
    ap.add_argument("--repeat-large", type=int, default=1, help="... of SQuAD dev")
    ap.add_argument("--passes", type=int, default=3, help="passes over the questions, in process")
    ap.add_argument("--requests", type=int, default=800, help="requests at concurrency 8")
    ap.add_argument("--questions", type=Path, default=ROOT / "eval" / "sets" / "seed-dev.jsonl", help="their texts are the load")
    ap.add_argument("--squad", type=Path, default=ROOT.parent / "shared" / "bench" / "squad-dev" / "corpus.jsonl")
    ap.add_argument("--only", default="", help="comma-separated corpora to index (the seed corpus is always built)")
    ap.add_argument("--skip-http", action="store_true")
    args = ap.parse_args()

    from rag.ask import ask
    from rag.evaluation import load_questions
    from rag.settings import Settings
    from rag.store import load_index

    settings = Settings()
    print(f"cpu: {cpu()}; {CORES} cores; load average {load()}")
    vectors = getattr(settings, "candidate_vectors", "separate")
    reader = "on" if settings.use_reader else "off"
    print(f"ours: backend {settings.backend}, candidate vectors {vectors}, reader {reader}, {settings.workers} server worker(s)")
    embedder = settings.embedder(cache_size=0)
    tutorial = Tutorial()
    work = Path(tempfile.mkdtemp(prefix="rag-vs-"))
    rows: list[tuple[str, float, float, float, str, float, float | None]] = []
    try:
        print("index time:")
        seed_index = work / "seed-index"
        for name, path in corpora(args).items():
            repeat = args.repeat_large if name == "squad-dev" else args.repeat
            pairs = index_times(name, path, tutorial, embedder, settings.chunker(), repeat, seed_index if name == "seed" else None)
            rows.append((f"index time, {name} (s)", pairs.p("ours", 50), pairs.p("tutorial", 50), pairs.ratio(), "<=", 1.0, pairs.ratio(1)))

        # -- in process --------------------------------------------------------------------------
        index = load_index(seed_index)
        tutorial.build([d.text for d in index.documents.values()])
        retrieval, answering = settings.retrieval(), settings.answering()
        questions = [q.question for q in load_questions(args.questions)]
        for q in questions[:10]:  # warm-up
            ask(index, embedder, q, retrieval=retrieval, answering=answering)
            tutorial.search(q)
        pairs = Pairs()
        for n in range(args.passes):
            for i, q in enumerate(questions):
                for who in ("ours", "tutorial") if (i + n) % 2 == 0 else ("tutorial", "ours"):
                    if who == "ours":
                        _, wall, cpu_s = timed(ask, index, embedder, q, K, retrieval, answering)
                    else:
                        _, wall, cpu_s = timed(tutorial.search, q)
                    pairs.add(who, wall * 1e3, cpu_s * 1e3)
        print(f"in process, {len(pairs.ours)} questions each ({args.passes} passes over {args.questions.name}), ms:")
        for who, label in (("ours", "ours, ask (reader on)"), ("tutorial", "tutorial, retrieval, 1 thread")):
            print(f"  {label:32s} p50 {pairs.p(who, 50):7.2f}  p95 {pairs.p(who, 95):7.2f}  CPU p50 {pairs.p(who, 50, 1):7.2f}")
        alone = [timed(tutorial.search, q, CORES)[1] * 1e3 for q in questions[:30]]  # apart: its idle threads spin
        label = f"tutorial, retrieval, {CORES} threads"
        print(f"  {label:32s} p50 {np.percentile(alone, 50):7.2f}  p95 {np.percentile(alone, 95):7.2f}  (first 30 questions, timed apart)")
        rows.append(("in-process p50 (ms)", pairs.p("ours", 50), pairs.p("tutorial", 50), pairs.ratio(), "<=", 0.5, pairs.ratio(1)))

        # -- over HTTP -------------------------------------------------------------------------------
        if not args.skip_http:
            http_pairs, rps, errors, during = http(seed_index, questions, args.requests, tutorial)
            rows.append(
                (
                    "HTTP /ask p50, concurrency 1 (ms)",
                    http_pairs.p("ours", 50),
                    http_pairs.p("tutorial", 50),
                    http_pairs.ratio(),
                    "<=",
                    0.6,
                    None,
                )
            )
            rows.append((f"HTTP /ask requests/s, concurrency 8 (load {during})", rps, float("nan"), float("nan"), ">=", 150.0, None))
            if errors:
                print(f"note: {errors} HTTP requests failed")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print()
    print("ratio: median over adjacent pairs of ours / tutorial (wall); CPU: the same for CPU time")
    print(f"{'measure':46s} {'ours':>9s} {'tutorial':>9s} {'ratio':>7s} {'CPU':>6s} {'bar':>9s}  met")
    for label, ours_v, theirs_v, ratio, op, bar, cpu_ratio in rows:
        cpu_col = f"{cpu_ratio:6.2f}" if cpu_ratio is not None else f"{'':>6s}"
        if np.isnan(ratio):
            met = ours_v >= bar
            print(f"{label:46s} {ours_v:9.1f} {'':>9s} {'':>7s} {cpu_col} {op + ' ' + format(bar, 'g'):>9s}  {'yes' if met else 'NO'}")
        else:
            met = ratio <= bar
            bar_s = op + " " + format(bar, "g") + "x"
            print(f"{label:46s} {ours_v:9.2f} {theirs_v:9.2f} {ratio:7.2f} {cpu_col} {bar_s:>9s}  {'yes' if met else 'NO'}")
    print(f"load average at the end: {load()}")


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def http(index: Path, questions: list[str], n_requests: int, tutorial: Tutorial) -> tuple[Pairs, float, int, str]:
    """``rag serve`` in its own process (question cache off): each /ask at concurrency 1 paired with the
    tutorial's retrieval of the same question in this process, then requests/s at concurrency 8."""
    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, RAG_CORPUS=str(ROOT / "corpus"), RAG_INDEX=str(index), RAG_QUERY_CACHE="0")
    # its access log (a line per request) would bury the figures: it goes beside the index
    log = open(index.parent / "server.log", "w")  # noqa: SIM115 (open while the server runs)
    proc = subprocess.Popen([sys.executable, "-m", "rag", "serve", "--port", str(port)], cwd=ROOT, env=env, stderr=log)
    pairs = Pairs()
    try:
        wait_ready(url, proc)
        run(url, 4, 2 * 16, questions[:16])  # warm-up
        errors = 0
        with httpx.Client(base_url=url, timeout=60) as client:
            for n in range(2):
                for i, q in enumerate(questions):
                    for who in ("ours", "tutorial") if (i + n) % 2 == 0 else ("tutorial", "ours"):
                        if who == "ours":
                            r, wall, _ = timed(client.post, "/ask", json={"question": q})
                            errors += r.status_code != 200
                        else:
                            _, wall, _ = timed(tutorial.search, q)
                        pairs.add(who, wall * 1e3, 0.0)
        lat8, wall8, e8 = run(url, 8, n_requests, questions)
        during = load()
    finally:
        stop_server(proc)
    print(
        f"HTTP: concurrency 1, {len(pairs.ours)} requests: p50 {pairs.p('ours', 50):.2f} p95 {pairs.p('ours', 95):.2f} ms "
        f"(tutorial in process, paired: p50 {pairs.p('tutorial', 50):.2f})"
    )
    print(
        f"HTTP: concurrency 8, {len(lat8)} requests: {len(lat8) / wall8:.1f} requests/s, "
        f"p50 {np.percentile(lat8, 50):.1f} p95 {np.percentile(lat8, 95):.1f} ms"
    )
    return pairs, len(lat8) / wall8, errors + e8, during


if __name__ == "__main__":
    main()
