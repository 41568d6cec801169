"""The HTTP service on the Milvus store: two apps (replicas) on one collection of the real Milvus
server, the real model. The first builds the index, the second serves it without embedding a
document; a document written through one is answered through the other."""

from __future__ import annotations

import shutil
import time
import uuid

import pytest
from fastapi.testclient import TestClient

from tests.api_support import BELGIUM_A, BELGIUM_Q, CORPUS, TEST_HOSTS

pytest_plugins = ["tests.milvus_fixtures"]

VAULT_Q = "When was the Marrowfield seed vault opened?"
VAULT = "The Marrowfield seed vault was opened in 1994 on the island of Tarn."


class Counting:
    """The real embedder, counting the passages it embeds (questions are embedded by embed_query)."""

    def __init__(self, inner):
        self.inner, self.passages = inner, 0

    def embed_batch(self, texts, *args, **kwargs):
        self.passages += len(texts)
        return self.inner.embed_batch(texts, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, embedder, milvus_server):
    from api.app import create_app
    from rag.settings import Settings
    from rag.stores.milvus import MilvusStore

    tmp = tmp_path_factory.mktemp("milvus-api")
    corpus = tmp / "corpus"
    shutil.copytree(CORPUS, corpus)
    collection = f"api_{uuid.uuid4().hex[:12]}"
    counters, clients = [], []
    try:
        for name in ("a", "b"):  # b starts once a has built the index
            s = Settings(
                corpus=corpus,
                index=tmp / f"index-{name}",
                documents=tmp / f"documents-{name}",
                allowed_hosts=TEST_HOSTS,
                vector_store="milvus",
                milvus_uri=milvus_server.uri,
                milvus_collection=collection,
                milvus_index="FLAT",
            )
            counting = Counting(embedder)
            app = create_app(s, embedder=counting)
            c = TestClient(app, raise_server_exceptions=False)
            c.__enter__()
            clients.append(c)
            counters.append(counting)
            assert app.state.engine.wait(300) and app.state.engine.ready, app.state.engine.error
        yield clients, counters, tmp
    finally:
        for c in clients:
            c.__exit__(None, None, None)
        store = MilvusStore(milvus_server.uri, collection)
        store.table.drop()
        store.table.close()


def _ask(client, question):
    r = client.post("/ask", json={"question": question})
    assert r.status_code == 200, r.text
    return r.json()


def _within(seconds, check):
    deadline = time.monotonic() + seconds
    while True:
        got = check()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def test_the_second_replica_serves_without_embedding_and_nothing_is_local(replicas):
    (a, b), (ca, cb), tmp = replicas
    assert ca.passages > 0 and cb.passages == 0  # b read the index a built
    for c in (a, b):
        got = _ask(c, BELGIUM_Q)
        assert BELGIUM_A in got["answer"]
    assert not (tmp / "index-a").exists() and not (tmp / "index-b").exists()  # the index lives in Milvus only


def test_a_write_through_one_replica_is_answered_by_the_other(replicas):
    (a, b), (_, cb), tmp = replicas
    assert _ask(b, VAULT_Q)["abstained"]
    r = a.post("/documents", json={"id": "vault", "text": VAULT, "metadata": {"source": "notes"}})
    assert r.status_code == 201, r.text
    t0 = time.monotonic()
    seen = _within(10, lambda: "1994" in (_ask(b, VAULT_Q)["answer"] or ""))
    took = time.monotonic() - t0
    assert seen and took < 2.0, f"replica b answered after {took:.1f}s"
    assert cb.passages == 0  # b read the written passages, it did not embed them again
    listed = b.get("/documents", params={"filter": '{"source": "notes"}'}).json()
    assert [d["id"] for d in listed["documents"]] == ["vault"]
    assert b.get("/documents/vault").json()["text"] == VAULT
    r = b.delete("/documents/vault")
    assert r.status_code == 200 and r.json()["deleted"]
    assert _within(10, lambda: _ask(a, VAULT_Q)["abstained"])
    assert not any((tmp / f"documents-{n}").exists() and any((tmp / f"documents-{n}").iterdir()) for n in "ab")


def test_an_unreachable_server_is_a_clear_503(tmp_path, embedder):
    from api.app import create_app
    from rag.settings import Settings

    s = Settings(
        corpus=CORPUS,
        documents=tmp_path / "documents",
        allowed_hosts=TEST_HOSTS,
        vector_store="milvus",
        milvus_uri="http://127.0.0.1:9",  # nothing listens on the discard port
    )
    app = create_app(s, embedder=embedder)
    with TestClient(app, raise_server_exceptions=False) as c:
        assert app.state.engine.wait(120) and not app.state.engine.ready
        r = c.post("/ask", json={"question": BELGIUM_Q})
        assert r.status_code == 503 and "Milvus at http://127.0.0.1:9" in r.text, r.text
        assert "Traceback" not in r.text


def test_rag_index_and_ask_on_milvus(tmp_path, milvus_server):
    """`rag index` builds the collection, `rag ask` answers from it, and a model mismatch is refused
    with a message, not a traceback."""
    import json
    import os
    import subprocess
    import sys

    from rag.stores.milvus import MilvusStore
    from tests.api_support import ROOT

    collection = f"cli_{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "RAG_VECTOR_STORE": "milvus",
        "RAG_MILVUS_URI": milvus_server.uri,
        "RAG_MILVUS_COLLECTION": collection,
        "RAG_MILVUS_INDEX": "FLAT",
        "RAG_INDEX": str(tmp_path / "index"),
        "RAG_DOCUMENTS": str(tmp_path / "documents"),
    }

    def rag(*args):
        return subprocess.run([sys.executable, "-m", "rag", *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)

    try:
        r = rag("index")
        assert r.returncode == 0, r.stderr
        assert f"Milvus collection {collection}" in r.stderr and "is current" in r.stderr
        r = rag("ask", "--json", BELGIUM_Q)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["answer"] == BELGIUM_A
        assert "texts embedded" not in r.stderr  # nothing built again: the collection is current
        assert not (tmp_path / "index").exists()
        env["RAG_MILVUS_URI"] = "http://127.0.0.1:9"
        r = rag("ask", BELGIUM_Q)
        assert r.returncode != 0 and "Milvus at http://127.0.0.1:9" in r.stderr and "Traceback" not in r.stderr, r.stderr
    finally:
        store = MilvusStore(milvus_server.uri, collection)
        store.table.drop()
        store.table.close()


@pytest.mark.slow
def test_two_rag_serve_processes_on_one_collection(tmp_path, milvus_server):
    """Two `rag serve` processes behind nothing but their ports: the second starts on the collection the
    first built, and a document written through one is answered through the other within 2 s."""
    import httpx

    from rag.stores.milvus import MilvusStore
    from tests.test_live_corpus import Server

    collection = f"serve_{uuid.uuid4().hex[:12]}"
    env = {
        "RAG_VECTOR_STORE": "milvus",
        "RAG_MILVUS_URI": milvus_server.uri,
        "RAG_MILVUS_COLLECTION": collection,
        "RAG_MILVUS_INDEX": "FLAT",
    }
    servers = []
    try:
        for name in ("a", "b"):  # b starts once a has built the collection
            servers.append(Server(tmp_path / name, env))
        a, b = (httpx.Client(base_url=s.url, timeout=60) for s in servers)
        assert b.post("/ask", json={"question": BELGIUM_Q}).json()["answer"] == BELGIUM_A
        assert b.post("/ask", json={"question": VAULT_Q}).json()["abstained"]
        assert a.post("/documents", json={"id": "vault", "text": VAULT}).status_code == 201
        t0 = time.monotonic()
        seen = _within(10, lambda: "1994" in (b.post("/ask", json={"question": VAULT_Q}).json()["answer"] or ""))
        took = time.monotonic() - t0
        assert seen and took < 2.0, f"the second process answered after {took:.1f}s"
        assert b.delete("/documents/vault").status_code == 200
        assert _within(10, lambda: a.post("/ask", json={"question": VAULT_Q}).json()["abstained"])
        assert not (tmp_path / "a" / "index").exists() and not (tmp_path / "b" / "index").exists()
    finally:
        for s in servers:
            s.stop()
        store = MilvusStore(milvus_server.uri, collection)
        store.table.drop()
        store.table.close()
