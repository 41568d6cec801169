"""HTTP latency benchmark of POST /ask: p50/p95 at concurrency 1 and 8, requests/s at concurrency 8.

Starts uvicorn in a subprocess (so the client threads do not share the server's GIL) on a free port
over the real corpus and a real index, waits for /readyz, warms up, then measures.

    .venv/bin/python bench/http_bench.py [--corpus corpus] [--index DIR] [--requests 200] [--workers 1]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]

QUESTIONS = [
    "What is Belgium's focus area?",
    "What is Poland's focus area?",
    "What is Belgium's proposed collaboration area?",
    "What position does Pete Hegseth hold?",
    "Which three countries is Pete Hegseth scheduled to visit?",
    "What is the capital of France?",
    "Which foundational NATO principle does Hegseth's itinerary reflect the U.S. commitment to?",
    "What does NATO's Trident Juncture exercise involve?",
    "How is climate change affecting defense alliances?",
    "Which countries are involved in the Joint Strike Fighter program?",
    "Why does Poland oppose sending troops to Ukraine?",
    "How many Patriot batteries has the Netherlands deployed to Poland?",
    "What is the Intrepid Spirit Network?",
    "How are the U.S. and Vietnam strengthening military ties?",
    "What role do non-state actors play in military diplomacy?",
    "What is Germany's focus area?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_server(proc: subprocess.Popen) -> None:
    """SIGTERM (a graceful stop), then SIGKILL if it has not ended within 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def start_server(corpus: Path, index: Path, port: int, workers: int) -> subprocess.Popen:
    env = dict(os.environ, RAG_CORPUS=str(corpus), RAG_INDEX=str(index))
    cmd = [sys.executable, "-m", "rag", "serve", "--port", str(port), "--workers", str(workers)]  # as users run it
    return subprocess.Popen(cmd, cwd=ROOT, env=env)


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 300, workers: int = 1) -> None:
    """Until /readyz says 200 on ``10 * workers`` fresh connections in a row: with several workers,
    one ready worker answers while the others are still loading (and taking the CPU)."""
    deadline = time.monotonic() + timeout
    streak = 0
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with code {proc.returncode}")
        try:
            ok = httpx.get(f"{url}/readyz", timeout=5, headers={"Connection": "close"}).status_code == 200
        except httpx.TransportError:
            ok = False
        streak = streak + 1 if ok else 0
        if streak >= 10 * workers:
            return
        time.sleep(0.05 if ok else 0.2)
    raise SystemExit("the server never became ready")


def run(url: str, concurrency: int, n_requests: int, questions: list[str] = QUESTIONS) -> tuple[list[float], float, int]:
    """Latencies (ms) of ``n_requests`` POST /ask over ``concurrency`` threads, wall seconds, errors."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(n_requests))

    def worker() -> None:
        nonlocal errors
        with httpx.Client(base_url=url, timeout=60) as c:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                q = questions[i % len(questions)]
                t0 = time.perf_counter()
                r = c.post("/ask", json={"question": q})
                dt = (time.perf_counter() - t0) * 1e3
                with lock:
                    latencies.append(dt)
                    if r.status_code != 200:
                        errors += 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - t0, errors


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    ap.add_argument("--index", type=Path, default=None, help="index folder (default: a fresh temporary one)")
    ap.add_argument("--requests", type=int, default=200, help="requests per concurrency level")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument(
        "--no-cache-repeat", action="store_true", help="make every question unique (suffix) so the query-vector cache never hits"
    )
    args = ap.parse_args()

    tmp = None
    index = args.index
    if index is None:
        tmp = tempfile.TemporaryDirectory(prefix="rag-bench-")
        index = Path(tmp.name) / "index"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_server(args.corpus.resolve(), index.resolve(), port, args.workers)
    try:
        t0 = time.perf_counter()
        wait_ready(url, proc, workers=args.workers)
        print(f"server ready in {time.perf_counter() - t0:.1f} s (uvicorn, {args.workers} worker(s), cpu_count={os.cpu_count()})")
        run(url, 4, 2 * len(QUESTIONS))  # warm-up: every question twice
        rows = []
        for c in (1, 8):
            questions = QUESTIONS
            if args.no_cache_repeat:  # a new suffix per request and level: the query cache never hits
                questions = [f"{QUESTIONS[i % len(QUESTIONS)]} (run {c}.{i})" for i in range(args.requests)]
            lat, wall, errors = run(url, c, args.requests, questions)
            rows.append((c, len(lat), statistics.median(lat), pct(lat, 95), len(lat) / wall, errors))
        print()
        print(
            "questions:",
            "unique per request (query cache misses)"
            if args.no_cache_repeat
            else f"{len(QUESTIONS)} fixed questions, repeated (query-vector cache hits after warm-up)",
        )
        print(f"{'concurrency':>11} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>8} {'errors':>6}")
        for c, n, p50, p95, rps, errors in rows:
            print(f"{c:>11} {n:>8} {p50:>8.1f} {p95:>8.1f} {rps:>8.1f} {errors:>6}")
    finally:
        stop_server(proc)
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()
