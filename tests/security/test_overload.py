"""Answering requests beyond RAG_MAX_IN_FLIGHT are refused at once (503, Retry-After: 1); health,
metrics and pages never are."""

from __future__ import annotations

import asyncio
import os
import sys
import threading

import httpx
import pytest

from tests.api_support import BELGIUM_Q

pytest_plugins = ["tests.api_fixtures"]


def _held_app(tmp_path, limit: int):
    """The real app, with its answering routes held open until ``release`` is set."""
    from fastapi.routing import APIRoute
    from fastapi.testclient import TestClient

    from api.app import create_app
    from tests.security.conftest import settings_for

    release = threading.Event()
    entered = threading.Semaphore(0)

    async def held():
        entered.release()
        await asyncio.get_running_loop().run_in_executor(None, release.wait)
        return {"ok": True}

    app = create_app(settings_for(tmp_path, max_in_flight=limit))
    for path in ("/ask", "/v1/chat/completions"):  # first: found before the real routes
        app.router.routes.insert(0, APIRoute(path, held, methods=["POST"]))
    return TestClient(app, raise_server_exceptions=False), release, entered


def test_over_the_limit_is_503_at_once_and_the_rest_still_answers(tmp_path):
    client, release, entered = _held_app(tmp_path, limit=2)
    results: list[httpx.Response] = []
    workers = [
        threading.Thread(target=lambda p=p: results.append(client.post(p, json={"question": BELGIUM_Q})))
        for p in ("/ask", "/v1/chat/completions")
    ]
    try:
        for w in workers:
            w.start()
        assert entered.acquire(timeout=10) and entered.acquire(timeout=10)  # both held in flight
        busy = client.post("/ask", json={"question": BELGIUM_Q})
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
        assert "busy" in busy.json()["error"] and busy.json()["request_id"] == busy.headers["x-request-id"]
        # Clients refused together are told to come back at different times, around the second.
        waits = [int(client.post("/ask", json={"question": BELGIUM_Q}).headers["retry-after-ms"]) for _ in range(8)]
        assert all(500 <= w <= 1500 for w in waits) and len(set(waits)) > 1, waits
        busy_v1 = client.post("/v1/chat/completions", json={"messages": []})
        assert busy_v1.status_code == 503 and busy_v1.json()["error"]["type"] == "server_error"
        for method, path in (("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"), ("GET", "/static/app.js"), ("GET", "/")):
            assert client.request(method, path).status_code != 503 or path == "/readyz", path
        metrics = client.get("/metrics").text
        assert "rag_in_flight_requests 2.0" in metrics and "rag_overload_refused_total 10.0" in metrics
    finally:
        release.set()
        for w in workers:
            w.join(10)
    assert sorted(r.status_code for r in results) == [200, 200]
    assert client.post("/ask", json={"question": BELGIUM_Q}).status_code == 200  # the count went back down
    assert "rag_in_flight_requests 0.0" in client.get("/metrics").text


def test_document_writes_count_but_reads_do_not():
    from api.limits import _counted

    def scope(method, path):
        return {"type": "http", "method": method, "path": path}

    assert _counted(scope("POST", "/ask")) and _counted(scope("POST", "/search")) and _counted(scope("POST", "/chat"))
    assert _counted(scope("POST", "/documents")) and _counted(scope("PUT", "/documents/a")) and _counted(scope("DELETE", "/documents/a"))
    assert not _counted(scope("GET", "/documents/a")) and not _counted(scope("GET", "/healthz")) and not _counted(scope("GET", "/metrics"))


@pytest.mark.slow
def test_a_live_server_refuses_fast_beyond_the_limit(api_index, api_embedder, rag_settings):
    import time

    from api.app import create_app
    from tests.api_support import LiveServer

    server = LiveServer(create_app(rag_settings.model_copy(update={"max_in_flight": 2}), index=api_index, embedder=api_embedder))
    server.wait_ready()

    async def fire(n: int):
        async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=httpx.Limits(max_connections=n)) as c:

            async def one():
                t0 = time.perf_counter()
                r = await c.post("/ask", json={"question": BELGIUM_Q})
                return r, time.perf_counter() - t0

            return await asyncio.gather(*(one() for _ in range(n)))

    try:
        results = asyncio.run(fire(24))
    finally:
        server.stop()
    statuses = [r.status_code for r, _ in results]
    assert set(statuses) == {200, 503} and statuses.count(200) >= 2, statuses
    refused = [t for r, t in results if r.status_code == 503]
    assert all(r.headers["retry-after"] == "1" for r, _ in results if r.status_code == 503)
    assert max(refused) < 2.0, refused  # refused at once, not after waiting its turn


@pytest.mark.skipif(sys.platform != "linux", reason="a thread's own nice value is a Linux notion")
def test_model_work_runs_below_the_event_loop_in_cpu_priority():
    from api.deps import MODEL_NICE, run_model

    def nice_here() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    async def both() -> tuple[int, int]:
        return nice_here(), await run_model(nice_here)

    loop_nice, model_nice = asyncio.run(both())
    assert model_nice == loop_nice + MODEL_NICE or model_nice == 19


def test_a_request_that_finds_the_server_busy_is_answered_without_the_reader(loaded):
    from fastapi.routing import APIRoute

    client = loaded(max_in_flight=4, reader_max_in_flight=1)
    engine = client.app.state.engine
    assert engine.loaded.answering.reader is not None and engine.loaded.busy_answering.reader is None
    release, entered = threading.Event(), threading.Semaphore(0)

    async def held():
        entered.release()
        await asyncio.get_running_loop().run_in_executor(None, release.wait)
        return {"ok": True}

    client.app.router.routes.insert(0, APIRoute("/v1/chat/completions", held, methods=["POST"]))
    worker = threading.Thread(target=lambda: client.post("/v1/chat/completions", json={}))
    worker.start()
    try:
        assert entered.acquire(timeout=10)  # one in flight: the next one finds the server busy
        busy = client.post("/ask", json={"question": BELGIUM_Q})
        assert busy.status_code == 200 and busy.headers["x-rag-reader"] == "skipped" and busy.json()["answer"]
    finally:
        release.set()
        worker.join(10)
    calm = client.post("/ask", json={"question": BELGIUM_Q})
    assert calm.status_code == 200 and "x-rag-reader" not in calm.headers
    assert "rag_busy_answered_total 1.0" in client.get("/metrics").text
