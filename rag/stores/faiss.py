"""The FAISS store: an index is a folder (``RAG_INDEX``), written whole and renamed into place.

Layout::

    manifest.json            what built it: format, model, chunker settings, per-document hashes, file checksums
    documents.jsonl          id, title, metadata, the text indexed and, for markdown, the file's text with the
                             map from one to the other (citations resolve into the file)
    chunks.jsonl             row i is FAISS id i
    vectors.faiss            chunk vectors (inner product on normalised vectors = cosine)
    candidates.jsonl         answer units (sentences, list items, table rows) with offsets
    candidate_vectors.npy    row i is candidate i
    names.json               the words the candidates capitalise mid-sentence (answer selection's names)
    bm25/                    bm25s files over the chunks' index_text

A build writes a sibling temporary folder and renames it into place, so an interrupted build
leaves the previous index untouched.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import bm25s
import faiss
import numpy as np
from filelock import FileLock

from rag.chunking import ChunkerConfig
from rag.errors import IndexCorruptError, IndexNotFoundError, InvalidInputError
from rag.manifest import FORMAT_VERSION, REBUILD, check_manifest, checksums, parse_manifest, verify
from rag.stores.base import (
    Index,
    IndexConfig,
    Kind,
    Store,
    Update,
    Vectors,
    Within,
    bm25_index,
    candidate_from_record,
    doc_from_record,
    doc_record,
)
from rag.types import Chunk

# Above this many candidates the exhaustive sentence scan costs more than it is worth per query.
SENTENCE_SCAN_LIMIT = 300_000


class FaissVectors(Vectors):
    """Chunks in a FAISS index (flat, or HNSW above ``IndexConfig.flat_threshold``); candidates in a
    matrix scanned exhaustively (a question compares against every sentence)."""

    def __init__(self, chunks: faiss.Index, candidates: np.ndarray):
        self.index = chunks
        self.candidates = candidates
        self.dim = chunks.d

    def count(self, kind: Kind) -> int:
        return int(self.index.ntotal) if kind == "chunk" else len(self.candidates)

    def search(self, kind: Kind, vector: np.ndarray, k: int, within: Within | None = None) -> list[tuple[int, float]]:
        return self._chunks(vector, k, within) if kind == "chunk" else self._candidates(vector, k, within)

    def _chunks(self, vector: np.ndarray, k: int, within: Within | None) -> list[tuple[int, float]]:
        rows = None if within is None else within.chunk_rows
        if self.index.ntotal == 0 or (rows is not None and not len(rows)):
            return []
        n = min(k, self.index.ntotal if rows is None else len(rows))
        if rows is None:
            scores, found = self.index.search(vector.reshape(1, -1), n)
        else:
            params: Any
            if hasattr(self.index, "hnsw"):
                params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
                params.efSearch = max(self.index.hnsw.efSearch, n)
            else:
                params = faiss.SearchParameters()
            params.sel = faiss.IDSelectorBatch(rows.astype(np.int64))
            scores, found = self.index.search(vector.reshape(1, -1), n, params=params)
        return [(int(r), float(s)) for r, s in zip(found[0], scores[0]) if r >= 0]

    def _candidates(self, vector: np.ndarray, k: int, within: Within | None) -> list[tuple[int, float]]:
        n = len(self.candidates)
        if n == 0 or n > SENTENCE_SCAN_LIMIT:
            return []
        sims = self.candidates @ vector
        if within is not None:
            sims = np.where(within.candidate_mask, sims, -np.inf)
        top = np.argpartition(-sims, min(k, n) - 1)[:k] if n > k else np.arange(n)
        return [(int(j), float(sims[j])) for j in top[np.argsort(-sims[top])] if sims[j] > -np.inf]

    def get(self, kind: Kind, rows: Sequence[int]) -> np.ndarray:
        if not len(rows):
            return np.zeros((0, self.dim), np.float32)
        if kind == "candidate":
            return np.asarray(self.candidates[list(rows)])
        return np.vstack([self.index.reconstruct(int(r)) for r in rows])


class FaissStore(Store):
    name = "faiss"

    def __init__(self, path: str | Path):
        self.folder = Path(path)
        self.path = self.folder

    def __str__(self) -> str:
        return str(self.folder)

    def exists(self) -> bool:
        return (self.folder / "manifest.json").exists()

    def check_target(self) -> None:
        check_index_target(self.folder)

    def lock(self) -> FileLock:
        return build_lock(self.folder)

    def clean(self) -> list[str]:
        return [p.name for p in remove_stale(self.folder)]

    def load(
        self,
        *,
        model_id: str | None = None,
        fingerprint: str | None = None,
        chunker: ChunkerConfig | None = None,
        mmap: bool = False,
    ) -> Index:
        p = self.folder
        _recover(p)
        mf = p / "manifest.json"
        if not mf.exists():
            raise IndexNotFoundError(f"no index at {p} (run `rag index`)")
        manifest = parse_manifest(mf.read_bytes(), mf, FORMAT_VERSION)
        check_manifest(manifest, model_id=model_id, fingerprint=fingerprint, chunker=chunker)
        verify(p, manifest["files"])
        try:
            documents = {d.id: d for d in (doc_from_record(r) for r in _read_jsonl(p / "documents.jsonl"))}
            chunks = [Chunk(**r) for r in _read_jsonl(p / "chunks.jsonl")]
            candidates = [candidate_from_record(r) for r in _read_jsonl(p / "candidates.jsonl")]
            vectors = faiss.read_index(str(p / "vectors.faiss"), faiss.IO_FLAG_MMAP if mmap else 0)
            if hasattr(vectors, "hnsw"):
                faiss.ParameterSpace().set_index_parameter(vectors, "efSearch", manifest["faiss"].get("ef_search", 128))
            cvec = np.load(p / "candidate_vectors.npy", mmap_mode="r" if mmap else None, allow_pickle=False)
            bm25 = bm25s.BM25.load(str(p / "bm25"), show_progress=False, verbosity=0) if chunks else bm25s.BM25()
            names = frozenset(json.loads((p / "names.json").read_text()))
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
            # the checksums held, so this is a file the manifest does not know of, or a library's own fault
            raise IndexCorruptError(f"index at {p} cannot be read ({type(e).__name__}: {e}); {REBUILD}") from None
        if vectors.ntotal != len(chunks) or len(cvec) != len(candidates):
            raise IndexCorruptError(f"index at {p} is inconsistent ({vectors.ntotal} vectors for {len(chunks)} chunks); {REBUILD}")
        return Index(self, manifest, documents, chunks, candidates, FaissVectors(vectors, cvec), bm25, names)

    def write(self, update: Update) -> None:
        """The whole folder, every time: vectors of the documents kept are copied from the previous index."""
        chunks, cands, cvecs, dvecs = [], [], [], []
        for d in update.docs:
            part = update.parts[d.id]
            chunks += part.chunks
            cands += part.candidates
            if part.chunk_vectors is None or part.candidate_vectors is None:
                assert update.previous is not None and part.previous_rows is not None
                rows, crows = part.previous_rows
                cvecs.append(update.previous.vectors.get("chunk", rows))
                dvecs.append(update.previous.vectors.get("candidate", crows))
            else:
                cvecs.append(part.chunk_vectors)
                dvecs.append(part.candidate_vectors)
        dim = update.manifest["dim"]
        chunk_vecs = np.vstack(cvecs).astype(np.float32) if chunks else np.zeros((0, dim), np.float32)
        cand_vecs = np.vstack(dvecs).astype(np.float32) if cands else np.zeros((0, dim), np.float32)
        index, meta = faiss_index(chunk_vecs, update.config)
        manifest = {**update.manifest, "faiss": meta}
        _write_atomically(self.folder, lambda tmp: _write(tmp, manifest, update, chunks, cands, index, cand_vecs))


def faiss_index(vecs: np.ndarray, config: IndexConfig) -> tuple[faiss.Index, dict]:
    n, dim = vecs.shape
    if n <= config.flat_threshold:
        flat = faiss.IndexFlatIP(dim)
        flat.add(vecs)
        return flat, {"type": "IndexFlatIP", "ntotal": n, "recall_at_10": 1.0}
    index = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = config.hnsw_ef_construction
    index.add(vecs)
    index.hnsw.efSearch = config.hnsw_ef_search
    recall = measure_recall(index, vecs)
    return index, {
        "type": "IndexHNSWFlat",
        "ntotal": n,
        "m": config.hnsw_m,
        "ef_construction": config.hnsw_ef_construction,
        "ef_search": config.hnsw_ef_search,
        "recall_at_10": recall,
        "recall_sample": 200,
    }


def measure_recall(index: faiss.Index, vecs: np.ndarray, sample: int = 200, k: int = 10, seed: int = 0) -> float:
    """recall@k of ``index`` against exact inner-product search, on perturbed stored vectors as queries."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(vecs), size=min(sample, len(vecs)), replace=False)
    q = vecs[rows] + rng.normal(0, 0.05, size=(len(rows), vecs.shape[1])).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    exact = faiss.IndexFlatIP(vecs.shape[1])
    exact.add(vecs)
    _, truth = exact.search(q, k)
    _, got = index.search(q, k)
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(truth, got)]))


def _write(tmp: Path, manifest: dict, update: Update, chunks: list, cands: list, index: faiss.Index, dvecs: np.ndarray) -> None:
    _write_jsonl(tmp / "documents.jsonl", (doc_record(d) for d in update.docs))
    # vars(), not asdict(): the same records without asdict's deep copy (a third of the writing time)
    _write_jsonl(tmp / "chunks.jsonl", (vars(c) for c in chunks))
    _write_jsonl(tmp / "candidates.jsonl", ({**vars(c), "cells": [vars(x) for x in c.cells]} for c in cands))
    faiss.write_index(index, str(tmp / "vectors.faiss"))
    np.save(tmp / "candidate_vectors.npy", dvecs, allow_pickle=False)
    (tmp / "names.json").write_text(json.dumps(sorted(update.names), ensure_ascii=False))
    if chunks:
        bm25_index(chunks, update.config.bm25_k1, update.config.bm25_b).save(str(tmp / "bm25"), show_progress=False)
    # The manifest goes last, with every other file's checksum: a folder without one is never
    # mistaken for an index, and a file altered since is named when the index is loaded.
    manifest["files"] = checksums(tmp)
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))


def build_lock(index_dir: str | Path) -> FileLock:
    path = Path(index_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(path.parent / f".{path.name}.lock")


def check_index_target(path: str | Path) -> None:
    """Refuse to build into anything that is not ours to replace: the build swaps the whole folder."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InvalidInputError(f"{path} is a file, not an index folder; choose a new or empty folder for --index")
    if path.is_dir() and not (path / "manifest.json").exists() and any(path.iterdir()):
        raise InvalidInputError(
            f"{path} is a folder that is not a rag index (no manifest.json) and is not empty; "
            "building there would replace what is in it: choose a new or empty folder for --index"
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(path: Path) -> list[Path]:
    """The temporary folders of builds killed before they finished (their process is gone): removed.
    A previous index set aside by a build that died between its two renames is restored first."""
    _recover(path)
    gone = []
    for p in path.parent.glob(f".{path.name}.*-*"):
        kind, _, pid = p.name.rpartition("-")
        if kind.endswith((".tmp", ".old")) and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)
            gone.append(p)
    return gone


def _write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    check_index_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path)
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    old = path.parent / f".{path.name}.old-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        write(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if path.exists():
        os.rename(path, old)
    os.rename(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


def _recover(path: Path) -> None:
    """If a build died between its two renames, put the previous index back."""
    if (path / "manifest.json").exists():
        return
    olds = sorted(path.parent.glob(f".{path.name}.old-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in olds:
        if (old / "manifest.json").exists():
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()
            if not path.exists():  # anything else there is not ours to delete
                os.rename(old, path)
            return


def _read_jsonl(path: Path):
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _write_jsonl(path: Path, rows) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
