"""Open an index for a corpus: load it if it matches, (re)build it if it is missing or stale."""

from __future__ import annotations

from pathlib import Path

from rag.chunking import ChunkerConfig
from rag.corpus import load_corpus
from rag.embedding import Embedder
from rag.errors import IndexMismatchError, IndexNotFoundError
from rag.store import BuildReport, Index, Progress, _no_progress, build_index, check_manifest


def open_index(corpus: str | Path, index_dir: str | Path, embedder: Embedder, chunker: ChunkerConfig = ChunkerConfig(),
               rebuild: bool = False, progress: Progress = _no_progress) -> tuple[Index, BuildReport | None]:
    """The index for ``corpus`` under ``index_dir``: loaded as is when it is current, else rebuilt,
    re-embedding only the documents that changed. Without a corpus folder, an existing index is used."""
    fingerprint = getattr(embedder, "fingerprint", None)
    if not Path(corpus).exists() and not rebuild:
        try:
            return Index.load(index_dir, model_id=embedder.model_id, fingerprint=fingerprint, chunker=chunker), None
        except IndexNotFoundError:
            pass  # fall through: load_corpus reports the missing corpus
    docs = load_corpus(corpus)
    previous: Index | None = None
    if not rebuild:
        try:
            previous = Index.load(index_dir)
            check_manifest(previous.manifest, model_id=embedder.model_id, fingerprint=fingerprint, chunker=chunker)
            previous.check_fresh(docs)
            return previous, None
        except (IndexNotFoundError, IndexMismatchError):
            pass
        except (OSError, ValueError, KeyError, RuntimeError):
            previous = None  # unreadable: rebuild from scratch
    report = build_index(docs, embedder, index_dir, chunker=chunker, previous=previous, progress=progress)
    index = Index.load(index_dir, model_id=embedder.model_id, fingerprint=fingerprint, chunker=chunker)
    return index, report
