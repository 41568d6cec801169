"""The app factory: ``create_app(settings)``. No module globals; state lives in ``app.state.engine``."""

from __future__ import annotations

import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.deps import Engine
from api.errors import MAX_BODY_BYTES, BodyGuard, install_error_handlers
from api.routes import STATIC, router
from rag.settings import Settings

DESCRIPTION = """Retrieval question answering over a folder of articles: short extractive answers with exact
citations (document id and character offsets into the original text), or an explicit abstention when
the corpus does not say. The chat page is at `/`."""


def create_app(settings: Settings | None = None, *, index=None, embedder=None, background: bool = True,
               max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """The HTTP service. The embedder and index are loaded once, in a background thread started by the
    lifespan, so ``/healthz`` answers at once and ``/ask`` answers 503 with the reason until they are
    ready. Pass a prebuilt ``index`` and ``embedder`` (tests) to skip loading; ``background=False``
    loads before the app starts serving."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine: Engine = app.state.engine
        if index is not None and embedder is not None:
            loader = lambda: _guarded(engine.attach, index, embedder)  # noqa: E731
        else:
            engine.index, engine.embedder = index, embedder
            loader = engine.load
        if background:
            t = threading.Thread(target=loader, name="rag-loader", daemon=True)
            t.start()
        else:
            from starlette.concurrency import run_in_threadpool

            await run_in_threadpool(loader)
        yield

    # /docs from a local Swagger UI (the swagger-ui-bundle package): FastAPI's default page loads it
    # from a CDN, a blank page offline or behind a firewall. ReDoc has no such package: not served.
    app = FastAPI(title="rag", version="0.1.0", description=DESCRIPTION, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.engine = Engine(settings=settings)
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _install_docs(app)
    app.add_middleware(BodyGuard, limit=max_body_bytes)
    return app


def _install_docs(app: FastAPI) -> None:
    from fastapi.openapi.docs import get_swagger_ui_html
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-static", StaticFiles(directory=str(swagger_ui_path)), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return get_swagger_ui_html(openapi_url=app.openapi_url, title="rag — API docs",
                                   swagger_js_url="/docs-static/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-static/swagger-ui.css",
                                   swagger_favicon_url="/docs-static/favicon-32x32.png")


def _guarded(fn, *args) -> None:
    engine: Engine = fn.__self__
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001
        engine._fail(f"{type(e).__name__}: {e}")
