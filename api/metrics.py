"""Prometheus metrics at ``/metrics``, in a registry per app (not the process-wide one, so one process
can hold several apps, as the tests do)."""

from __future__ import annotations

import re

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, compile_path

from api.deps import Engine
from api.observability import RequestRecord

# Answers take 10-50 ms alone and seconds in a queue; health checks take microseconds.
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self, engine: Engine):
        self.registry = r = CollectorRegistry()
        self.requests = Counter(
            "rag_http_requests", "HTTP requests by route template, method and status", ["route", "method", "status"], registry=r
        )
        self.latency = Histogram(
            "rag_http_request_duration_seconds",
            "From request to the end of the response, by route template",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.answers = Counter("rag_answers", "Questions answered, and abstained on (the corpus does not say)", ["outcome"], registry=r)
        for outcome in ("answered", "abstained"):
            self.answers.labels(outcome)
        self.in_flight = Gauge("rag_in_flight_requests", "Answering requests being served now", registry=r)
        self.refused = Counter(
            "rag_overload_refused", "Requests refused at once with 503: too many answering requests in flight", registry=r
        )
        self.busy = Counter("rag_busy_answered", "Requests that arrived at a busy server and were answered without the reader", registry=r)
        r.register(_EngineCollector(engine))

    def observe(self, scope, status: int, seconds: float, record: RequestRecord) -> None:
        """Called once a request is over (``RequestLog``'s ``on_done``)."""
        route = route_template(scope)
        self.requests.labels(route, scope.get("method", ""), str(status)).inc()
        self.latency.labels(route).observe(seconds)
        if record.abstained is not None:
            self.answers.labels("abstained" if record.abstained else "answered").inc()


class _EngineCollector:
    """Read at each scrape: the index as it is now, and how far loading has got."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def collect(self):
        engine = self.engine
        yield GaugeMetricFamily("rag_ready", "1 once the index is loaded and the model warm", value=1.0 if engine.ready else 0.0)
        loaded = engine.loaded
        if loaded is not None:
            yield GaugeMetricFamily("rag_index_documents", "Documents in the index", value=len(loaded.index.documents))
            yield GaugeMetricFamily("rag_index_passages", "Passages in the index", value=len(loaded.index.chunks))
        progress = GaugeMetricFamily(
            "rag_index_build_progress", "Share done (0..1) of the index build's current step, while loading", labels=["step"]
        )
        if engine.progress is not None and not engine.ready:
            step, done, total = engine.progress
            progress.add_metric([step], done / total if total else 0.0)
        yield progress


def route_template(scope) -> str:
    """The route a request matched (``/documents/{doc_id}``, not the id: a label per id would grow
    without bound), also for a request refused before routing; "unmatched" for any other path."""
    route = scope.get("route")
    if getattr(route, "path", None):
        return route.path
    path = scope.get("path", "")
    for template, pattern in _templates(scope.get("app")):
        if pattern.fullmatch(path):
            return template
    return "unmatched"


def _templates(app) -> list[tuple[str, re.Pattern]]:
    """The app's path templates (its schema's, and its other routes and mounts), as patterns; once per app."""
    state = getattr(app, "state", None)
    if state is None:
        return []
    if getattr(state, "route_patterns", None) is None:
        paths = list(app.openapi().get("paths", {}))
        patterns = [(t, compile_path(t)[0]) for t in paths]
        for r in app.routes:
            if isinstance(r, Mount):
                patterns.append((r.path, re.compile(re.escape(r.path) + "/.*")))
            elif isinstance(r, Route) and r.path not in paths:
                patterns.append((r.path, compile_path(r.path)[0]))
        state.route_patterns = patterns
    return state.route_patterns


async def metrics_endpoint(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
