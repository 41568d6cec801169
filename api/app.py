"""The app factory: ``create_app(settings)``. No module globals; state lives in ``app.state.engine``."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from api.auth import keys_from
from api.deps import LOAD_FAILED, Engine
from api.documents import router as documents_router
from api.errors import install_error_handlers
from api.limits import MAX_BODY_BYTES, BodyGuard, InFlightLimit
from api.metrics import Metrics, metrics_endpoint
from api.observability import RequestLog
from api.routes import STATIC, qa_router, router
from api.security import SecurityHeaders, install_security
from rag.settings import Settings

log = logging.getLogger("rag.api")

DESCRIPTION = """Retrieval question answering over a folder of articles: short extractive answers with exact
citations (document id and character offsets into the original text), or an explicit abstention when
the corpus does not say. The chat page is at `/`."""


def create_app(
    settings: Settings | None = None, *, index=None, embedder=None, background: bool = True, max_body_bytes: int = MAX_BODY_BYTES
) -> FastAPI:
    """The HTTP service. The embedder and index are loaded once, in a background thread started by the
    lifespan, so ``/healthz`` answers at once and ``/ask`` answers 503 with the reason until they are
    ready. Pass a prebuilt ``index`` and ``embedder`` (tests) to skip loading; ``background=False``
    loads before the app starts serving."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine: Engine = app.state.engine
        if engine.ready:
            # A lifespan run again over a loaded engine (a test client per test) keeps what it has:
            # a second load would race the first one's writes to the same index folder.
            yield
            return
        if index is not None and embedder is not None:
            loader = lambda: _guarded(engine, engine.attach, index, embedder)
        else:
            loader = lambda: engine.load(index, embedder)
        if background:
            t = threading.Thread(target=loader, name="rag-loader", daemon=True)
            t.start()
        else:
            from starlette.concurrency import run_in_threadpool

            await run_in_threadpool(loader)
        yield
        engine.unfollow()

    # FastAPI's /docs and /redoc pages load Swagger UI and ReDoc from a CDN: blank pages offline, and a
    # request to a third party from every reader's browser. fastapi-offline serves the same files from here.
    app = FastAPIOffline(title="rag", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.engine = Engine(settings=settings)
    app.state.settings = settings
    app.state.keys = keys_from(settings)
    app.state.metrics = metrics = Metrics(app.state.engine)
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(qa_router)
    app.include_router(documents_router)
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # add_middleware wraps what is there: the last added sees a request first.
    app.add_middleware(BodyGuard, limit=max_body_bytes, upload_limit=settings.max_document_bytes)
    app.add_middleware(InFlightLimit, limit=settings.max_in_flight, metrics=metrics, busy_above=settings.reader_max_in_flight)
    install_security(app, settings)
    app.add_middleware(RequestLog, log_questions=settings.log_questions, on_done=metrics.observe)
    app.add_middleware(SecurityHeaders)  # outermost: on every response, a 500 from RequestLog too
    return app


def create_worker_app() -> FastAPI:
    """The factory ``rag serve --workers N`` hands uvicorn (settings from the environment). A worker
    loads before it starts accepting: the workers share one listening socket, so while one is still
    loading the kernel hands connections to those that are ready, instead of that one answering 503
    (which a client sees at random, whichever worker its connection lands on)."""
    from api.server import prepare_process

    prepare_process()  # a worker is a process of its own: the parent's set-up is not inherited
    return create_app(Settings(), background=False)


def _guarded(engine: Engine, fn: Callable[..., None], *args: object) -> None:
    try:
        fn(*args)
    except Exception:
        log.exception("loading failed")
        engine._fail(LOAD_FAILED)
