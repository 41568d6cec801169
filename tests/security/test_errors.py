"""Error bodies name the request and never the server's internals: no exception text, no server paths."""

from __future__ import annotations

import logging
import re

import pytest

from tests.api_support import BELGIUM_Q, CORPUS

pytest_plugins = ["tests.api_fixtures"]

HEX_ID = re.compile(r"[0-9a-f]{32}")


def test_every_response_has_a_request_id_and_errors_carry_it(bare):
    c = bare()
    ok = c.get("/healthz")
    assert HEX_ID.fullmatch(ok.headers["x-request-id"])
    for r in (
        c.get("/nope"),  # 404
        c.post("/ask", json={"question": BELGIUM_Q}),  # 503: never loaded
        c.post("/v1/chat/completions", json={"messages": []}),  # OpenAI's shape
        c.post("/ask", content=b"x" * 2_000_000, headers={"content-type": "application/json"}),  # 413
    ):
        assert r.status_code >= 400
        body = r.json()
        assert body["request_id"] == r.headers["x-request-id"], r.text
        message = body["error"]["message"] if isinstance(body["error"], dict) else body["error"]
        assert message


def test_a_sane_incoming_request_id_is_kept_others_replaced(bare):
    c = bare()
    assert c.get("/healthz", headers={"X-Request-ID": "abc.DEF-12_3"}).headers["x-request-id"] == "abc.DEF-12_3"
    for bad in ("x" * 65, "has space", "semi;colon", "é".encode(), ""):
        got = c.get("/healthz", headers={"X-Request-ID": bad}).headers["x-request-id"]
        assert HEX_ID.fullmatch(got), (bad, got)


def test_an_unexpected_error_is_a_generic_500_with_the_detail_in_the_log(bare, caplog):
    c = bare()

    async def boom():
        raise RuntimeError(f"secret state in {CORPUS}/private.txt")

    c.app.add_api_route("/boom", boom)
    with caplog.at_level(logging.ERROR, logger="rag.api"):
        r = c.get("/boom", headers={"X-Request-ID": "req-500"})
    assert r.status_code == 500
    assert r.json() == {"error": r.json()["error"], "detail": None, "request_id": "req-500"}
    assert "secret" not in r.text and "RuntimeError" not in r.text and "/" not in r.json()["error"]
    assert r.headers["x-request-id"] == "req-500"
    logged = [rec for rec in caplog.records if "req-500" in rec.getMessage()]
    assert logged and "secret state" in str(logged[0].exc_info[1])


def test_a_load_failure_names_no_exception_text(tmp_path):
    from api.app import _guarded
    from api.deps import Engine
    from rag.settings import Settings

    engine = Engine(settings=Settings(corpus=tmp_path / "c", index=tmp_path / "i"))

    def explode(*_):
        raise OSError(f"[Errno 5] Input/output error: '{tmp_path}/i/vectors.faiss'")

    _guarded(engine, explode)
    assert engine.status == "failed" and "Errno" not in engine.error and str(tmp_path) not in engine.error


def test_a_model_that_cannot_load_is_named_without_the_server_path(tmp_path):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from tests.security.conftest import settings_for

    app = create_app(settings_for(tmp_path, model=str(tmp_path / "no-model")))
    with TestClient(app) as c:
        assert app.state.engine.wait(30)
        for r in (c.post("/ask", json={"question": BELGIUM_Q}), c.get("/readyz")):
            assert r.status_code == 503
            assert "no-model" in r.json()["error"] and str(tmp_path) not in r.text, r.text
            assert r.json()["request_id"] == r.headers["x-request-id"]


def test_readyz_notes_name_files_inside_the_corpus_not_server_paths(small_corpus, tmp_path, fake_embedder):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from tests.security.conftest import settings_for

    (small_corpus / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me\n\nSome text.".encode("latin-1"))
    app = create_app(settings_for(tmp_path, corpus=small_corpus), background=False)
    app.state.engine.load(embedder=fake_embedder)
    with TestClient(app) as c:
        notes = c.get("/readyz").json()["notes"]
    assert any(n.startswith("skipped latin1.txt: ") for n in notes), notes
    assert not any(str(tmp_path) in n for n in notes), notes


@pytest.mark.parametrize(
    "message, expected",
    [
        ("skipped {corpus}/sub/a.txt: not UTF-8", "skipped sub/a.txt: not UTF-8"),
        ("corpus not found: {corpus}", "corpus not found: corpus"),
        ("cannot open '/srv/rag/index/manifest.json'", "cannot open 'manifest.json'"),
        ("{corpus}/x.jsonl:12: not JSON", "x.jsonl:12: not JSON"),
        ("see http://127.0.0.1:8000/docs and a/b", "see http://127.0.0.1:8000/docs and a/b"),
    ],
)
def test_scrub_paths(message, expected, tmp_path):
    from api.errors import scrub_paths

    corpus = tmp_path / "corpus"
    assert scrub_paths(message.format(corpus=corpus), corpus) == expected


def test_scrub_paths_of_a_relative_corpus_folder():
    from pathlib import Path

    from api.errors import scrub_paths

    assert scrub_paths("skipped corpus/a.txt: a hidden file", Path("corpus")) == "skipped a.txt: a hidden file"
