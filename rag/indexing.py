"""Open an index for a corpus: load it if it matches, (re)build it if it is missing or stale."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from rag.chunking import ChunkerConfig
from rag.corpus import load_corpus
from rag.embedding import Embedder
from rag.errors import CorpusNotFoundError, IndexCorruptError, IndexMismatchError, IndexNotFoundError
from rag.types import Document
from rag.uploads import UploadStore
from rag.store import BuildReport, Index, Progress, _no_progress, build_index, check_index_target, check_manifest, remove_stale


def preflight(corpus: str | Path, index_dir: str | Path, read_documents: bool = True, allow_links: bool = False) -> str | None:
    """Fail now, in one line, on what would make ``open_index`` fail after minutes of loading (a
    server would otherwise come up and answer 503 forever). Returns a note to show when the index
    will answer without its corpus. ``read_documents=False`` skips reading the corpus, for a caller
    that opens the index next (``open_index`` reads it and raises the same errors)."""
    has_index = (Path(index_dir) / "manifest.json").exists()
    if not Path(corpus).exists():
        if not has_index:
            raise CorpusNotFoundError(f"corpus not found: {corpus} (and no index at {index_dir})")
        # By design an index answers without its corpus (it holds the text), but the user named a
        # corpus that is not there: say which index answers, so a typo does not go unnoticed.
        return f"corpus {_shown(corpus)} not found; using the index at {_shown(index_dir)} as it was built"
    if read_documents:
        load_corpus(corpus, skipped=[], allow_links=allow_links)  # an empty folder, a bad JSONL line: the same error the build would give
    if not has_index:
        check_index_target(index_dir)
    return None


def _shown(path: str | Path) -> str:
    """A path as the user gave it, quoted, with where it points when that is not plain: "'corpus'
    (/srv/corpus)" reads as a path, "corpus corpus" read as a typo."""
    p = Path(path)
    return f"'{p}'" if p.is_absolute() else f"'{p}' ({p.resolve()})"


def open_index(
    corpus: str | Path,
    index_dir: str | Path,
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
    """The index for ``corpus`` (and the documents written over the API, kept in ``uploads``) under
    ``index_dir``: loaded as is when it is current, else rebuilt, re-embedding only the documents that
    changed. Without a corpus folder, an existing index is used."""
    fingerprint = getattr(embedder, "fingerprint", None)
    if not Path(corpus).exists() and not rebuild:
        try:
            return Index.load(index_dir, model_id=embedder.model_id, fingerprint=fingerprint, chunker=chunker), None
        except IndexNotFoundError:
            pass  # fall through: load_corpus reports the missing corpus
    with _build_lock(index_dir, notify, wait=False) as locked:
        if locked:  # what a build or a write killed half-way left
            for p in remove_stale(Path(index_dir)):
                notify(f"removed {p.name}, left by a build that did not finish")
            if uploads is not None:
                UploadStore(uploads).clean()
    skipped: list[str] = []
    docs = load_documents(corpus, uploads, skipped, allow_links)
    docs = [d for d in docs if not _too_large(d, large_chars, refuse_large, notify)]
    for reason in skipped:
        notify(f"skipped {reason}")
    if not rebuild:
        current, _ = _current(index_dir, docs, embedder.model_id, fingerprint, chunker)
        if current is not None:
            return current, None
    check_index_target(index_dir)
    # One build at a time per index: a server and a `rag ask` started together on a fresh checkout
    # would otherwise both build, and the second rename would fail. The one that waited then finds
    # the index current and only loads it.
    with _build_lock(index_dir, notify):
        try:
            current, previous = _current(index_dir, docs, embedder.model_id, fingerprint, chunker)
        except IndexCorruptError as e:
            if not rebuild:
                raise
            notify(f"the index was corrupt ({e}); rebuilding it from the documents")
            current = previous = None
        if current is not None and not rebuild:
            return current, None
        report = build_index(
            docs, embedder, index_dir, chunker=chunker, previous=previous, progress=progress, reuse=not rebuild, notify=notify
        )
    index = Index.load(index_dir, model_id=embedder.model_id, fingerprint=fingerprint, chunker=chunker)
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


def _current(index_dir, docs, model_id, fingerprint, chunker) -> tuple[Index | None, Index | None]:
    """(the index if it is current for ``docs``, else None; the readable index a build can update)."""
    try:
        index = Index.load(index_dir)
    except (IndexNotFoundError, IndexMismatchError):
        return None, None  # absent or of another format: built from scratch (a corrupt one is an error)
    try:
        check_manifest(index.manifest, model_id=model_id, fingerprint=fingerprint, chunker=chunker)
        index.check_fresh(docs)
    except IndexMismatchError:
        return None, index
    return index, index


@contextmanager
def _build_lock(index_dir: str | Path, notify: Callable[[str], None], wait: bool = True) -> Iterator[bool]:
    """One writer of an index at a time, across processes. Yields whether the lock is held (without
    ``wait``, False when another process holds it)."""
    lock = build_lock(index_dir)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if not wait:
            yield False
            return
        notify(f"another process is building the index at {index_dir}; waiting for it")
        lock.acquire()
    try:
        yield True
    finally:
        lock.release()


def build_lock(index_dir: str | Path) -> FileLock:
    path = Path(index_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(path.parent / f".{path.name}.lock")
