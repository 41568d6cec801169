"""CORS is off unless RAG_CORS_ORIGINS names origins; writes from pages of other origins are refused."""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.api_fixtures"]

APP = "https://app.example"
PREFLIGHT = {"origin": APP, "access-control-request-method": "POST", "access-control-request-headers": "content-type"}
UPLOAD = {"content-type": "multipart/form-data; boundary=x"}
FORM = b"--x\r\nContent-Disposition: form-data; name=file; filename=a.txt\r\n\r\nhello\r\n--x--\r\n"


def test_no_cors_by_default(bare):
    c = bare()
    r = c.options("/ask", headers=PREFLIGHT)
    assert r.status_code in (400, 405) and "access-control-allow-origin" not in r.headers
    assert "access-control-allow-origin" not in c.get("/healthz", headers={"origin": APP}).headers


def test_cors_for_the_named_origins(bare):
    c = bare(cors_origins=f"{APP}, https://other.example")
    r = c.options("/ask", headers=PREFLIGHT)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == APP
    assert "POST" in r.headers["access-control-allow-methods"]
    r = c.post("/ask", json={"question": "x"}, headers={"origin": APP})
    assert r.headers["access-control-allow-origin"] == APP  # errors are readable by the page too
    assert "x-request-id" in r.headers["access-control-expose-headers"].lower()
    r = c.options("/ask", headers={**PREFLIGHT, "origin": "https://evil.example"})
    assert r.status_code == 400 and "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://testserver:8080"])
def test_a_write_from_another_origin_is_403(bare, origin):
    # a multipart upload needs no preflight: a form on any site could post it
    for method in ("POST", "PUT", "DELETE"):
        r = bare().request(method, "/documents", content=FORM, headers={**UPLOAD, "origin": origin})
        assert r.status_code == 403, (method, origin, r.text)
        assert "another origin" in r.json()["error"]


@pytest.mark.parametrize("origin", ["http://testserver", APP])
def test_a_write_from_this_or_an_allowed_origin_passes(bare, origin):
    r = bare(cors_origins=APP).post("/documents", content=FORM, headers={**UPLOAD, "origin": origin})
    assert r.status_code != 403, r.text


def test_reads_from_another_origin_are_not_refused_but_not_readable(bare):
    r = bare().get("/healthz", headers={"origin": "https://evil.example"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
