"""The real Milvus server as a session fixture.

Registered with ``pytest_plugins = ["tests.milvus_fixtures"]`` in the test modules that need it, so
the rest of the suite never starts a server. A missing server is a failure, not a skip: a green run
must mean the Milvus code was exercised."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.milvus_server import MILVUS_SERVER, SETUP_HINT, MilvusServer


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory):
    if not MILVUS_SERVER.exists():
        pytest.fail(f"the Milvus tests need the real server, and {MILVUS_SERVER} is missing: {SETUP_HINT}", pytrace=False)
    data = tmp_path_factory.mktemp("milvus")
    base = os.environ.get("RAG_MILVUS_TEST_BASE_PORT")  # pin the port block; default: the first free one
    server = MilvusServer(data, int(base) if base else None)
    server.start()
    yield server
    server.close()
    # The unpacked binaries are 250 MB of each run's data dir; the logs stay for a post-mortem.
    shutil.rmtree(data / "bin", ignore_errors=True)
