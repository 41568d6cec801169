"""The documents API in-process: add, replace, delete and list documents while answering, with keys,
formats and metadata filters (real model, real FAISS, a copy of the seed corpus)."""

from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient

from tests.api_support import BELGIUM_A, BELGIUM_Q, CORPUS, TEST_HOSTS
from tests.documents_support import ARTICLE_A, ARTICLE_HTML, ARTICLE_Q, PDF_A, PDF_PAGES, PDF_Q, make_pdf

ADMIN, READ = "admin-key-1", "read-key-1"


def _app(tmp_path, embedder, **settings):
    from api.app import create_app
    from rag.indexing import open_index
    from rag.settings import Settings

    corpus = tmp_path / "corpus"
    if not corpus.exists():
        shutil.copytree(CORPUS, corpus)
    s = Settings(corpus=corpus, index=tmp_path / "index", documents=tmp_path / "documents", allowed_hosts=TEST_HOSTS, **settings)
    index, _ = open_index(s.corpus, s.index, embedder, s.chunker(), uploads=s.documents)
    app = create_app(s, index=index, embedder=embedder)
    return app


@pytest.fixture(scope="module")
def client(tmp_path_factory, embedder):
    app = _app(tmp_path_factory.mktemp("docs-api"), embedder)
    with TestClient(app, raise_server_exceptions=False) as c:
        assert app.state.engine.wait(120) and app.state.engine.ready, app.state.engine.error
        yield c


def _ask(client, question, **body):
    r = client.post("/ask", json={"question": question, **body})
    assert r.status_code == 200, r.text
    return r.json()


def test_a_document_posted_as_json_is_answered_from_then_deleted(client):
    assert _ask(client, "When was the Marrowfield seed vault opened?")["abstained"]
    r = client.post(
        "/documents",
        json={
            "id": "vault",
            "text": "The Marrowfield seed vault was opened in 1994 on the island of Tarn.",
            "metadata": {"source": "notes"},
        },
    )
    assert r.status_code == 201, r.text
    w = r.json()["documents"][0]
    assert w["id"] == "vault" and w["chunks"] == 1 and len(w["sha256"]) == 64 and w["seconds"] > 0 and w["created"]
    a = _ask(client, "When was the Marrowfield seed vault opened?")
    assert a["answer"] and "1994" in a["answer"] and a["citations"][0]["doc_id"] == "vault"
    listed = client.get("/documents", params={"filter": '{"source": "notes"}'}).json()
    assert [d["id"] for d in listed["documents"]] == ["vault"] and listed["documents"][0]["origin"] == "api"
    r = client.delete("/documents/vault")
    assert r.status_code == 200 and r.json()["deleted"]
    assert _ask(client, "When was the Marrowfield seed vault opened?")["abstained"]
    assert "vault" not in [d["id"] for d in client.get("/documents", params={"limit": 1000}).json()["documents"]]


def test_html_and_pdf_uploads_are_cited_in_their_extracted_text(client):
    files = [("file", ("observatory.html", ARTICLE_HTML, "text/html")), ("file", ("bridge.pdf", make_pdf(PDF_PAGES), "application/pdf"))]
    r = client.post("/documents", files=files, data={"metadata": '{"source": "uploads"}'})
    assert r.status_code == 201, r.text
    assert sorted(d["id"] for d in r.json()["documents"]) == ["bridge", "observatory"]
    page = client.get("/documents/observatory").json()
    assert page["title"] == "The Zeltwarden Observatory" and "Accept" not in page["text"] and "Privacy policy" not in page["text"]
    a = _ask(client, ARTICLE_Q)
    assert ARTICLE_A in a["answer"]
    c = a["citations"][0]
    assert c["doc_id"] == "observatory" and page["text"][c["start"] : c["end"]] == c["text"] and c["page"] is None
    b = _ask(client, PDF_Q)
    assert PDF_A in b["answer"]
    pdf = client.get("/documents/bridge").json()
    c = next(c for c in b["citations"] if c["doc_id"] == "bridge")
    assert pdf["text"][c["start"] : c["end"]] == c["text"] and c["page"] == 2 and pdf["pages"][1] <= c["start"]
    span = b["answer_span"]
    assert PDF_A in pdf["text"][span["start"] : span["end"]]
    for doc_id in ("observatory", "bridge"):
        assert client.delete(f"/documents/{doc_id}").status_code == 200


def test_a_metadata_filter_restricts_what_is_searched_and_answered(client):
    client.post(
        "/documents",
        json={"id": "memo", "text": "Belgium's focus area, says this memo, is pastry diplomacy.", "metadata": {"source": "memo"}},
    )
    try:
        assert _ask(client, BELGIUM_Q)["answer"] == BELGIUM_A
        only_memo = _ask(client, BELGIUM_Q, filter={"source": "memo"})
        assert {c["doc_id"] for c in only_memo["citations"]} == {"memo"}
        r = client.post("/search", json={"query": "focus area", "filter": {"doc_id": ["memo"]}})
        assert [p["doc_id"] for p in r.json()["passages"]] == ["memo"]
        nothing = _ask(client, BELGIUM_Q, filter={"source": "nowhere"})
        assert nothing["abstained"] and nothing["citations"] == []
        r = client.post("/chat", json={"messages": [{"role": "user", "content": BELGIUM_Q}], "filter": {"doc_id": "memo"}})
        assert {c["doc_id"] for c in r.json()["citations"]} == {"memo"}
        assert client.post("/ask", json={"question": BELGIUM_Q, "filter": {"source": {"nested": 1}}}).status_code == 422
    finally:
        client.delete("/documents/memo")


def test_writes_that_cannot_be_done_say_why(client):
    assert client.post("/documents", json={"id": "dup", "text": "One text."}).status_code == 201
    try:
        r = client.post("/documents", json={"id": "dup", "text": "Another text."})
        assert r.status_code == 409 and "PUT" in r.json()["error"]
        r = client.put("/documents/dup", json={"text": "A replaced text about otters."})
        assert r.status_code == 200 and not r.json()["documents"][0]["created"]
        assert "otters" in client.get("/documents/dup").json()["text"]
    finally:
        client.delete("/documents/dup")
    folder_doc = "hegseth-europe-visit"
    r = client.delete(f"/documents/{folder_doc}")
    assert r.status_code == 409 and "corpus folder" in r.json()["error"]
    assert client.put(f"/documents/{folder_doc}", json={"text": "x"}).status_code == 409
    assert client.delete("/documents/nope").status_code == 404
    assert client.post("/documents", json={"text": ""}).status_code == 422
    assert client.post("/documents", json={"text": "x", "colour": "red"}).status_code == 422
    r = client.post("/documents", files=[("file", ("notes.docx", b"PK..", "application/octet-stream"))])
    assert r.status_code == 422 and "notes.docx" in r.json()["error"]
    r = client.post(
        "/documents",
        files=[("file", ("a.txt", b"Alpacas hum when content.", "text/plain")), ("file", ("b.pdf", b"not a pdf", "application/pdf"))],
    )
    assert r.status_code == 201 and [d["id"] for d in r.json()["documents"]] == ["a"]
    assert r.json()["skipped"][0]["name"] == "b.pdf" and "b.pdf" in r.json()["skipped"][0]["error"]
    client.delete("/documents/a")


def test_a_written_document_survives_a_restart(tmp_path, embedder):
    app = _app(tmp_path, embedder)
    with TestClient(app) as c:
        assert app.state.engine.wait(120)
        assert c.post("/documents", json={"id": "kept", "text": "The lighthouse of Varn is painted red."}).status_code == 201
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert all(name.endswith(".lock") for name in leftovers)  # no temporary folder remains
    again = _app(tmp_path, embedder)
    with TestClient(again) as c:
        assert again.state.engine.wait(120)
        a = c.post("/ask", json={"question": "What colour is the lighthouse of Varn?"}).json()
        assert a["answer"] and "red" in a["answer"] and a["citations"][0]["doc_id"] == "kept"


ROUTES = [
    ("get", "/documents", None, "read"),
    ("get", "/documents/hegseth-europe-visit", None, "read"),
    ("post", "/ask", {"question": BELGIUM_Q}, "read"),
    ("post", "/search", {"query": "focus area"}, "read"),
    ("post", "/chat", {"messages": [{"role": "user", "content": BELGIUM_Q}]}, "read"),
    ("get", "/v1/models", None, "read"),
    ("post", "/v1/chat/completions", {"model": "rag", "messages": [{"role": "user", "content": BELGIUM_Q}]}, "read"),
    ("post", "/documents", {"id": "k1", "text": "Keys guard the writes."}, "admin"),
    ("put", "/documents/k1", {"text": "Keys guard the writes, again."}, "admin"),
    ("delete", "/documents/k1", None, "admin"),
]


@pytest.fixture(scope="module")
def keyed(tmp_path_factory, embedder):
    app = _app(tmp_path_factory.mktemp("keyed"), embedder, admin_keys=ADMIN, read_keys=READ)
    with TestClient(app, raise_server_exceptions=False) as c:
        assert app.state.engine.wait(120) and app.state.engine.ready
        yield c


@pytest.mark.parametrize("method, path, body, need", ROUTES)
@pytest.mark.parametrize("key", [None, "wrong", READ, ADMIN])
def test_every_route_and_key_kind(keyed, method, path, body, need, key):
    headers = {} if key is None else ({"Authorization": f"Bearer {key}"} if key != READ else {"X-API-Key": key})
    kwargs = {"headers": headers} | ({"json": body} if body is not None else {})
    r = getattr(keyed, method)(path, **kwargs)
    if key is None or key == "wrong":
        assert r.status_code == 401, r.text
        assert r.headers.get("www-authenticate") == "Bearer"
    elif need == "admin" and key == READ:
        assert r.status_code == 403 and "admin key" in r.text
    else:
        assert r.status_code in (200, 201), r.text
    for open_path in ("/healthz", "/readyz", "/"):
        assert keyed.get(open_path).status_code == 200


def test_the_openai_client_works_with_a_read_key(keyed):
    from openai import OpenAI

    base = str(keyed.base_url) + "/v1"
    oai = OpenAI(base_url=base, api_key=READ, http_client=keyed)
    r = oai.chat.completions.create(model="rag", messages=[{"role": "user", "content": BELGIUM_Q}])
    assert BELGIUM_A in r.choices[0].message.content
    with pytest.raises(Exception, match="401"):
        OpenAI(base_url=base, api_key="wrong", http_client=keyed).models.list()


def test_keys_may_be_kept_hashed_in_a_file(tmp_path):
    from api.auth import digest, keys_from
    from rag.errors import InvalidInputError
    from rag.settings import Settings

    f = tmp_path / "keys"
    f.write_text(f"# operators\nadmin sha256:{digest('s3cret')}\nread plain-reader\n")
    keys = keys_from(Settings(keys_file=f))
    assert keys.role("s3cret") == "admin" and keys.role("plain-reader") == "read" and keys.role("other") is None
    f.write_text("writer s3cret\n")
    with pytest.raises(InvalidInputError, match=r"keys:1: expected 'admin KEY' or 'read KEY'"):
        keys_from(Settings(keys_file=f))


def test_serve_without_keys_refuses_a_non_loopback_bind(tmp_path):
    import subprocess
    import sys

    from tests.api_support import ROOT

    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("RAG_")}
    r = subprocess.run(
        [sys.executable, "-m", "rag", "serve", "--host", "0.0.0.0", "--port", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1 and "no API keys are configured" in r.stderr and "--insecure" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
