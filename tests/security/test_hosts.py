"""Requests must be addressed to this server's own names: a hostile name resolved to 127.0.0.1 (DNS
rebinding) gets 400, and so reads nothing."""

from __future__ import annotations

import socket

import httpx
import pytest

pytest_plugins = ["tests.api_fixtures"]


def test_the_default_names_are_the_loopback_ones_and_the_served_address():
    from rag.settings import Settings

    assert Settings().host_names() == ["localhost", "127.0.0.1", "[::1]"]
    assert Settings(host="0.0.0.0").host_names() == ["localhost", "127.0.0.1", "[::1]"]  # a wildcard names no host
    assert Settings(host="::").host_names() == ["localhost", "127.0.0.1", "[::1]"]
    assert Settings(host="rag.internal").host_names()[-1] == "rag.internal"
    assert Settings(host="fd00::5").host_names()[-1] == "[fd00::5]"
    assert Settings(allowed_hosts="a.example, B.example").host_names() == ["a.example", "b.example", "127.0.0.1"]


def test_testclient_is_refused_under_the_defaults(tmp_path):
    # the defaults do not name "testserver": the tests allow it by setting, as a deployment would its name
    from fastapi.testclient import TestClient

    from api.app import create_app
    from rag.settings import Settings

    r = TestClient(create_app(Settings(corpus=tmp_path, index=tmp_path / "i"))).get("/healthz")
    assert r.status_code == 400 and "'testserver'" in r.json()["error"] and "RAG_ALLOWED_HOSTS" in r.json()["error"]


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", "localhostx", "[::2]:80", ""])
def test_another_host_is_400(bare, host):
    c = bare()
    for method, path in (("GET", "/healthz"), ("GET", "/"), ("POST", "/ask"), ("GET", "/openapi.json")):
        r = c.request(method, path, headers={"host": host}, json={"question": "x"} if method == "POST" else None)
        assert r.status_code == 400, (host, path, r.text)
        assert r.json()["request_id"] == r.headers["x-request-id"]


@pytest.mark.parametrize("host", ["localhost", "localhost:8000", "LOCALHOST", "localhost.", "127.0.0.1:1", "[::1]:8000", "testserver"])
def test_an_allowed_host_passes(bare, host):
    assert bare().get("/healthz", headers={"host": host}).status_code == 200


def test_any_host_when_asked_for(bare):
    assert bare(allowed_hosts="*").get("/healthz", headers={"host": "anything.example"}).status_code == 200


@pytest.mark.slow
def test_a_live_server_refuses_a_rebound_name(live_server):
    port = live_server.port
    assert httpx.get(f"{live_server.url}/readyz").status_code == 200
    assert httpx.get(f"http://localhost:{port}/readyz").status_code == 200
    r = httpx.get(f"{live_server.url}/readyz", headers={"host": f"attacker.example:{port}"})
    assert r.status_code == 400 and "attacker.example" in r.json()["error"]
    # HTTP/1.0 needs no Host header: a request without one is refused too
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /readyz HTTP/1.0\r\n\r\n")
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400"), reply[:200]
