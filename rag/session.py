"""Open an index for a corpus: load it if it matches, (re)build it if it is missing or stale."""

from __future__ import annotations

from pathlib import Path

from rag.chunking import ChunkerConfig
from rag.corpus import load_corpus
from rag.embedding import Embedder
from rag.errors import CorpusNotFoundError, IndexMismatchError, IndexNotFoundError
from rag.store import BuildReport, Index, Progress, _no_progress, build_index, check_index_target, check_manifest


def preflight(corpus: str | Path, index_dir: str | Path) -> str | None:
    """Fail now, in one line, on what would make ``open_index`` fail after minutes of loading (a
    server would otherwise come up and answer 503 forever). Returns a note to show when the index
    will answer without its corpus."""
    has_index = (Path(index_dir) / "manifest.json").exists()
    if not Path(corpus).exists():
        if not has_index:
            raise CorpusNotFoundError(f"corpus not found: {corpus} (and no index at {index_dir})")
        # By design an index answers without its corpus (it holds the text), but the user named a
        # corpus that is not there: say which index answers, so a typo does not go unnoticed.
        return f"corpus {corpus} not found; using the index at {index_dir} as it was built"
    load_corpus(corpus)  # an empty folder, a bad JSONL line: the same error the build would give
    if not has_index:
        check_index_target(index_dir)
    return None


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
