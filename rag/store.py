"""Building an index: documents cut into passages (chunks) and answer candidates, embedded, handed
to a store with a manifest of what built it (model fingerprint, chunker settings, per-document hashes).

Where the index is kept is its store's (``rag.stores``: a folder of FAISS files, the default, or a
Milvus collection); the loaded ``Index`` is ``rag.stores.base``'s, named here too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.chunking import Chunker, ChunkerConfig, render_spans
from rag.embedding import Embedder
from rag.errors import IndexMismatchError, InvalidInputError
from rag.manifest import FORMAT_VERSION, check_manifest
from rag.model_files import Spans
from rag.stores import Store, as_store
from rag.stores.base import Index, IndexConfig, Part, Update
from rag.text import capitalised_names
from rag.types import Candidate, Chunk, Document
from rag.version import __version__

__all__ = ["FORMAT_VERSION", "BuildReport", "Index", "IndexConfig", "build_index", "check_manifest", "load_index"]

# bm25s sets its own logger to DEBUG at import, so every build printed "Building index from tokens"
# once any handler was installed (uvicorn's, a user's basicConfig).
logging.getLogger("bm25s").setLevel(logging.WARNING)

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class BuildReport:
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: tuple[str, ...]
    chunks: int
    candidates: int
    embedded_texts: int
    seconds: float
    embed_seconds: float
    rebuilt_because: str | None = None  # why no vector of the previous index could be reused
    empty: tuple[str, ...] = ()  # documents with nothing to index: no text, or only web boilerplate
    reembedded: tuple[str, ...] = ()  # unchanged documents embedded again (other settings, or --rebuild)


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


def load_index(
    path: str | Path | Store,
    *,
    model_id: str | None = None,
    fingerprint: str | None = None,
    chunker: ChunkerConfig | None = None,
    mmap: bool = False,
) -> Index:
    """The index at ``path`` (a folder, or a store); ``IndexMismatchError`` if it was built differently
    from what is given."""
    return as_store(path).load(model_id=model_id, fingerprint=fingerprint, chunker=chunker, mmap=mmap)


# -- building --------------------------------------------------------------------------------
def build_index(
    docs: list[Document],
    embedder: Embedder,
    path: str | Path | Store,
    *,
    chunker: ChunkerConfig = ChunkerConfig(),
    config: IndexConfig = IndexConfig(),
    previous: Index | None = None,
    progress: Progress = _no_progress,
    reuse: bool = True,
    notify: Callable[[str], None] = lambda message: None,
) -> BuildReport:
    """Chunk, embed and write an index for ``docs`` into ``path`` (a folder, or a store); reuse vectors of
    unchanged documents from ``previous`` (unless ``reuse`` is off: a forced rebuild, still reported against
    ``previous``). ``notify`` hears at once why everything is embedded again, before the minutes it takes."""
    t0 = time.perf_counter()
    store = as_store(path)
    store.check_target()  # before minutes of embedding, not after
    reusable: dict[str, Part] = {}
    rebuilt_because = None
    if previous is not None and reuse:
        try:
            check_manifest(
                previous.manifest, model_id=embedder.model_id, fingerprint=getattr(embedder, "fingerprint", None), chunker=chunker
            )
            reusable = _reusable(previous, docs)
        except IndexMismatchError as e:
            rebuilt_because = e.cause
            notify(f"{e.cause}: every document is embedded again")
    old_docs = previous.manifest["documents"] if previous is not None else {}
    cutter = Chunker(embedder.count_tokens, chunker)
    parts: dict[str, Part] = {}
    empty: list[str] = []
    for n, d in enumerate(docs):
        parts[d.id] = reusable[d.id] if d.id in reusable else Part(*cutter.chunk(d))
        if not parts[d.id].chunks:
            empty.append(d.id)
        progress("chunk", n + 1, len(docs))
    fresh_ids = [d.id for d in docs if d.id not in reusable]
    # Only the documents not reused are embedded: all their chunks and candidates are new.
    chunks = [c for i in fresh_ids for c in parts[i].chunks]
    cands = [c for i in fresh_ids for c in parts[i].candidates]
    chunk_vecs: list[np.ndarray | None] = [None] * len(chunks)
    cand_vecs: list[np.ndarray | None] = [None] * len(cands)
    t_embed = time.perf_counter()
    if chunker.candidate_vectors == "pooled":
        if not hasattr(embedder, "embed_with_spans"):
            raise InvalidInputError(f"candidate_vectors=pooled needs an embedder that pools spans; {embedder.model_id!r} does not")
        embedded_texts = _embed_pooled(embedder, chunks, cands, chunk_vecs, cand_vecs, progress)
    else:
        texts = [c.index_text for c in chunks] + [c.render for c in cands]
        it = iter(_embed_with_progress(embedder, texts, progress))
        chunk_vecs = [next(it) for _ in chunks]
        cand_vecs = [next(it) for _ in cands]
        embedded_texts = len(texts)
    embed_seconds = time.perf_counter() - t_embed
    dim = embedder.dim
    cit, dit = iter(chunk_vecs), iter(cand_vecs)
    for i in fresh_ids:
        parts[i].chunk_vectors = _take(cit, len(parts[i].chunks), dim)
        parts[i].candidate_vectors = _take(dit, len(parts[i].candidates), dim)
    progress("write", 0, 1)
    n_chunks = sum(len(p.chunks) for p in parts.values())
    n_cands = sum(len(p.candidates) for p in parts.values())
    new_ids = {d.id for d in docs}
    manifest = {
        "format_version": FORMAT_VERSION,
        "rag_version": __version__,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "embedding_model": embedder.model_id,
        "model_fingerprint": getattr(embedder, "fingerprint", None),
        "dim": dim,
        "normalized": True,
        "max_seq_length": embedder.max_seq_length,
        "chunker": chunker.to_dict(),
        "bm25": {"k1": config.bm25_k1, "b": config.bm25_b, "tokenizer": "rag.text.terms (snowball english)"},
        "documents": {d.id: d.sha256 for d in docs},
        "counts": {"documents": len(docs), "chunks": n_chunks, "candidates": n_cands},
    }
    names = capitalised_names(c.text for d in docs for c in parts[d.id].candidates)
    store.write(
        Update(
            manifest,
            docs,
            parts,
            names,
            config,
            previous=previous,
            incremental=previous is not None and reuse and rebuilt_because is None,
            removed=tuple(sorted(set(old_docs) - new_ids)),
            fresh=set(fresh_ids),
        )
    )
    progress("write", 1, 1)
    return BuildReport(
        added=tuple(sorted(new_ids - set(old_docs))),
        changed=tuple(sorted(d.id for d in docs if d.id in old_docs and old_docs[d.id] != d.sha256)),
        removed=tuple(sorted(set(old_docs) - new_ids)),
        unchanged=tuple(sorted(reusable)),
        chunks=n_chunks,
        candidates=n_cands,
        embedded_texts=embedded_texts,
        seconds=time.perf_counter() - t0,
        embed_seconds=embed_seconds,
        rebuilt_because=rebuilt_because,
        empty=tuple(sorted(empty)),
        reembedded=tuple(sorted(d.id for d in docs if old_docs.get(d.id) == d.sha256 and d.id not in reusable)),
    )


def _take(it, n: int, dim: int) -> np.ndarray:
    return np.vstack([next(it) for _ in range(n)]).astype(np.float32) if n else np.zeros((0, dim), np.float32)


def _embed_with_progress(embedder: Embedder, texts: list[str], progress: Progress, batch: int = 1024) -> list[np.ndarray]:
    # Long-to-short order keeps padding low inside each encoder batch.
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    vecs = np.zeros((len(texts), embedder.dim), np.float32)
    for s in range(0, len(order), batch):
        idx = order[s : s + batch]
        vecs[idx] = embedder.embed_batch([texts[i] for i in idx])
        progress("embed", min(s + batch, len(order)), len(order))
    return list(vecs)


def _embed_pooled(
    embedder, chunks: list[Chunk], cands: list[Candidate], chunk_vecs: list, cand_vecs: list, progress: Progress, batch: int = 1024
) -> int:
    """Fill the missing vectors of ``chunk_vecs`` and ``cand_vecs`` in place with one encoder pass per
    chunk: a candidate's vector is pooled from its chunk's token states over the candidate's ``render``
    in the chunk's ``index_text`` (``render_spans``); one not found there is encoded on its own.
    Returns how many texts went through the encoder."""
    row_of = {c.id: i for i, c in enumerate(chunks)}
    wanted: dict[int, list[tuple[int, Spans]]] = {}
    alone: list[int] = []
    cursor: dict[int, int] = {}
    for j, (cand, v) in enumerate(zip(cands, cand_vecs)):
        if v is not None:
            continue
        r = row_of[cand.chunk_id]
        where = render_spans(chunks[r].index_text, cand.render, cursor.get(r, 0)) if chunk_vecs[r] is None else None
        if where is None:
            alone.append(j)
        else:
            wanted.setdefault(r, []).append((j, where))
            cursor[r] = where[-1][1]
    rows = [r for r, v in enumerate(chunk_vecs) if v is None]
    total = len(rows) + len(alone)
    done = 0
    for s in range(0, len(rows), batch):
        part = rows[s : s + batch]
        vecs, pooled = embedder.embed_with_spans([chunks[r].index_text for r in part], [[w for _, w in wanted.get(r, ())] for r in part])
        for r, v, p in zip(part, vecs, pooled):
            chunk_vecs[r] = v
            for (j, _), u in zip(wanted.get(r, ()), p):
                if np.isnan(u).any():
                    alone.append(j)  # past the encoder's window: on its own
                else:
                    cand_vecs[j] = u
        done += len(part)
        progress("embed", done, total)
    for j, v in zip(alone, _embed_with_progress(embedder, [cands[j].render for j in alone], lambda *a: None)):
        cand_vecs[j] = v
    progress("embed", total, total)
    return len(rows) + len(alone)


def _reusable(previous: Index, docs: list[Document]) -> dict[str, Part]:
    """The parts of the documents unchanged since ``previous``, with the rows their vectors are at."""
    old = previous.manifest["documents"]
    keep = {d.id for d in docs if old.get(d.id) == d.sha256}
    rows: dict[str, list[int]] = {k: [] for k in keep}
    for i, c in enumerate(previous.chunks):
        if c.doc_id in rows:
            rows[c.doc_id].append(i)
    crow: dict[str, list[int]] = {k: [] for k in keep}
    for j, cand in enumerate(previous.candidates):
        if cand.doc_id in crow:
            crow[cand.doc_id].append(j)
    return {
        k: Part([previous.chunks[i] for i in rows[k]], [previous.candidates[j] for j in crow[k]], previous_rows=(rows[k], crow[k]))
        for k in keep
    }
