"""Apps of the security tests: each with its own settings. ``bare`` apps never load (their answering
routes say 503), which is all a test of what happens before an endpoint needs; ``loaded`` apps share
the session's real model and index."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.api_support import CORPUS, TEST_HOSTS


def settings_for(tmp_path, **overrides):
    from rag.settings import Settings

    return Settings(
        **{"corpus": CORPUS, "index": tmp_path / "index", "documents": tmp_path / "documents", "allowed_hosts": TEST_HOSTS, **overrides}
    )


@pytest.fixture
def bare(tmp_path):
    """``bare(**settings)``: a client of an app that never loads (no lifespan)."""
    from api.app import create_app

    def make(**overrides) -> TestClient:
        return TestClient(create_app(settings_for(tmp_path, **overrides)), raise_server_exceptions=False)

    return make


@pytest.fixture
def loaded(tmp_path, request) -> Iterator:
    """``loaded(**settings)``: a client of a ready app over the session's model and index."""
    from api.app import create_app

    clients: list[TestClient] = []

    def make(**overrides) -> TestClient:
        index, embedder = request.getfixturevalue("api_index"), request.getfixturevalue("api_embedder")
        app = create_app(settings_for(tmp_path, **overrides), index=index, embedder=embedder, background=False)
        c = TestClient(app, raise_server_exceptions=False)
        c.__enter__()
        clients.append(c)
        assert app.state.engine.ready, app.state.engine.error
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)
