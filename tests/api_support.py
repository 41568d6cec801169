"""Shared constants and helpers of the API tests (imported by module name; never ``from conftest import``)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"

BELGIUM_Q = "What is Belgium's focus area?"
BELGIUM_A = "Enhancement of Rapid Response forces"
POLAND_A = "Defense Infrastructure Development"
BELGIUM_COLLAB_A = "Cyber Defense Initiatives"
UNANSWERABLE_Q = "What is the capital of France?"

# The loopback names, and "testserver", the host TestClient addresses its requests to.
TEST_HOSTS = "localhost,127.0.0.1,[::1],testserver"

ANSWER_KEYS = {"question", "answer", "abstained", "confidence", "answer_span", "citations"}
CITATION_KEYS = {"doc_id", "title", "section", "start", "end", "text", "score", "page"}
PASSAGE_KEYS = {"rank", "doc_id", "title", "section", "start", "end", "text", "score", "page"}


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class LiveServer:
    """An app served by uvicorn in a daemon thread on a free 127.0.0.1 port."""

    def __init__(self, app, timeout: float = 60.0):
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)

    def wait_ready(self, timeout: float = 120.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = httpx.get(f"{self.url}/readyz", timeout=5)
            if r.status_code == 200:
                return
            time.sleep(0.1)
        raise RuntimeError(f"the test server never became ready: {r.text}")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
