"""Property-based fuzz of every operation in /openapi.json (schemathesis, in-process ASGI): no input,
valid or not, makes a 5xx or a response the schema does not describe."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from api.app import create_app
from rag.settings import Settings
from tests.api_support import CORPUS, TEST_HOSTS

pytest_plugins = ["tests.api_fixtures"]

pytestmark = pytest.mark.slow

# The schema is read when the module is collected (schemathesis' lazy fixture loader does not run on
# this pytest). Reading it may start the app's loader, so its settings already name a folder of its own
# (nothing is ever written into the checkout) and an empty corpus (that load fails at once instead of
# building an index nobody reads). The ``ready`` fixture gives it its own corpus and index; a lifespan
# started again for each test finds the engine loaded and leaves it as it is.
ROOT = Path(tempfile.mkdtemp(prefix="rag-fuzz-"))
(ROOT / "empty").mkdir()
APP = create_app(
    Settings(corpus=ROOT / "empty", index=ROOT / "unused-index", documents=ROOT / "unused-documents", allowed_hosts=TEST_HOSTS)
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def ready(tmp_path_factory, api_embedder):
    """The app ready over its own copy of the corpus and its own index: a fuzzed write changes nothing else."""
    from rag.indexing import open_index

    APP.state.engine.wait(120)  # the load the schema's read started has ended: it cannot overwrite what follows
    root = tmp_path_factory.mktemp("fuzz")
    s = Settings(
        corpus=shutil.copytree(CORPUS, root / "corpus"), index=root / "index", documents=root / "documents", allowed_hosts=TEST_HOSTS
    )
    APP.state.settings = APP.state.engine.settings = s
    index, _ = open_index(s.corpus, s.index, api_embedder, s.chunker())
    APP.state.engine.attach(index, api_embedder)
    return APP


@schema.parametrize()
@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_responses_as_documented(case, ready):
    case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])
