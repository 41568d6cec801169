"""/metrics in Prometheus' text format, from a registry of each app's own."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api_support import BELGIUM_Q, UNANSWERABLE_Q

pytest_plugins = ["tests.api_fixtures"]


def scrape(client) -> dict[tuple[str, tuple], float]:
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families(r.text) for s in f.samples}


@pytest.mark.slow
def test_requests_answers_and_the_index_are_counted(loaded, api_index):
    c = loaded()
    c.post("/ask", json={"question": BELGIUM_Q})
    c.post("/ask", json={"question": UNANSWERABLE_Q})
    c.post("/ask", json={"question": ""})
    c.get("/documents/hegseth-europe-visit")
    c.get("/documents/no-such-doc")
    c.get("/no/such/path")
    m = scrape(c)
    ask = ("method", "POST"), ("route", "/ask")
    assert m["rag_http_requests_total", (*ask, ("status", "200"))] == 2
    assert m["rag_http_requests_total", (*ask, ("status", "422"))] == 1
    doc = ("method", "GET"), ("route", "/documents/{doc_id}")
    assert m["rag_http_requests_total", (*doc, ("status", "200"))] == 1 and m["rag_http_requests_total", (*doc, ("status", "404"))] == 1
    assert m["rag_http_requests_total", (("method", "GET"), ("route", "unmatched"), ("status", "404"))] == 1
    assert m["rag_http_request_duration_seconds_count", (("route", "/ask"),)] == 3
    assert m["rag_http_request_duration_seconds_bucket", (("le", "+Inf"), ("route", "/ask"))] == 3
    assert m["rag_answers_total", (("outcome", "answered"),)] == 1 and m["rag_answers_total", (("outcome", "abstained"),)] == 1
    assert m["rag_index_documents", ()] == len(api_index.documents) == 5
    assert m["rag_index_passages", ()] == len(api_index.chunks)
    assert m["rag_ready", ()] == 1
    assert m["rag_in_flight_requests", ()] == 0 and m["rag_overload_refused_total", ()] == 0


def test_each_app_counts_its_own(bare):
    a, b = bare(), bare()
    a.get("/healthz")
    a.get("/healthz")
    b.get("/healthz")
    health = ("rag_http_requests_total", (("method", "GET"), ("route", "/healthz"), ("status", "200")))
    assert scrape(a)[health] == 2 and scrape(b)[health] == 1


def test_build_progress_while_loading(bare, small_corpus, tmp_path, fake_embedder):
    c = bare()
    m = scrape(c)
    assert m["rag_ready", ()] == 0 and not any(name == "rag_index_build_progress" for name, _ in m)
    c.app.state.engine.progress = ("embed", 30, 120)
    assert scrape(c)["rag_index_build_progress", (("step", "embed"),)] == 0.25
    # loading reports its steps
    from api.deps import Engine
    from rag.settings import Settings

    seen: list = []

    class Watched(Engine):
        def __setattr__(self, name, value):
            if name == "progress" and value is not None:
                seen.append(value)
            super().__setattr__(name, value)

    Watched(Settings(corpus=small_corpus, index=tmp_path / "built")).load(embedder=fake_embedder)
    assert {step for step, _, _ in seen} >= {"embed"} and all(0 <= done <= total for _, done, total in seen)
