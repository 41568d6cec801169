"""The index a server answers from while documents are added, replaced and deleted.

A write stores the uploaded bytes (``rag.uploads``; a store that keeps documents itself, Milvus, holds
them instead), builds the next index from the current one (only the changed document is embedded;
the others' vectors are reused), writes it to its store and only then swaps it in: a query holds the
index it started with, so it sees the old corpus or the new one, never a mix, and never waits for a
write. Writes are serialised, within the process and across processes (the store's lock); a writer
that cannot get its turn in time is told so.

Several processes may serve one shared store (Milvus): each polls the store's generation
(``follow``) and swaps in what another one wrote, reading only the documents that changed.

Documents of the corpus folder are the folder's: the API neither replaces nor deletes them (change
the file and run ``rag index``); a folder change is picked up when the index is next opened.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import Timeout

from rag.chunking import ChunkerConfig
from rag.embedding import Embedder
from rag.errors import InvalidInputError, RagError
from rag.store import Index, build_index
from rag.stores import Store, as_store
from rag.types import Document
from rag.uploads import Upload, UploadStore, check_id, parse_upload

log = logging.getLogger("rag.live")


class ConflictError(RagError):
    """The write cannot be done as asked: the id exists (or not), it is the folder's, or another write holds the turn."""


class DocumentNotFound(RagError):
    pass


@dataclass(frozen=True)
class Written:
    """What a write did to one document."""

    id: str
    sha256: str
    chunks: int
    created: bool  # False: it replaced a document of that id
    seconds: float  # the whole write: storing, embedding, writing and swapping in the index
    title: str = ""


class LiveIndex:
    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        store: str | Path | Store,
        uploads: str | Path,
        chunker: ChunkerConfig = ChunkerConfig(),
        lock_timeout: float = 30.0,
        on_swap: Callable[[Index], None] = lambda index: None,
        max_chars: int | None = None,
    ):
        self.index = index  # replaced whole, never changed in place
        self.embedder = embedder
        self.target = as_store(store)
        self.uploads = UploadStore(uploads)
        self.chunker = chunker
        self.lock_timeout = lock_timeout
        self.on_swap = on_swap
        self.max_chars = max_chars  # writes of documents with more text are refused
        self._turn = threading.Lock()

    # -- reading ---------------------------------------------------------------------------------
    def uploaded(self, doc: Document) -> bool:
        return doc.source == "api"

    # -- writing ---------------------------------------------------------------------------------
    def add(self, uploads: Iterable[Upload], replace: bool = False) -> list[Written]:
        """Add documents (``replace``: or replace those of the same id); all or none of them."""
        items = list(uploads)
        docs = [parse_upload(u) for u in items]
        for d in docs:
            if self.max_chars is not None and len(d.text) > self.max_chars:
                raise InvalidInputError(
                    f"{d.id}: {len(d.text):,} characters of text, over the limit of {self.max_chars:,} (RAG_LARGE_DOCUMENT_CHARS)",
                    field="file",
                )
        seen: set[str] = set()
        for d in docs:
            if d.id in seen:
                raise ConflictError(f"two documents with the id {d.id!r} in one request")
            seen.add(d.id)
        return self._write(lambda current: self._check_puts(current, docs, replace), items, docs, [])

    def delete(self, doc_id: str) -> float:
        """Delete an uploaded document; the seconds the write took."""
        check_id(doc_id)
        t0 = time.perf_counter()

        def check(current: Index) -> None:
            d = current.documents.get(doc_id)
            if d is None:
                raise DocumentNotFound(f"no document with id {doc_id!r}")
            if not self.uploaded(d):
                raise ConflictError(f"document {doc_id!r} is a file of the corpus folder: delete the file and run `rag index`")

        self._write(check, [], [], [doc_id])
        return time.perf_counter() - t0

    def _check_puts(self, current: Index, docs: list[Document], replace: bool) -> None:
        for d in docs:
            old = current.documents.get(d.id)
            if old is None:
                continue
            if not self.uploaded(old):
                raise ConflictError(f"document {d.id!r} is a file of the corpus folder: change the file and run `rag index`")
            if not replace:
                raise ConflictError(f"a document with id {d.id!r} exists; PUT /documents/{{id}} replaces it")

    def _write(self, check: Callable[[Index], Any], items: list[Upload], docs: list[Document], deletes: list[str]) -> list[Written]:
        t0 = time.perf_counter()
        if not self._turn.acquire(timeout=self.lock_timeout):
            raise ConflictError("another write is in progress; retry when it is done")
        try:
            lock = self.target.lock()
            try:
                lock.acquire(timeout=self.lock_timeout)
            except Timeout:
                raise ConflictError("another process is writing this index; retry when it is done") from None
            try:
                current = self._latest()
                check(current)
                if not self.target.keeps_uploads:
                    self.uploads.clean()
                    for u, d in zip(items, docs):
                        self.uploads.put(u, d)
                    for doc_id in deletes:
                        self.uploads.delete(doc_id)
                changed = {d.id: d for d in docs}
                kept = [d for d in current.documents.values() if d.id not in changed and d.id not in deletes]
                build_index(kept + docs, self.embedder, self.target, chunker=self.chunker, previous=current)
                fresh = self.target.refresh(current)
            finally:
                lock.release()
            self._swap(fresh)
        finally:
            self._turn.release()
        seconds = time.perf_counter() - t0
        counts: dict[str, int] = {}
        for c in fresh.chunks:
            counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
        return [Written(d.id, d.sha256, counts.get(d.id, 0), d.id not in current.documents, seconds, d.title) for d in docs]

    # -- following a shared store ------------------------------------------------------------------
    def _swap(self, index: Index) -> None:
        self.index = index
        self.on_swap(index)

    def _latest(self) -> Index:
        """The index a write builds on: the store's, which another process serving it may have changed."""
        if self.target.generation(latest=True) not in (None, self.index.generation):
            self._swap(self.target.refresh(self.index))
        return self.index

    def refresh(self) -> bool:
        """Swap in what another process wrote to the store since this one read it; whether there was any."""
        if self.target.generation() in (None, self.index.generation):
            return False
        if not self._turn.acquire(blocking=False):
            return False  # a write of this process holds the turn, and swaps in the store's index when done
        try:
            self._swap(self.target.refresh(self.index))
        finally:
            self._turn.release()
        return True

    def follow(self, every: float = 0.5) -> Callable[[], None]:
        """Poll the store every ``every`` seconds in a thread (a store that is not shared: never); returns
        the function that stops it."""
        stop = threading.Event()
        if self.target.generation() is None:
            return stop.set

        def run() -> None:
            failing = False
            while not stop.wait(every):
                try:
                    self.refresh()
                    failing = False
                except Exception as e:  # the server gone for a while: keep answering from what is loaded
                    if not failing:
                        log.warning("cannot read %s (%s: %s); answering from the index as last read", self.target, type(e).__name__, e)
                    failing = True

        threading.Thread(target=run, name="rag-follow", daemon=True).start()
        return stop.set
