"""Bodies: JSON declared as JSON (a browser form or a text/plain fetch cannot send it without a CORS
preflight), multipart only where documents are uploaded, and a 413 the client gets to read."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.api_support import BELGIUM_Q

pytest_plugins = ["tests.api_fixtures"]

ASK = json.dumps({"question": BELGIUM_Q}).encode()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"content-type": "text/plain"},
        {"content-type": "application/x-www-form-urlencoded"},
        {"content-type": "multipart/form-data; boundary=x"},
    ],
)
def test_json_under_any_other_content_type_is_415(bare, headers):
    c = bare()
    for path in ("/ask", "/search", "/chat", "/v1/chat/completions"):
        r = c.post(path, content=ASK, headers=headers)
        assert r.status_code == 415, (path, headers, r.text)
        message = r.json()["error"]["message"] if path.startswith("/v1/") else r.json()["error"]
        assert "application/json" in message


def test_an_empty_post_without_a_content_type_is_415(bare):
    r = bare().post("/ask")
    assert r.status_code == 415 and "content type" in r.json()["error"]


def test_json_is_read_with_or_without_a_charset(bare):
    c = bare()
    for ctype in ("application/json", "application/json; charset=utf-8", "Application/JSON"):
        r = c.post("/ask", content=ASK, headers={"content-type": ctype})
        assert r.status_code == 503, (ctype, r.text)  # past the guard: the app is not loaded


def test_multipart_is_let_through_to_the_document_routes(bare):
    r = bare().post("/documents", content=b"--x\r\n\r\n--x--\r\n", headers={"content-type": "multipart/form-data; boundary=x"})
    assert r.status_code != 415


@pytest.mark.slow
def test_a_body_over_the_limit_is_413_that_urllib_can_read(live_server):
    # The whole body is read (and dropped) before the answer: a client still sending when the server
    # answers would otherwise see a reset or a broken pipe, not the 413.
    body = b'{"question": "' + b"x" * 8_000_000 + b'"}'
    request = urllib.request.Request(f"{live_server.url}/ask", data=body, headers={"content-type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(request, timeout=60)
    assert e.value.code == 413
    assert "limit" in json.loads(e.value.read())["error"]


@pytest.mark.slow
def test_a_chunked_body_over_the_limit_is_413_too(live_server):
    import httpx

    def chunks():
        for _ in range(64):
            yield b"x" * 131_072

    r = httpx.post(f"{live_server.url}/ask", content=chunks(), headers={"content-type": "application/json"}, timeout=60)
    assert r.status_code == 413 and r.json()["request_id"] == r.headers["x-request-id"]
