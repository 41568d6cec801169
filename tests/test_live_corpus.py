"""The live corpus against `rag serve` started by the test: uploads answered at once, reads that never
see a deleted document during writes, and writes that survive kill -9."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.api_support import BELGIUM_Q, CORPUS
from tests.documents_support import ARTICLE_A, ARTICLE_HTML, ARTICLE_Q, PDF_A, PDF_PAGES, PDF_Q, make_pdf

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`rag serve` in its own process, on a copy of the seed corpus."""

    def __init__(self, base: Path, env: dict[str, str] | None = None):
        self.base = base
        if not (base / "corpus").exists():
            shutil.copytree(CORPUS, base / "corpus")
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "RAG_CORPUS": str(base / "corpus"),
            "RAG_INDEX": str(base / "index"),
            "RAG_DOCUMENTS": str(base / "documents"),
            **(env or {}),
        }
        self.log = (base / "server.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rag", "serve", "--port", str(self.port)], cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.3)
        raise RuntimeError(f"rag serve did not become ready: {(base / 'server.log').read_text()[-2000:]}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        self.log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("live"))
    yield s
    s.stop()


def test_uploaded_html_and_pdf_are_answered_then_deleted(server):
    c = httpx.Client(base_url=server.url, timeout=60)
    files = [("file", ("observatory.html", ARTICLE_HTML, "text/html")), ("file", ("bridge.pdf", make_pdf(PDF_PAGES), "application/pdf"))]
    r = c.post("/documents", files=files)
    assert r.status_code == 201, r.text
    uploaded = time.monotonic()
    a = c.post("/ask", json={"question": ARTICLE_Q}).json()
    b = c.post("/ask", json={"question": PDF_Q}).json()
    assert time.monotonic() - uploaded < 5  # answered within 5 s of the upload returning
    assert ARTICLE_A in a["answer"] and PDF_A in b["answer"]
    for ans, doc_id in ((a, "observatory"), (b, "bridge")):
        text = c.get(f"/documents/{doc_id}").json()["text"]
        cite = next(x for x in ans["citations"] if x["doc_id"] == doc_id)
        assert text[cite["start"] : cite["end"]] == cite["text"]
    assert next(x for x in b["citations"] if x["doc_id"] == "bridge")["page"] == 2
    for doc_id in ("observatory", "bridge"):
        assert c.delete(f"/documents/{doc_id}").status_code == 200
    assert c.post("/ask", json={"question": ARTICLE_Q}).json()["abstained"]
    assert c.post("/ask", json={"question": PDF_Q}).json()["abstained"]
    listed = [d["id"] for d in c.get("/documents", params={"limit": 1000}).json()["documents"]]
    assert "observatory" not in listed and "bridge" not in listed


WORDS = [
    "amber",
    "birch",
    "cobalt",
    "dune",
    "ember",
    "fjord",
    "garnet",
    "harbor",
    "indigo",
    "juniper",
    "kestrel",
    "lagoon",
    "meadow",
    "nectar",
    "orchid",
    "pebble",
    "quartz",
    "raven",
    "saffron",
    "tundra",
]


def test_reads_during_writes_never_cite_a_deleted_document(server):
    questions = [f"What is the codename of the {w} survey?" for w in WORDS] + [BELGIUM_Q, "Who is Pete Hegseth?"]
    deleted_at: dict[str, float] = {}
    errors: list[str] = []
    stop = threading.Event()

    def writer() -> None:
        c = httpx.Client(base_url=server.url, timeout=120)
        try:
            for i, w in enumerate(WORDS):
                text = f"The {w} survey ran for three years. The codename of the {w} survey is {w.upper()}-{i:02d}."
                r = c.post("/documents", json={"id": f"survey-{w}", "text": text})
                if r.status_code != 201:
                    errors.append(f"POST {r.status_code} {r.text}")
                if i >= 2:  # keep a few alive, delete the older ones
                    old = f"survey-{WORDS[i - 2]}"
                    r = c.delete(f"/documents/{old}")
                    if r.status_code != 200:
                        errors.append(f"DELETE {r.status_code} {r.text}")
                    deleted_at[old] = time.monotonic()  # acknowledged: from now on it must never be cited
        finally:
            stop.set()

    results: list[tuple[float, set[str]]] = []
    lock = threading.Lock()

    def reader(n: int) -> None:
        c = httpx.Client(base_url=server.url, timeout=120)
        q = questions[n % len(questions)]
        started = time.monotonic()
        r = c.post("/ask", json={"question": q})
        if r.status_code != 200:
            errors.append(f"ask {r.status_code} {r.text[:200]}")
            return
        with lock:
            results.append((started, {x["doc_id"] for x in r.json()["citations"]}))

    w = threading.Thread(target=writer)
    w.start()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(reader, range(2000)))
    w.join()
    assert not errors, errors[:5]
    assert len(results) == 2000
    for started, cited in results:
        for doc_id, gone in deleted_at.items():
            assert not (doc_id in cited and gone < started), f"{doc_id} cited by a request that started after its deletion"


def _strays(base: Path) -> list[str]:
    found = [p.name for p in base.iterdir() if p.name.startswith(".") and not p.name.endswith(".lock")]
    docs = base / "documents"
    if docs.exists():
        found += [p.name for p in docs.iterdir() if p.name.startswith(".") or (p.is_dir() and not (p / "meta.json").exists())]
    return found


@pytest.mark.parametrize("delay", [0.1, 0.8])
def test_kill_9_during_a_write_loses_nothing_acknowledged(tmp_path, delay):
    s = Server(tmp_path)
    try:
        c = httpx.Client(base_url=s.url, timeout=120)
        assert (
            c.post("/documents", json={"id": "acked", "text": "The Quillmoor ferry leaves the harbour at six every day."}).status_code
            == 201
        )

        def doomed() -> None:
            try:
                httpx.post(
                    f"{s.url}/documents", json={"id": "doomed", "text": "The Brackwater canal freezes in January. " * 40}, timeout=60
                )
            except httpx.HTTPError:
                pass

        t = threading.Thread(target=doomed)
        t.start()
        time.sleep(delay)
        s.kill()
        t.join()
    finally:
        s.stop() if s.proc.poll() is None else None
    again = Server(tmp_path)
    try:
        c = httpx.Client(base_url=again.url, timeout=60)
        ids = [d["id"] for d in c.get("/documents", params={"limit": 1000}).json()["documents"]]
        assert "acked" in ids
        a = c.post("/ask", json={"question": "When does the Quillmoor ferry leave?"}).json()
        assert a["answer"] and a["citations"][0]["doc_id"] == "acked"
        assert not _strays(tmp_path), _strays(tmp_path)
        assert c.post("/ask", json={"question": BELGIUM_Q}).status_code == 200
    finally:
        again.stop()
