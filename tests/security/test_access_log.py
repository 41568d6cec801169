"""One JSON line per request on the ``rag.access`` logger, and on stderr under ``rag serve``."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from datetime import datetime

import httpx
import pytest

from tests.api_support import BELGIUM_Q, ROOT, UNANSWERABLE_Q

pytest_plugins = ["tests.api_fixtures"]

FIELDS = {"time", "method", "path", "status", "latency_ms", "request_id", "client"}


def _lines(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "rag.access"]


@pytest.mark.slow
def test_one_json_line_per_request_without_the_question(loaded, caplog):
    c = loaded()
    caplog.set_level(logging.INFO, logger="rag.access")
    c.post("/ask", json={"question": BELGIUM_Q}, headers={"X-Request-ID": "line-1"})
    c.post("/ask", json={"question": UNANSWERABLE_Q})
    c.get("/healthz")
    c.post("/ask", json={"question": ""})
    answered, abstained, health, invalid = _lines(caplog)
    assert set(health) == FIELDS and set(answered) == FIELDS | {"abstained"}
    assert answered["request_id"] == "line-1" and answered["abstained"] is False and answered["status"] == 200
    assert abstained["abstained"] is True
    assert invalid["status"] == 422 and invalid["abstained"] is None
    assert health["method"] == "GET" and health["path"] == "/healthz" and health["latency_ms"] >= 0
    assert datetime.fromisoformat(health["time"]).tzinfo is not None
    assert BELGIUM_Q not in caplog.text and "question" not in answered


@pytest.mark.slow
def test_the_question_is_logged_only_when_asked_for(loaded, caplog):
    c = loaded(log_questions=True)
    caplog.set_level(logging.INFO, logger="rag.access")
    c.post("/chat", json={"messages": [{"role": "user", "content": BELGIUM_Q}]})
    (line,) = _lines(caplog)
    assert line["question"] == BELGIUM_Q and line["abstained"] is False


def test_a_path_cannot_forge_a_log_line(bare, caplog):
    caplog.set_level(logging.INFO, logger="rag.access")
    bare().get("/x%0A%7B%22status%22%3A200%7D")
    (record,) = [r for r in caplog.records if r.name == "rag.access"]
    assert "\n" not in record.getMessage() and json.loads(record.getMessage())["status"] == 404


@pytest.mark.slow
def test_rag_serve_writes_the_lines_to_stderr(real_index, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RAG_INDEX": str(real_index.path)}
    err = (tmp_path / "stderr").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag", "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, (tmp_path / "stderr").read_text()
            time.sleep(0.2)
        r = httpx.post(f"{url}/ask", json={"question": BELGIUM_Q}, headers={"X-Request-ID": "from-the-test"}, timeout=30)
        assert r.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    lines = [json.loads(line) for line in (tmp_path / "stderr").read_text().splitlines() if line.startswith("{")]
    (ask,) = [line for line in lines if line["request_id"] == "from-the-test"]
    assert ask["path"] == "/ask" and ask["status"] == 200 and ask["abstained"] is False and ask["client"] == "127.0.0.1"
    assert not any("HTTP/1.1" in line for line in (tmp_path / "stderr").read_text().splitlines())  # no uvicorn access log
