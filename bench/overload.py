"""Overload: POST /ask at concurrency 16, then at 300 against a limit of 32 in flight.

Starts `rag serve` in a subprocess (the real model, the seed corpus, a temporary index, RAG_MAX_IN_FLIGHT
as given), then fires from one asyncio process (aiohttp):
  1. ``--requests`` /ask at concurrency 16, under the limit: every answer must be a 2xx;
  2. ``--requests`` /ask at concurrency 300, the clients arriving over ``--ramp`` seconds (1; 0 opens
     300 connections in one millisecond): those over the limit are refused (503, Retry-After), and
     the refusals must come fast (p95 < 50 ms) while the accepted ones keep their latency (p95 within
     2x of step 1's). A refused client waits as the server says before it asks again, as OpenAI's
     client does (Retry-After-Ms first, else Retry-After; ``--whole-seconds`` reads only Retry-After,
     as simpler clients do); ``--no-backoff`` asks again at once, a storm that measures how fast a
     refusal can be at all (in a closed loop its latency is the queue of everyone else's refusals).
Prints the figures and whether each bar is met; exits 1 when one is not.

    .venv/bin/python bench/overload.py [--requests 10000] [--limit 32]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_bench import QUESTIONS, ROOT, free_port, pct, stop_server, wait_ready

ERRORS: Counter[str] = Counter()  # transport errors (status 0) by kind


def retry_wait(headers, whole_seconds: bool = False) -> float | None:
    """Seconds a refused client waits, read as OpenAI's client reads them."""
    order = (("retry-after", 1),) if whole_seconds else (("retry-after-ms", 1000), ("retry-after", 1))
    for name, divisor in order:
        if (value := headers.get(name)) is not None:
            return float(value) / divisor
    return None


async def fire(
    url: str, concurrency: int, n: int, backoff: bool = True, whole_seconds: bool = False, ramp: float = 0.0
) -> list[tuple[int, float]]:
    """(status, seconds) of ``n`` POST /ask over ``concurrency`` connections; status 0 for a transport error.
    A refused client waits as Retry-After asks before its next request, unless ``backoff`` is off.
    The clients arrive evenly over ``ramp`` seconds, as load tools ramp them (locust's spawn rate, k6's
    stages): at 0 all open their connections in the same millisecond.
    aiohttp, not httpx: at 300 connections httpx's own pool was the bottleneck (the server saw few
    requests at once, the clients' waits were the "latency")."""
    results: list[tuple[int, float]] = []
    counter = iter(range(n))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(url, connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session:

        async def worker(k: int) -> None:
            await asyncio.sleep(ramp * k / concurrency)
            for i in counter:
                t0 = time.perf_counter()
                try:
                    async with session.post("/ask", json={"question": QUESTIONS[i % len(QUESTIONS)]}) as r:
                        await r.read()
                        status, retry_after = r.status, retry_wait(r.headers, whole_seconds)
                except (TimeoutError, aiohttp.ClientError) as e:
                    status, retry_after = 0, None
                    ERRORS[type(e).__name__] += 1
                results.append((status, time.perf_counter() - t0))
                if backoff and status == 503 and retry_after:
                    await asyncio.sleep(retry_after)

        await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return results


def _refusals_logged(log: Path) -> list[float]:
    """The latency_ms of every 503 in the server's access log: its own time, without the clients'."""
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                row = json.loads(line)
                if row.get("status") == 503 and row.get("path") == "/ask":
                    out.append(float(row["latency_ms"]))
    return out


def summary(label: str, times: list[float]) -> str:
    if not times:
        return f"{label:<24} {0:>6}"
    ms = [t * 1e3 for t in times]
    return f"{label:<24} {len(ms):>6} {statistics.median(ms):>8.1f} {pct(ms, 95):>8.1f} {pct(ms, 99):>8.1f} {max(ms):>8.1f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=10_000, help="requests per step")
    ap.add_argument("--limit", type=int, default=32, help="RAG_MAX_IN_FLIGHT of the server")
    ap.add_argument("--low", type=int, default=16, help="concurrency of step 1")
    ap.add_argument("--high", type=int, default=300, help="concurrency of step 2")
    ap.add_argument("--no-backoff", action="store_true", help="refused clients ask again at once, ignoring Retry-After")
    ap.add_argument("--ramp", type=float, default=1.0, help="seconds over which step 2's clients arrive (0: all at once)")
    ap.add_argument("--whole-seconds", action="store_true", help="refused clients read Retry-After only, not Retry-After-Ms")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="rag-overload-") as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = dict(os.environ, RAG_CORPUS=str(ROOT / "corpus"), RAG_INDEX=str(Path(tmp) / "index"), RAG_MAX_IN_FLIGHT=str(args.limit))
        with open(Path(tmp) / "server.log", "w") as log:  # the access log: one line per request
            proc = subprocess.Popen([sys.executable, "-m", "rag", "serve", "--port", str(port)], cwd=ROOT, env=env, stderr=log)
            try:
                t0 = time.perf_counter()
                wait_ready(url, proc)
                print(
                    f"server ready in {time.perf_counter() - t0:.1f} s; {platform.processor() or platform.machine()}, cpu_count={os.cpu_count()}"
                )
                asyncio.run(fire(url, 4, 4 * len(QUESTIONS)))  # warm-up
                t0 = time.perf_counter()
                low = asyncio.run(fire(url, args.low, args.requests))
                low_wall = time.perf_counter() - t0
                t0 = time.perf_counter()
                high = asyncio.run(
                    fire(url, args.high, args.requests, backoff=not args.no_backoff, whole_seconds=args.whole_seconds, ramp=args.ramp)
                )
                high_wall = time.perf_counter() - t0
            finally:
                stop_server(proc)
        server_refusals = _refusals_logged(Path(tmp) / "server.log")

    low_ok = [t for s, t in low if 200 <= s < 300]
    accepted = [t for s, t in high if 200 <= s < 300]
    refused = [t for s, t in high if s == 503]
    other_high = len(high) - len(accepted) - len(refused)
    print(f"\n{'':<24} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    print(summary(f"c={args.low}: 2xx", low_ok))
    print(summary(f"c={args.high}: accepted (2xx)", accepted))
    print(summary(f"c={args.high}: refused (503)", refused))
    print(f"\nc={args.low}: {len(low)} requests in {low_wall:.1f} s ({len(low) / low_wall:.1f}/s), non-2xx {len(low) - len(low_ok)}")
    print(
        f"c={args.high} (limit {args.limit}, arriving over {args.ramp:g} s, {'no backoff' if args.no_backoff else 'refused clients wait as ' + ('Retry-After' if args.whole_seconds else 'Retry-After-Ms') + ' says'}): "
        f"{len(high)} requests in {high_wall:.1f} s, accepted {len(accepted)} "
        f"({len(accepted) / high_wall:.1f}/s), refused {len(refused)}, other {other_high}"
    )
    if server_refusals:
        print(summary("refused, server's view", [t / 1e3 for t in server_refusals]) + "  (access log: request in to response out)")
    if ERRORS:
        print("transport errors:", ", ".join(f"{k} {v}" for k, v in ERRORS.most_common()))
    p95_low = pct([t * 1e3 for t in low_ok], 95) if low_ok else float("inf")
    p95_acc = pct([t * 1e3 for t in accepted], 95) if accepted else float("inf")
    p95_ref = pct([t * 1e3 for t in refused], 95) if refused else 0.0
    bars = [
        (f"c={args.low}: no non-2xx", len(low) == len(low_ok)),
        (f"c={args.high}: refused p95 {p95_ref:.1f} ms < 50 ms", p95_ref < 50),
        (f"c={args.high}: accepted p95 {p95_acc:.1f} ms <= 2 x {p95_low:.1f} ms", p95_acc <= 2 * p95_low),
        (f"c={args.high}: every response a 2xx or a 503", other_high == 0),
    ]
    print()
    for what, ok in bars:
        print(f"{'met' if ok else 'NOT MET':>8}  {what}")
    return 0 if all(ok for _, ok in bars) else 1


if __name__ == "__main__":
    sys.exit(main())
