"""The loaded service state (index + embedder) and the dependency that hands it to endpoints."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from api.errors import NotReadyError
from rag.errors import RagError
from rag.settings import Settings

log = logging.getLogger("rag.api")


_STEPS = {"chunk": "chunking documents", "embed": "embedding passages", "write": "writing"}


@dataclass
class Engine:
    """Everything the endpoints need; lives in ``app.state.engine``. ``status`` goes
    loading -> ready, or loading -> failed (with ``error``)."""

    settings: Settings
    index: Any = None
    embedder: Any = None
    retrieval: Any = None  # RetrievalConfig, built once
    answering: Any = None  # AnswerConfig with the trained models, loaded once
    status: str = "loading"
    error: str | None = None
    stage: str = "starting"
    notes: list[str] = field(default_factory=list)  # what loading left out or redid ("skipped x.txt: not UTF-8")
    load_seconds: float | None = None
    started: int = field(default_factory=lambda: int(time.time()))  # the "created" of /v1/models
    _ready: threading.Event = field(default_factory=threading.Event)

    @property
    def ready(self) -> bool:
        return self.status == "ready"

    def wait(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    def require(self) -> Engine:
        if self.status == "ready":
            return self
        if self.status == "failed":
            raise NotReadyError(f"the service could not load its index or model: {self.error}")
        raise NotReadyError(f"the index is not ready yet ({self.stage}); retry shortly")

    # -- loading -------------------------------------------------------------------------------
    def attach(self, index, embedder) -> None:
        self.index, self.embedder = index, embedder
        self._warm()

    def load(self) -> None:
        """Load the embedder and open (or build) the index; never raises: failures become ``status``."""
        t0 = time.perf_counter()
        try:
            if self.embedder is None:
                from rag.embedding import load_embedder

                self.stage = "loading the embedding model"
                s = self.settings
                self.embedder = load_embedder(s.model, backend=s.backend, query_prefix=s.query_prefix, query_threads=s.threads)
            if self.index is None:
                from rag.session import open_index, preflight

                self.stage = "opening the index"
                s = self.settings
                note = preflight(s.corpus, s.index, read_documents=False)  # open_index reads them next
                if note:
                    log.warning("note: %s", note)

                def noted(message: str) -> None:
                    self.notes.append(message)
                    self.stage = f"opening the index ({message})"  # e.g. waiting for another build
                    log.warning("note: %s", message)

                def building(step: str, done: int, total: int) -> None:
                    # /readyz says how far a first build is, not the last note it heard
                    self.stage = f"building the index: {_STEPS.get(step, step)} {done}/{total}"

                self.index, _report = open_index(s.corpus, s.index, self.embedder, s.chunker(), notify=noted, progress=building)
            self._warm()
            self.load_seconds = time.perf_counter() - t0
        except RagError as e:
            self._fail(str(e))
        except Exception as e:  # noqa: BLE001 - reported on /readyz and /ask, not as a traceback
            log.exception("loading failed")
            self._fail(f"{type(e).__name__}: {e}")

    def _warm(self) -> None:
        from rag.ask import ask

        self.stage = "loading the answer models"
        self.retrieval = self.settings.retrieval()
        self.answering = self.settings.answering()
        self.stage = "warming up the model"
        ask(self.index, self.embedder, "warm up query", k=1, retrieval=self.retrieval, answering=self.answering)
        self.status, self.stage = "ready", "ready"
        self._ready.set()

    def _fail(self, message: str) -> None:
        self.status, self.error, self.stage = "failed", message, "failed"
        self._ready.set()


def get_engine(request: Request) -> Engine:
    """The ready engine, or 503 with the reason."""
    return request.app.state.engine.require()
