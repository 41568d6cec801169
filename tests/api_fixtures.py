"""Session fixtures of the API tests: the real model and a real index of the real corpus, loaded once.

Registered with ``pytest_plugins`` in the test modules that need them. Fixture names carry an ``api_``
prefix so they never clash with the suite's conftest; the session's real embedder is reused when the
conftest provides one."""

from __future__ import annotations

import pytest

from tests.api_support import CORPUS, TEST_HOSTS, LiveServer


@pytest.fixture(scope="session")
def rag_settings(tmp_path_factory):
    from rag.settings import Settings

    # TestClient addresses its requests to "testserver": allowed as a deployment would allow its name
    root = tmp_path_factory.mktemp("api")
    return Settings(corpus=CORPUS, index=root / "index", documents=root / "documents", allowed_hosts=TEST_HOSTS)


@pytest.fixture(scope="session")
def api_embedder(rag_settings, request):
    from rag.model_files import DEFAULT_MODEL

    s = rag_settings
    if s.model == DEFAULT_MODEL and s.backend == "torch" and not s.query_prefix and s.threads == 1:
        try:
            return request.getfixturevalue("embedder")  # the conftest's session model: load it once
        except pytest.FixtureLookupError:
            pass
    return s.embedder()


@pytest.fixture(scope="session")
def api_index(rag_settings, api_embedder):
    from rag.indexing import open_index

    index, _report = open_index(rag_settings.corpus, rag_settings.index, api_embedder, rag_settings.chunker())
    return index


@pytest.fixture(scope="session")
def api_app(rag_settings, api_index, api_embedder):
    from api.app import create_app

    return create_app(rag_settings, index=api_index, embedder=api_embedder)


@pytest.fixture(scope="session")
def api_client(api_app):
    from fastapi.testclient import TestClient

    with TestClient(api_app, raise_server_exceptions=False) as c:
        assert api_app.state.engine.wait(120), "the app never finished loading"
        assert api_app.state.engine.ready, api_app.state.engine.error
        yield c


@pytest.fixture(scope="session")
def live_server(rag_settings, api_index, api_embedder):
    """A real uvicorn server (its own app over the same index) for HTTP clients and the browser."""
    from api.app import create_app

    server = LiveServer(create_app(rag_settings, index=api_index, embedder=api_embedder))
    server.wait_ready()
    yield server
    server.stop()
