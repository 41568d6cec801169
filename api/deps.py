"""The loaded service state (index + embedder + answer models) and the dependency that hands it to endpoints."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field, replace
from typing import TypeVar

from fastapi import Request

from api.errors import NotReadyError
from rag.answer import AnswerConfig
from rag.embedding import Embedder
from rag.errors import RagError
from rag.live import LiveIndex
from rag.progress import Rate
from rag.retrieval import RetrievalConfig
from rag.settings import Settings
from rag.store import Index

log = logging.getLogger("rag.api")


# How often a process serving a shared store (Milvus) looks for other processes' writes: a write
# through one replica is answered by the others within this, plus the time to read what changed.
FOLLOW_SECONDS = 0.5

# What a client is told when loading failed for a reason that is not the user's to fix: the exception's
# text names server internals, so it goes to the server log only.
LOAD_FAILED = "an internal error (the server log has the detail)"

_STEPS = {"chunk": "chunking documents", "embed": "embedding passages", "write": "writing"}


@dataclass(frozen=True)
class Loaded:
    """What answering needs, loaded once. A request takes one ``Loaded`` and uses it throughout."""

    index: Index
    embedder: Embedder
    retrieval: RetrievalConfig
    answering: AnswerConfig
    busy_answering: AnswerConfig | None = None  # without the reader: for requests that arrive at a busy server


@dataclass
class Engine:
    """Lives in ``app.state.engine``. ``status`` goes loading -> ready, or loading -> failed (with ``error``)."""

    settings: Settings
    loaded: Loaded | None = None
    live: LiveIndex | None = None  # writes documents; swaps ``loaded`` when it has
    status: str = "loading"
    error: str | None = None
    stage: str = "starting"
    notes: list[str] = field(default_factory=list)  # what loading left out or redid ("skipped x.txt: not UTF-8")
    progress: tuple[str, int, int] | None = None  # the index build's current step, done, total (the metrics)
    load_seconds: float | None = None
    started: int = field(default_factory=lambda: int(time.time()))  # the "created" of /v1/models
    unfollow: Callable[[], None] = lambda: None  # stops polling a shared store for other processes' writes
    _ready: threading.Event = field(default_factory=threading.Event)

    @property
    def ready(self) -> bool:
        return self.status == "ready"

    def wait(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    def require(self) -> Loaded:
        if self.status == "ready" and self.loaded is not None:
            return self.loaded
        if self.status == "failed":
            raise NotReadyError(f"the service could not load its index or model: {self.error}")
        raise NotReadyError(f"the index is not ready yet ({self.stage}); retry shortly")

    # -- loading -------------------------------------------------------------------------------
    def attach(self, index: Index, embedder: Embedder) -> None:
        self._warm(index, embedder)

    def load(self, index: Index | None = None, embedder: Embedder | None = None) -> None:
        """Load the embedder and open (or build) the index; never raises: failures become ``status``."""
        t0 = time.perf_counter()
        try:
            s = self.settings
            if embedder is None:
                self.stage = "loading the embedding model"
                embedder = s.embedder()
            if index is None:
                from rag.indexing import open_index, preflight

                self.stage = "opening the index"
                store = s.store()
                note = preflight(s.corpus, store, read_documents=False)  # open_index reads them next
                if note:
                    log.warning("note: %s", note)

                def noted(message: str) -> None:
                    self.notes.append(message)
                    self.stage = f"opening the index ({message})"  # e.g. waiting for another build
                    log.warning("note: %s", message)

                rates: dict[str, Rate] = {}

                def building(step: str, done: int, total: int) -> None:
                    # /readyz says how far a first build is, and how long is left, not the last note it heard
                    unit = "texts" if step == "embed" else "documents" if step == "chunk" else "steps"
                    described = rates.setdefault(step, Rate()).describe(done, total, unit)
                    self.stage = f"building the index: {_STEPS.get(step, step)} {described}"
                    self.progress = (step, done, total)

                index, _report = open_index(
                    s.corpus,
                    store,
                    embedder,
                    s.chunker(),
                    notify=noted,
                    progress=building,
                    allow_links=s.corpus_links,
                    uploads=s.documents,
                    large_chars=s.large_document_chars,
                    refuse_large=s.refuse_large_documents,
                )
            self._warm(index, embedder)
            self.load_seconds = time.perf_counter() - t0
        except RagError as e:
            self._fail(str(e))
        except Exception:
            log.exception("loading failed")
            self._fail(LOAD_FAILED)

    def _warm(self, index: Index, embedder: Embedder) -> None:
        from rag.ask import ask

        self.stage = "loading the answer models"
        answering = self.settings.answering()
        busy = replace(answering, reader=None, min_confidence=self.settings.min_confidence) if answering.reader is not None else None
        loaded = Loaded(index, embedder, self.settings.retrieval(), answering, busy)
        self.stage = "warming up the model"
        ask(index, embedder, "warm up query", k=1, retrieval=loaded.retrieval, answering=loaded.answering)
        s = self.settings
        self.live = LiveIndex(
            index,
            embedder,
            index.store,
            s.documents,
            s.chunker(),
            on_swap=self._swap,
            max_chars=s.large_document_chars if s.refuse_large_documents else None,
        )
        self.loaded = loaded
        self.unfollow = self.live.follow(FOLLOW_SECONDS)
        self.status, self.stage = "ready", "ready"
        self._ready.set()

    def _swap(self, index: Index) -> None:
        """A write's new index: requests from now on answer from it, those running keep theirs."""
        if self.loaded is not None:
            self.loaded = replace(self.loaded, index=index)

    def _fail(self, message: str) -> None:
        self.status, self.error, self.stage = "failed", message, "failed"
        self._ready.set()


async def get_loaded(request: Request) -> Loaded:  # async: a sync dependency would take a thread per request
    """What answering needs, or 503 with the reason."""
    engine: Engine = request.app.state.engine
    loaded = engine.require()
    if loaded.busy_answering is not None and request.scope.get("state", {}).get("busy"):
        return replace(loaded, answering=loaded.busy_answering)  # api.limits.InFlightLimit said so
    return loaded


T = TypeVar("T")
# Model work runs on as many threads as there are cores, in arrival order; requests beyond them wait
# their turn without a thread. Forty threads (the default pool) on two cores fight for the GIL with the
# event loop, which then cannot even refuse quickly: measured 4 s for a 503 at 300 clients.
# They also run at a lower CPU priority than the event loop (Linux: a thread has a nice value of its own):
# with both cores busy answering, the loop still gets a core the moment a request arrives, to refuse it.
MODEL_NICE = 5


def _model_thread() -> None:
    if sys.platform == "linux":  # elsewhere the id is not a scheduling entity setpriority takes
        with suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), MODEL_NICE)


_MODEL_THREADS = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="rag-answer", initializer=_model_thread)


async def run_model(fn: Callable[..., T], *args: object) -> T:
    return await asyncio.get_running_loop().run_in_executor(_MODEL_THREADS, functools.partial(fn, *args))
