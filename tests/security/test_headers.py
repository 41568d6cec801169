"""Security headers on every response; the chat page's policy allows no inline code, and it has none."""

from __future__ import annotations

import re

from tests.api_support import ROOT

pytest_plugins = ["tests.api_fixtures"]

CHAT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def test_every_response_has_the_headers(bare):
    c = bare()
    for r in (
        c.get("/"),
        c.get("/healthz"),
        c.get("/static/app.js"),
        c.get("/nope"),
        c.post("/ask", json={"question": "x"}),  # 503: not loaded
        c.post("/ask", content=b"x"),  # 415, from a middleware
        c.get("/healthz", headers={"host": "evil.example"}),  # 400, from the outermost guard
    ):
        assert r.headers["x-content-type-options"] == "nosniff", r.url
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["content-security-policy"] == CHAT_CSP


def test_a_500_has_them_too(bare):
    c = bare()

    async def boom():
        raise RuntimeError("x")

    c.app.add_api_route("/boom", boom)
    r = c.get("/boom")
    assert r.status_code == 500 and r.headers["content-security-policy"] == CHAT_CSP and r.headers["x-request-id"]


def test_the_docs_pages_allow_their_own_inline_scripts_by_hash(bare):
    import base64
    import hashlib

    c = bare()
    for path in ("/docs", "/redoc"):
        r = c.get(path)
        csp = r.headers["content-security-policy"]
        assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0], csp
        for script in re.findall(r"<script>(.*?)</script>", r.text, re.S):
            digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in csp
        assert "frame-ancestors 'none'" in csp and r.headers["x-frame-options"] == "DENY"
        assert int(r.headers["content-length"]) == len(r.content)


def test_the_chat_page_has_no_inline_code():
    html = (ROOT / "api" / "static" / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline script"
    assert "<style" not in html and not re.search(r"\sstyle=", html), "an inline style"
    assert not re.search(r"\son[a-z]+=", html), "an inline event handler"
    js = (ROOT / "api" / "static" / "app.js").read_text()
    assert not re.search(r"\beval\(|new Function|innerHTML|setAttribute\(\s*[\"']style", js)
