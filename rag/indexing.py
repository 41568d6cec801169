"""Open an index for a corpus: load it if it matches, (re)build it if it is missing or stale."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import Timeout

from rag.chunking import ChunkerConfig
from rag.corpus import load_corpus
from rag.embedding import Embedder
from rag.errors import CorpusNotFoundError, IndexCorruptError, IndexMismatchError, IndexNotFoundError
from rag.store import BuildReport, Index, Progress, _no_progress, build_index, check_manifest
from rag.stores import Store, as_store
from rag.types import Document
from rag.uploads import UploadStore


def preflight(corpus: str | Path, index_dir: str | Path | Store, read_documents: bool = True, allow_links: bool = False) -> str | None:
    """Fail now, in one line, on what would make ``open_index`` fail after minutes of loading (a
    server would otherwise come up and answer 503 forever). Returns a note to show when the index
    will answer without its corpus. ``read_documents=False`` skips reading the corpus, for a caller
    that opens the index next (``open_index`` reads it and raises the same errors)."""
    store = as_store(index_dir)
    has_index = store.exists()
    if not Path(corpus).exists():
        if not has_index:
            raise CorpusNotFoundError(f"corpus not found: {corpus} (and no index at {store})")
        # By design an index answers without its corpus (it holds the text), but the user named a
        # corpus that is not there: say which index answers, so a typo does not go unnoticed.
        where = _shown(store.path) if store.path is not None else str(store)
        return f"corpus {_shown(corpus)} not found; using the index at {where} as it was built"
    if read_documents:
        load_corpus(corpus, skipped=[], allow_links=allow_links)  # an empty folder, a bad JSONL line: the same error the build would give
    if not has_index:
        store.check_target()
    return None


def _shown(path: str | Path) -> str:
    """A path as the user gave it, quoted, with where it points when that is not plain: "'corpus'
    (/srv/corpus)" reads as a path, "corpus corpus" read as a typo."""
    p = Path(path)
    return f"'{p}'" if p.is_absolute() else f"'{p}' ({p.resolve()})"


def open_index(
    corpus: str | Path,
    index_dir: str | Path | Store,
    embedder: Embedder,
    chunker: ChunkerConfig = ChunkerConfig(),
    rebuild: bool = False,
    progress: Progress = _no_progress,
    notify: Callable[[str], None] = lambda message: None,
    allow_links: bool = False,
    uploads: str | Path | None = None,
    large_chars: int = 2_000_000,
    refuse_large: bool = False,
) -> tuple[Index, BuildReport | None]:
    """The index for ``corpus`` (and the documents written over the API, kept in ``uploads`` or, for a
    store that keeps them, in the store) in ``index_dir`` (a folder, or a store): loaded as is when it
    is current, else rebuilt, re-embedding only the documents that changed. Without a corpus folder,
    an existing index is used."""
    store = as_store(index_dir)
    fingerprint = getattr(embedder, "fingerprint", None)
    if not Path(corpus).exists() and not rebuild:
        try:
            return store.load(model_id=embedder.model_id, fingerprint=fingerprint, chunker=chunker), None
        except IndexNotFoundError:
            pass  # fall through: load_corpus reports the missing corpus
    with _build_lock(store, notify, wait=False) as locked:
        if locked:  # what a build or a write killed half-way left
            for name in store.clean():
                notify(f"removed {name}, left by a build that did not finish")
            if uploads is not None and not store.keeps_uploads:
                UploadStore(uploads).clean()
    skipped: list[str] = []
    folder = load_documents(corpus, None if store.keeps_uploads else uploads, skipped, allow_links)
    folder = [d for d in folder if not _too_large(d, large_chars, refuse_large, notify)]
    for reason in skipped:
        notify(f"skipped {reason}")
    seen = None
    if not rebuild:
        current, seen, _ = _current(store, folder, embedder.model_id, fingerprint, chunker)
        if current is not None:
            return current, None
    store.check_target()
    # One build at a time per index: a server and a `rag ask` started together on a fresh checkout
    # would otherwise both build, and the second rename would fail. The one that waited then finds
    # the index current and only loads it.
    with _build_lock(store, notify):
        try:
            current, previous, docs = _current(store, folder, embedder.model_id, fingerprint, chunker, seen, notify)
        except IndexCorruptError as e:
            if not rebuild:
                raise
            notify(f"the index was corrupt ({e}); rebuilding it from the documents")
            current, previous, docs = None, None, folder
        if current is not None and not rebuild:
            return current, None
        report = build_index(
            docs, embedder, store, chunker=chunker, previous=previous, progress=progress, reuse=not rebuild, notify=notify
        )
    index = store.load(model_id=embedder.model_id, fingerprint=fingerprint, chunker=chunker)
    return index, report


def load_documents(corpus: str | Path, uploads: str | Path | None, skipped: list[str], allow_links: bool = False) -> list[Document]:
    """The corpus folder's documents and the uploaded ones. Ids are unique: an uploaded document whose
    id a file of the folder took since is left out, with a note."""
    docs = load_corpus(corpus, skipped=skipped, allow_links=allow_links)
    if uploads is None:
        return docs
    taken = {d.id for d in docs}
    for d in UploadStore(uploads).load(skipped):
        if d.id in taken:
            skipped.append(f"uploaded document {d.id!r}: a file of the corpus folder has the same id; rename one of them")
        else:
            docs.append(d)
    return docs


def _too_large(doc: Document, limit: int, refuse: bool, notify: Callable[[str], None]) -> bool:
    """Whether to leave a document out for its size; a large one is named either way, since it can
    take a long time to embed (every sentence is a text)."""
    if len(doc.text) <= limit:
        return False
    size = f"{doc.source or doc.id}: {len(doc.text):,} characters of text, over RAG_LARGE_DOCUMENT_CHARS ({limit:,})"
    notify(f"skipped {size} (RAG_REFUSE_LARGE_DOCUMENTS is on)" if refuse else f"{size}: indexing it takes a while")
    return refuse


def _current(
    store: Store,
    folder: list[Document],
    model_id: str,
    fingerprint: str | None,
    chunker: ChunkerConfig,
    seen: Index | None = None,
    notify: Callable[[str], None] = lambda message: None,
) -> tuple[Index | None, Index | None, list[Document]]:
    """(the index if it is current, else None; the readable index a build can update; every document:
    ``folder`` and, for a store that keeps them, the documents written over the API). ``seen``: the
    index as read a moment ago, which the store may read again in part."""
    try:
        index = store.refresh(seen) if seen is not None else store.load()
    except (IndexNotFoundError, IndexMismatchError):
        return None, None, folder  # absent or of another format: built from scratch (a corrupt one is an error)
    docs = _with_written(store, folder, index, notify)
    try:
        check_manifest(index.manifest, model_id=model_id, fingerprint=fingerprint, chunker=chunker)
        index.check_fresh(docs)
    except IndexMismatchError:
        return None, index, docs
    return index, index, docs


def _with_written(store: Store, folder: list[Document], index: Index, notify: Callable[[str], None]) -> list[Document]:
    """``folder`` and the documents written over the API that ``store`` keeps itself (no folder holds them)."""
    if not store.keeps_uploads:
        return folder
    taken = {d.id for d in folder}
    written = [d for d in index.documents.values() if d.source == "api"]
    for d in written:
        if d.id in taken:
            notify(f"document {d.id!r} written over the API is replaced by the corpus folder's file of that id")
    return folder + [d for d in written if d.id not in taken]


@contextmanager
def _build_lock(store: Store, notify: Callable[[str], None], wait: bool = True) -> Iterator[bool]:
    """One writer of an index at a time, across processes. Yields whether the lock is held (without
    ``wait``, False when another process holds it)."""
    lock = store.lock()
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if not wait:
            yield False
            return
        notify(f"another process is building the index at {store}; waiting for it")
        lock.acquire()
    try:
        yield True
    finally:
        lock.release()
