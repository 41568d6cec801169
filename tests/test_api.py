"""The HTTP API over the real model and a real index of the real corpus."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api_support import (
    ANSWER_KEYS,
    BELGIUM_A,
    BELGIUM_COLLAB_A,
    BELGIUM_Q,
    CITATION_KEYS,
    PASSAGE_KEYS,
    POLAND_A,
    TEST_HOSTS,
    UNANSWERABLE_Q,
)

pytest_plugins = ["tests.api_fixtures"]


# -- lifecycle without the model -------------------------------------------------------------
def test_not_ready_answers_503_with_a_reason_and_healthz_answers(tmp_path):
    from api.app import create_app
    from rag.settings import Settings

    app = create_app(Settings(corpus=tmp_path / "c", index=tmp_path / "i", allowed_hosts=TEST_HOSTS))
    c = TestClient(app)  # no context manager: the lifespan (and so the loading) never starts
    assert c.get("/healthz").json() == {"status": "ok"}
    r = c.post("/ask", json={"question": BELGIUM_Q})
    assert r.status_code == 503 and "not ready" in r.json()["error"]
    assert c.get("/readyz").status_code == 503
    assert c.get("/documents").status_code == 503


def test_load_failure_is_503_with_the_reason(tmp_path):
    from api.app import create_app
    from rag.settings import Settings

    app = create_app(Settings(corpus=tmp_path / "c", index=tmp_path / "i", model=str(tmp_path / "no-model"), allowed_hosts=TEST_HOSTS))
    with TestClient(app) as c:
        assert app.state.engine.wait(30)
        r = c.post("/ask", json={"question": BELGIUM_Q})
        assert r.status_code == 503
        assert "no-model" in r.json()["error"]
        assert c.get("/readyz").status_code == 503
        assert c.get("/healthz").status_code == 200


def test_a_lifespan_started_again_keeps_a_loaded_engine(tmp_path):
    from api.app import create_app
    from rag.settings import Settings

    app = create_app(Settings(corpus=tmp_path / "c", index=tmp_path / "i", allowed_hosts=TEST_HOSTS))
    engine = app.state.engine
    engine.status = "ready"  # as after a first lifespan's load
    loads: list[object] = []
    engine.load = lambda *a: loads.append(a)  # type: ignore[method-assign]
    with TestClient(app):
        pass
    assert loads == [] and engine.ready


def test_status_mapping_is_in_one_place():
    from api.errors import status_for
    from rag import errors as e

    assert status_for(e.EmptyQueryError("x")) == 422
    assert status_for(e.InvalidInputError("x")) == 422
    assert status_for(e.IndexMismatchError("x")) == 409
    assert status_for(e.IndexNotFoundError("x")) == 503
    assert status_for(e.ModelNotFoundError("x")) == 503


def test_rag_does_not_import_fastapi():
    import subprocess
    import sys

    code = "import sys, rag.ask, rag.conversation, rag.indexing, rag.settings; print('fastapi' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


# -- endpoints -------------------------------------------------------------------------------
@pytest.mark.slow
def test_healthz_and_readyz(api_client):
    assert api_client.get("/healthz").json() == {"status": "ok"}
    r = api_client.get("/readyz")
    assert r.status_code == 200 and r.json()["status"] == "ready" and r.json()["documents"] == 5
    assert r.json()["notes"] == []  # nothing in corpus/ was skipped


@pytest.mark.slow
def test_ask_is_answer_to_dict_plus_timings(api_client, api_index, api_embedder, rag_settings):
    from rag.ask import ask

    r = api_client.post("/ask", json={"question": BELGIUM_Q, "k": 3})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == ANSWER_KEYS | {"timings_ms"}
    assert body["answer"] == BELGIUM_A and body["abstained"] is False
    assert len(body["citations"]) <= 3 and all(set(c) == CITATION_KEYS for c in body["citations"])
    assert set(body["timings_ms"]) >= {"embed", "search", "answer", "total"}
    expected = ask(
        api_index, api_embedder, BELGIUM_Q, k=3, retrieval=rag_settings.retrieval(), answering=rag_settings.answering()
    ).to_dict()
    assert {k: v for k, v in body.items() if k != "timings_ms"} == expected
    span = body["answer_span"]
    doc = api_client.get(f"/documents/{span['doc_id']}").json()
    assert doc["text"][span["start"] : span["end"]] == BELGIUM_A
    for c in body["citations"]:
        assert api_client.get(f"/documents/{c['doc_id']}").json()["text"][c["start"] : c["end"]] == c["text"]


@pytest.mark.slow
def test_a_long_question_is_answered(api_client):
    # Longer than the reader's window on its own (it used to be a 500).
    q = "Ahead of the ministers' meeting next week, and given everything reported so far, " * 6 + BELGIUM_Q
    r = api_client.post("/ask", json={"question": q})
    assert r.status_code == 200, r.text
    assert r.json()["citations"]


@pytest.mark.slow
def test_ask_abstains(api_client):
    body = api_client.post("/ask", json={"question": UNANSWERABLE_Q}).json()
    assert body["abstained"] is True and body["answer"] is None


@pytest.mark.slow
def test_search_returns_ranked_passages(api_client):
    r = api_client.post("/search", json={"query": "Belgium focus area", "k": 4})
    assert r.status_code == 200
    passages = r.json()["passages"]
    assert len(passages) == 4 and [p["rank"] for p in passages] == [1, 2, 3, 4]
    assert all(set(p) == PASSAGE_KEYS for p in passages)
    assert passages[0]["doc_id"] == "hegseth-europe-visit"
    scores = [p["score"] for p in passages]
    assert scores == sorted(scores, reverse=True)


def _chat(api_client, *turns):
    messages = []
    for i, t in enumerate(turns):
        messages.append({"role": "user", "content": t})
        if i < len(turns) - 1:
            messages.append({"role": "assistant", "content": "previous answer [1]"})
    r = api_client.post("/chat", json={"messages": messages})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.slow
def test_chat_follow_ups(api_client):
    first = _chat(api_client, "what is Belgium's focus area?")
    assert first["answer"] == BELGIUM_A and first["citations"]
    poland = _chat(api_client, "what is Belgium's focus area?", "and Poland?")
    assert poland["answer"] == POLAND_A
    assert poland["standalone_question"] == "What is Poland's focus area?"
    assert poland["citations"] and set(poland) == ANSWER_KEYS | {"timings_ms", "standalone_question", "talk", "more"}
    assert poland["talk"] is False
    thanks = _chat(api_client, "what is Belgium's focus area?", "thanks!")
    # talk is not looked up: no "closest passages" to a thank-you
    assert thanks["talk"] is True and thanks["abstained"] and thanks["citations"] == []
    r = api_client.post("/v1/chat/completions", json={"model": "rag", "messages": [{"role": "user", "content": "ok, thanks"}]})
    assert r.json()["choices"][0]["message"]["content"].startswith("Ask me a question about the documents")
    assert r.json()["citations"] == []
    collab = _chat(api_client, "what is Belgium's focus area?", "what about its proposed collaboration area?")
    assert collab["answer"] == BELGIUM_COLLAB_A
    assert "Belgium" in collab["standalone_question"]


@pytest.mark.slow
def test_chat_a_short_follow_up_of_a_very_long_turn_is_answered(api_client):
    # the 2,000-character limit is on what the user typed, not on the rewrite against a long earlier turn
    long_turn = "What is Belgium's focus area " + "and its proposed collaboration area " * 140 + "?"
    body = _chat(api_client, long_turn, "And Poland?")
    assert body["standalone_question"] == "And Poland?"
    r = api_client.post(
        "/v1/chat/completions",
        json={
            "model": "rag",
            "messages": [
                {"role": "user", "content": long_turn},
                {"role": "assistant", "content": "..."},
                {"role": "user", "content": "And Poland?"},
            ],
        },
    )
    assert r.status_code == 200 and r.json()["standalone_question"] == "And Poland?"
    too_long = api_client.post("/chat", json={"messages": [{"role": "user", "content": long_turn}]})
    assert too_long.status_code == 422 and f"the last user message is {len(long_turn)} characters long; the limit is 2000" in too_long.text


@pytest.mark.slow
def test_chat_tell_me_more_gives_the_next_answer_not_the_same_one(api_client):
    q = "Which countries are willing to send troops to Ukraine?"
    first = _chat(api_client, q)
    more = _chat(api_client, q, "Tell me more")
    again = _chat(api_client, q, "Tell me more", "go on")
    assert more["standalone_question"] == again["standalone_question"] == q
    answers = [first["answer"], more["answer"], again["answer"]]
    assert all(answers) and len(set(answers)) == 3, answers
    # a table cell has nothing more: said, rather than the same cell again
    belgium = _chat(api_client, BELGIUM_Q, "tell me more")
    assert belgium["abstained"] and belgium["more"] == 1 and first["more"] == 0
    # nothing to be more of, or more of a refusal, is not something else
    alone = _chat(api_client, "Tell me more")
    assert alone["talk"] and alone["citations"] == []
    refusal = _chat(api_client, "Which country opposes sending troops to Ukraine?", "go on")
    # more of a refusal is another refusal (Washington ruling out US boots on the ground), or nothing:
    # never Poland again, never the willing countries
    assert refusal["abstained"] or ("ruled out" in refusal["answer"] and "Poland" not in refusal["answer"]), refusal["answer"]
    r = api_client.post(
        "/v1/chat/completions",
        json={
            "model": "rag",
            "messages": [
                {"role": "user", "content": BELGIUM_Q},
                {"role": "assistant", "content": BELGIUM_A},
                {"role": "user", "content": "Tell me more"},
            ],
        },
    )
    assert r.json()["choices"][0]["message"]["content"] == "The documents say nothing more about this."


@pytest.mark.slow
def test_chat_self_contained_question_is_answered_as_is(api_client):
    body = _chat(api_client, "what is Belgium's focus area?", "What is Poland's focus area?")
    assert body["standalone_question"] == "What is Poland's focus area?"
    assert body["answer"] == POLAND_A


@pytest.mark.slow
def test_documents(api_client, api_index):
    docs = api_client.get("/documents").json()["documents"]
    assert {d["id"] for d in docs} == set(api_index.documents)
    assert all(d["chunks"] > 0 and d["title"] for d in docs)
    assert sum(d["chunks"] for d in docs) == len(api_index.chunks)
    one = api_client.get("/documents/hegseth-europe-visit").json()
    assert one["text"] == api_index.documents["hegseth-europe-visit"].text
    r = api_client.get("/documents/no-such-doc")
    assert r.status_code == 404 and "no-such-doc" in r.json()["error"]


@pytest.mark.slow
def test_chat_page_and_docs(api_client):
    page = api_client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "/static/app.js" in page.text and "http" not in page.text.replace("http-equiv", "")  # nothing external
    assert api_client.get("/static/app.js").status_code == 200
    # The API docs pages load their scripts from this server, not a CDN: the service runs offline.
    for page_url in ("/docs", "/redoc"):
        docs = api_client.get(page_url)
        assert docs.status_code == 200, page_url
        assets = re.findall(r'(?:src|href)="([^"]+)"|url: ?["\']([^"\']+)', docs.text)
        urls = [a or b for a, b in assets]
        assert urls and not [u for u in urls if u.startswith(("http:", "https:", "//"))], (page_url, urls)
        for u in urls:
            if u.endswith((".js", ".css")):
                assert api_client.get(u).status_code == 200, u
    spec = api_client.get("/openapi.json").json()
    for path in ("/ask", "/search", "/chat", "/v1/chat/completions", "/documents", "/documents/{doc_id}", "/healthz", "/readyz"):
        assert path in spec["paths"], path
    schemas = spec["components"]["schemas"]
    assert schemas["AskRequest"]["examples"][0]["question"] == BELGIUM_Q
    assert schemas["AskRequest"].get("additionalProperties") is False


# -- bad input -------------------------------------------------------------------------------
BAD_ASK = [
    ({"question": ""}, "question"),
    ({"question": "   \n\t"}, "question"),
    ({"question": "x" * 2001}, "question"),
    ({"question": BELGIUM_Q, "k": 0}, "k"),
    ({"question": BELGIUM_Q, "k": 51}, "k"),
    ({"question": BELGIUM_Q, "k": "5"}, "k"),
    ({"question": BELGIUM_Q, "k": 2.5}, "k"),
    ({"question": BELGIUM_Q, "k": True}, "k"),
    ({"question": 42}, "question"),
    ({"question": None}, "question"),
    ({"question": ["a"]}, "question"),
    ({}, "question"),
    ({"question": BELGIUM_Q, "extra": 1}, "extra"),
]


@pytest.mark.slow
@pytest.mark.parametrize("body, field", BAD_ASK)
def test_bad_ask_is_422_naming_the_field(api_client, body, field):
    r = api_client.post("/ask", json=body)
    assert r.status_code == 422, r.text
    assert field in r.json()["error"]
    assert "Traceback" not in r.text


@pytest.mark.slow
@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/search", {"query": " "}, "query"),
        ("/search", {"query": "x", "k": 100}, "k"),
        ("/search", {"question": "x"}, "question"),
        ("/chat", {"messages": []}, "messages"),
        ("/chat", {"messages": [{"role": "user", "content": "  "}]}, "messages"),
        ("/chat", {"messages": [{"role": "robot", "content": "hi"}]}, "role"),
        ("/chat", {"messages": [{"role": "user", "content": 3}]}, "content"),
        ("/chat", {"messages": [{"role": "user", "content": "hi", "name": "x"}]}, "name"),
        ("/chat", {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}, "messages"),
        ("/chat", {"messages": "hello"}, "messages"),
        ("/v1/chat/completions", {"model": "rag", "messages": [{"role": "user", "content": " "}]}, "empty"),
        # a blank last turn is not "the previous question again"
        (
            "/v1/chat/completions",
            {
                "model": "rag",
                "messages": [
                    {"role": "user", "content": "What is Belgium's focus area?"},
                    {"role": "assistant", "content": "x"},
                    {"role": "user", "content": " "},
                ],
            },
            "empty",
        ),
        ("/v1/chat/completions", {"model": "rag", "messages": []}, "messages"),
        ("/v1/chat/completions", {"model": "rag", "messages": [{"role": "user", "content": "hi"}], "stream": "yes"}, "stream"),
        ("/v1/chat/completions", {"model": "rag", "messages": [{"role": "user", "content": "hi"}], "n": 2}, "n"),
        # what a client would silently not get is refused
        (
            "/v1/chat/completions",
            {"model": "rag", "messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function", "function": {"name": "f"}}]},
            "tools",
        ),
        (
            "/v1/chat/completions",
            {"model": "rag", "messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_object"}},
            "response_format",
        ),
    ],
)
def test_bad_input_on_other_endpoints(api_client, path, body, field):
    r = api_client.post(path, json=body)
    assert r.status_code == (400 if path.startswith("/v1/") else 422), r.text
    error = r.json()["error"]
    if path.startswith("/v1/"):  # OpenAI's shape and status, which its clients parse
        assert set(error) == {"message", "type", "param", "code"} and error["type"] == "invalid_request_error"
        assert field in error["message"] and error["param"] in ("messages", "stream", "n", "tools", "response_format")
    else:
        assert field in error


@pytest.mark.slow
def test_openai_routes_speak_openai(api_client):
    models = api_client.get("/v1/models").json()
    assert models["object"] == "list" and [m["id"] for m in models["data"]] == ["rag"]
    assert api_client.get("/v1/models/rag").json()["object"] == "model"
    missing = api_client.get("/v1/models/gpt-4").json()["error"]
    assert "gpt-4" in missing["message"] and missing["type"] == "invalid_request_error"
    assert api_client.get("/v1/nope").json()["error"]["message"] == "Not Found"
    big = api_client.post("/v1/chat/completions", content=b"x" * 1_100_000, headers={"content-type": "application/json"})
    assert big.status_code == 413 and "limit" in big.json()["error"]["message"]
    # the other routes keep their own shape
    assert isinstance(api_client.get("/nope").json()["error"], str)


@pytest.mark.slow
@pytest.mark.parametrize("raw", [b"not json", b'{"question": ', b"[]", b'"a string"', b"null"])
def test_malformed_json_is_422(api_client, raw):
    r = api_client.post("/ask", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]


@pytest.mark.slow
def test_a_body_is_json_declared_as_json(api_client):
    # `curl -d '{...}'` without -H sends application/x-www-form-urlencoded: refused, with the fix named
    # (a web page can send that type, or text/plain, to any server without a CORS preflight)
    for headers in ({}, {"content-type": "application/x-www-form-urlencoded"}, {"content-type": "text/plain"}):
        r = api_client.post("/ask", content=json.dumps({"question": BELGIUM_Q}).encode(), headers=headers)
        assert r.status_code == 415 and "application/json" in r.json()["error"], (headers, r.text)
    r = api_client.post("/ask", content=json.dumps({"question": BELGIUM_Q}).encode(), headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["answer"] == BELGIUM_A
    r = api_client.post("/ask", content=b"not json", headers={"content-type": "application/json"})
    assert r.status_code == 422


@pytest.mark.slow
def test_non_utf8_body_is_422(api_client):
    raw = '{"question": "café?"}'.encode("latin-1")
    r = api_client.post("/ask", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "UTF-8" in r.json()["error"]


@pytest.mark.slow
def test_oversized_body_is_413(api_client):
    r = api_client.post("/ask", content=json.dumps({"question": "x" * 1_100_000}), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "limit" in r.json()["error"]


@pytest.mark.slow
def test_a_long_conversation_keeps_working(api_client):
    # clients resend the whole history each turn: turn 51 (101 messages) used to be refused
    messages = []
    for i in range(150):
        messages += [
            {"role": "user", "content": f"What is Poland's focus area? ({i})"},
            {"role": "assistant", "content": "Defense Infrastructure Development [1]\n\nSources:\n[1] " + "x" * 300},
        ]
    messages.append({"role": "user", "content": "What is Belgium's focus area?"})
    for path in ("/chat", "/v1/chat/completions"):
        r = api_client.post(path, json={"model": "rag", "messages": messages} if "v1" in path else {"messages": messages})
        assert r.status_code == 200, r.text


@pytest.mark.slow
def test_wrong_method_and_unknown_path(api_client):
    assert api_client.get("/ask").status_code == 405
    assert api_client.get("/nope").status_code == 404


# -- concurrency -----------------------------------------------------------------------------
QUESTIONS = [
    (BELGIUM_Q, BELGIUM_A),
    ("What is Poland's focus area?", POLAND_A),
    ("What is Belgium's proposed collaboration area?", BELGIUM_COLLAB_A),
    ("What position does Pete Hegseth hold?", None),
    (UNANSWERABLE_Q, None),
    ("Which three countries is Pete Hegseth scheduled to visit?", None),
    ("What is Germany's focus area?", None),
    ("What does NATO's Trident Juncture exercise involve?", None),
]


@pytest.mark.slow
def test_concurrent_clients_get_their_own_answers(live_server, api_index, api_embedder, rag_settings):
    from rag.ask import ask

    expected = {
        q: ask(api_index, api_embedder, q, retrieval=rag_settings.retrieval(), answering=rag_settings.answering()).answer
        for q, _ in QUESTIONS
    }
    for q, a in QUESTIONS:
        if a is not None:
            assert expected[q] == a
    n_clients, per_client = 24, 4
    results: list[tuple[str, int, dict]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(n_clients)
    lock = threading.Lock()

    def worker(i: int) -> None:
        try:
            with httpx.Client(base_url=live_server.url, timeout=60) as c:
                barrier.wait()
                for j in range(per_client):
                    q = QUESTIONS[(i + j) % len(QUESTIONS)][0]
                    r = c.post("/ask", json={"question": q})
                    with lock:
                        results.append((q, r.status_code, r.json()))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_clients)]
    for t in threads:
        t.start()
    # the event loop is not blocked by inference: health answers while the asks run
    time.sleep(0.05)
    t0 = time.perf_counter()
    h = httpx.get(f"{live_server.url}/healthz", timeout=30)
    health_latency = time.perf_counter() - t0
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert h.status_code == 200
    assert health_latency < 2.0, health_latency
    assert len(results) == n_clients * per_client
    for q, status, body in results:
        assert status == 200, body
        assert body["question"] == q
        assert body["answer"] == expected[q]


@pytest.mark.slow
def test_concurrent_asgi_requests(api_app, api_client):
    """>= 16 concurrent requests through the ASGI transport (no sockets)."""
    import asyncio

    async def run():
        transport = httpx.ASGITransport(app=api_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60) as c:
            qs = [QUESTIONS[i % 3] for i in range(18)]
            rs = await asyncio.gather(*(c.post("/ask", json={"question": q}) for q, _ in qs))
            return [(q, a, r) for (q, a), r in zip(qs, rs)]

    for _q, a, r in asyncio.run(run()):
        assert r.status_code == 200 and r.json()["answer"] == a


def test_serve_with_two_workers(real_index):
    # `rag serve --workers 2`: the parent opens the index, then two processes serve the same port.
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RAG_INDEX": str(real_index.path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag", "serve", "--workers", "2", "--port", str(port)],
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 300
        statuses = []
        while time.time() < deadline and not statuses:
            try:
                # long timeout: once the port is bound, a connection waits in the backlog for a loaded worker
                statuses.append(httpx.get(f"{url}/readyz", timeout=60, headers={"Connection": "close"}).status_code)
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.2)
        # a worker accepts only once loaded: no client ever sees "still loading" from one worker while
        # the other serves (CI once saw /readyz 200 from one worker, then /ask 503 from the other)
        assert statuses == [200]
        children = [p for p in os.listdir("/proc") if p.isdigit() and _ppid(p) == proc.pid]
        assert len(children) >= 2  # the worker processes
        with httpx.Client(timeout=30) as c:
            for _ in range(8):
                r = c.post(f"{url}/ask", json={"question": BELGIUM_Q}, headers={"Connection": "close"})
                assert r.status_code == 200 and r.json()["answer"] == BELGIUM_A
    finally:
        proc.terminate()
        proc.wait(timeout=120)


def _ppid(pid: str) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def test_readyz_tells_the_build_step_while_building_and_lists_notes_when_ready(small_corpus, tmp_path, fake_embedder):
    from api.deps import Engine
    from rag.settings import Settings

    (small_corpus / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me\n\nSome text.".encode("latin-1"))
    stages: list[str] = []

    class Watched(Engine):
        def __setattr__(self, name, value):
            if name == "stage":
                stages.append(value)
            super().__setattr__(name, value)

    engine = Watched(Settings(corpus=small_corpus, index=tmp_path / "index"))
    engine.load(embedder=fake_embedder)
    assert engine.ready, engine.error
    # the skip note is heard first, but a build step, not the note, is the stage while embedding
    assert any(s.startswith("opening the index (skipped") for s in stages)
    assert any(s.startswith("building the index: embedding passages") for s in stages)
    assert stages.index(next(s for s in stages if s.startswith("building"))) > stages.index(next(s for s in stages if "skipped" in s))
    assert any("latin1.txt" in n and "not UTF-8" in n for n in engine.notes)
