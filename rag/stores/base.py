"""The vector store interface, and the ``Index`` a store loads.

A ``Store`` is where an index lives (a folder, a Milvus collection): it loads an ``Index`` and applies
a build to it. The ``Vectors`` of a loaded index are the one place retrieval and scoring ask for
nearest vectors or read vectors, by row of that index (``Index.chunks[row]``,
``Index.candidates[row]``), so the rest of the code never holds a store's own ids. An ``Index``
holds the rest in memory: documents, passages, answer candidates, BM25, the manifest.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

import bm25s
import numpy as np

from rag.errors import IndexMismatchError
from rag.text import terms
from rag.types import Candidate, Cell, Chunk, Document

if TYPE_CHECKING:
    from filelock import BaseFileLock

    from rag.chunking import ChunkerConfig

# bm25s sets its own logger to DEBUG at import, so every build printed "Building index from tokens"
# once any handler was installed (uvicorn's, a user's basicConfig).
logging.getLogger("bm25s").setLevel(logging.WARNING)

Kind = Literal["chunk", "candidate"]


class Within:
    """A search kept to some documents (a filter, applied before ranking): their ids, and, when a store
    asks, their rows in one index."""

    def __init__(self, index: Index, docs: frozenset[str]):
        self.index = index
        self.docs = docs

    @cached_property
    def chunk_rows(self) -> np.ndarray:
        return self.index.rows_of(self.docs)

    @cached_property
    def candidate_mask(self) -> np.ndarray:
        return np.isin(self.index.candidate_rows, self.chunk_rows)


class Vectors(ABC):
    """The vectors of one loaded index. Scores are inner products of normalised vectors (cosines)."""

    dim: int

    @abstractmethod
    def count(self, kind: Kind) -> int: ...

    @abstractmethod
    def search(self, kind: Kind, vector: np.ndarray, k: int, within: Within | None = None) -> list[tuple[int, float]]:
        """The ``k`` rows of ``kind`` nearest ``vector``, best first; only rows of ``within`` when given.
        An empty list when this store does not rank ``kind`` at this size."""

    @abstractmethod
    def get(self, kind: Kind, rows: Sequence[int]) -> np.ndarray:
        """The vectors of these rows, in that order (float32, one row each)."""


@dataclass
class Part:
    """One document's passages and answer candidates in a build. ``chunk_vectors`` is None for a document
    kept from the previous index: its vectors are still there (``previous_rows`` names its rows)."""

    chunks: list[Chunk]
    candidates: list[Candidate]
    chunk_vectors: np.ndarray | None = None
    candidate_vectors: np.ndarray | None = None
    previous_rows: tuple[list[int], list[int]] | None = None


@dataclass
class Update:
    """What a build hands its store: every document in order, each one's part, and the manifest.
    ``incremental``: the previous index was built alike, so only the documents embedded now (and the
    removed ones) need writing."""

    manifest: dict
    docs: list[Document]
    parts: dict[str, Part]
    names: frozenset[str]
    config: IndexConfig
    previous: Index | None = None
    incremental: bool = False
    removed: tuple[str, ...] = ()
    fresh: set[str] = field(default_factory=set)


class Store(ABC):
    """Where an index lives. ``name`` is its key in ``rag.stores.STORES`` (``RAG_VECTOR_STORE``)."""

    name: ClassVar[str]
    path: Path | None = None  # the folder, for a store that is one
    # Documents written over the API: kept as uploaded under RAG_DOCUMENTS (False), or inside the store
    # itself, so that every process serving it sees them and none needs a local folder (True).
    keeps_uploads: ClassVar[bool] = False

    @abstractmethod
    def __str__(self) -> str:
        """Where it is, for messages: a folder, or a collection and its server."""

    @abstractmethod
    def exists(self) -> bool:
        """Whether an index (its manifest) is there."""

    def check_target(self) -> None:  # noqa: B027 - most stores have nothing to refuse
        """Refuse, before minutes of embedding, to build where building would destroy what is not ours."""

    @abstractmethod
    def lock(self) -> BaseFileLock:
        """The lock writers of this store take, one at a time."""

    def clean(self) -> list[str]:
        """Remove what builds killed half-way left; what was removed, for a note."""
        return []

    @abstractmethod
    def load(
        self,
        *,
        model_id: str | None = None,
        fingerprint: str | None = None,
        chunker: ChunkerConfig | None = None,
        mmap: bool = False,
    ) -> Index:
        """The index, or ``IndexMismatchError`` if it was built differently from what is given."""

    @abstractmethod
    def write(self, update: Update) -> None:
        """Make the stored index the one ``update`` describes; the manifest goes last."""

    def generation(self, latest: bool = False) -> int | None:
        """A number each write changes, for processes serving one shared store to poll (``latest``:
        after every write acknowledged so far, which takes longer); None when the store is not shared
        (each process then answers from what it loaded)."""
        return None

    def refresh(self, index: Index) -> Index:
        """The index as the store now holds it, reading as little of it again as the store can."""
        return self.load()


@dataclass(frozen=True)
class IndexConfig:
    """How vectors are indexed; recorded in the manifest."""

    # Exact search up to 20k chunks (flat over 100k took 15 ms/query here), HNSW above. bench/scale.py:
    # efSearch 128 gives recall@10 0.95 on real questions at 100k; efConstruction 200 helps at 1M.
    flat_threshold: int = 20_000
    hnsw_m: int = 32
    hnsw_ef_construction: int = 200
    hnsw_ef_search: int = 128
    bm25_k1: float = 1.2
    bm25_b: float = 0.75


class Index:
    """A loaded index: the only stateful object besides the embedder. Its vectors stay with its store
    (``vectors``); texts, offsets, BM25 and the manifest are held here."""

    def __init__(
        self,
        store: Store,
        manifest: dict,
        documents: dict[str, Document],
        chunks: list[Chunk],
        candidates: list[Candidate],
        vectors: Vectors,
        bm25: bm25s.BM25,
        names: frozenset[str] | None = None,
    ):
        self.store = store
        self.path: Path | None = getattr(store, "path", None)  # a FAISS index's folder
        self.names = names  # None for an index built before names.json: the scorer computes them
        self.manifest = manifest
        self.documents = documents
        self.chunks = chunks
        self.candidates = candidates
        self.vectors = vectors
        self.bm25 = bm25
        self.chunk_row = {c.id: i for i, c in enumerate(chunks)}
        # candidates of each chunk row, in document order
        self.candidates_of: list[list[int]] = [[] for _ in chunks]
        for j, cand in enumerate(candidates):
            self.candidates_of[self.chunk_row[cand.chunk_id]].append(j)
        self.candidate_rows = np.array([self.chunk_row[c.chunk_id] for c in candidates], dtype=np.int64)
        self._doc_rows: dict[str, list[int]] | None = None

    @property
    def generation(self) -> int:
        """The store's count of writes when this index was read (0 for a store that keeps none)."""
        return int(self.manifest.get("generation", 0))

    def rows_of(self, docs: frozenset[str]) -> np.ndarray:
        """The chunk rows of these documents, in order."""
        if self._doc_rows is None:
            by_doc: dict[str, list[int]] = {}
            for r, c in enumerate(self.chunks):
                by_doc.setdefault(c.doc_id, []).append(r)
            self._doc_rows = by_doc
        return np.array(sorted(r for d in docs for r in self._doc_rows.get(d, ())), dtype=np.int64)

    def within(self, docs: frozenset[str] | None) -> Within | None:
        """A search kept to these documents (None: every document)."""
        return None if docs is None else Within(self, docs)

    def stale_documents(self, docs: list[Document]) -> tuple[list[str], list[str], list[str]]:
        """(added, changed, removed) document ids between this index and ``docs``."""
        old = self.manifest["documents"]
        new = {d.id: d.sha256 for d in docs}
        added = sorted(set(new) - set(old))
        removed = sorted(set(old) - set(new))
        changed = sorted(k for k in set(new) & set(old) if new[k] != old[k])
        return added, changed, removed

    def check_fresh(self, docs: list[Document]) -> None:
        added, changed, removed = self.stale_documents(docs)
        if added or changed or removed:
            raise IndexMismatchError(
                f"index at {self.store} is older than the corpus ({len(added)} new, {len(changed)} changed, "
                f"{len(removed)} deleted documents); run `rag index`"
            )


def bm25_index(chunks: list[Chunk], k1: float, b: float) -> bm25s.BM25:
    """BM25 over the chunks' index texts (Snowball stems), as every store builds it."""
    bm = bm25s.BM25(k1=k1, b=b)
    if chunks:
        bm.index([terms(c.index_text) or ["_empty_"] for c in chunks], show_progress=False)
    return bm


def _runs(offsets: tuple[int, ...]) -> list[list[int]]:
    """``offsets`` as [text position, source position, length] runs in which both advance together:
    a clean view copies most characters in long runs, so a document's map stays small on disk."""
    runs: list[list[int]] = []
    for i, o in enumerate(offsets):
        if runs and runs[-1][1] + runs[-1][2] == o and runs[-1][0] + runs[-1][2] == i:
            runs[-1][2] += 1
        else:
            runs.append([i, o, 1])
    return runs


def _offsets(runs: list[list[int]]) -> tuple[int, ...]:
    out: list[int] = []
    for _, o, n in runs:
        out.extend(range(o, o + n))
    return tuple(out)


def doc_record(d: Document) -> dict:
    r = asdict(d)
    r["offsets"] = _runs(d.offsets) if d.offsets is not None else None
    r["pages"] = list(d.pages)
    return r


def doc_from_record(r: dict) -> Document:
    offsets = _offsets(r["offsets"]) if r.get("offsets") is not None else None
    return Document(**{**r, "offsets": offsets, "pages": tuple(r.get("pages") or ())})


def candidate_from_record(r: dict) -> Candidate:
    r = dict(r)
    r["cells"] = tuple(Cell(**c) for c in r.get("cells", ()))
    return Candidate(**r)
