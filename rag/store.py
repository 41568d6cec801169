"""The on-disk index: FAISS vectors, a BM25 index, chunks, answer candidates and a manifest.

Layout of ``index/``::

    manifest.json            what built it: format, model, chunker settings, per-document hashes
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
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import cast

import bm25s
import faiss
import numpy as np

from rag.chunking import Chunker, ChunkerConfig, render_spans
from rag.embedding import Embedder
from rag.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError, InvalidInputError
from rag.manifest import REBUILD, checksums, parse_manifest, verify
from rag.model_files import Spans
from rag.text import capitalised_names, terms
from rag.types import Candidate, Cell, Chunk, Document
from rag.version import __version__

# bm25s sets its own logger to DEBUG at import, so every build printed "Building index from tokens"
# once any handler was installed (uvicorn's, a user's basicConfig).
logging.getLogger("bm25s").setLevel(logging.WARNING)

FORMAT_VERSION = 3  # 2: documents carry a clean text and its source; 3: a validated manifest with file checksums
Progress = Callable[[str, int, int], None]


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


class Index:
    """A loaded index: the only stateful object besides the embedder."""

    def __init__(
        self,
        path: Path,
        manifest: dict,
        documents: dict[str, Document],
        chunks: list[Chunk],
        candidates: list[Candidate],
        vectors: faiss.Index,
        candidate_vectors: np.ndarray,
        bm25: bm25s.BM25,
        names: frozenset[str] | None = None,
    ):
        self.path = path
        self.names = names  # None for an index built before names.json: the scorer computes them
        self.manifest = manifest
        self.documents = documents
        self.chunks = chunks
        self.candidates = candidates
        self.vectors = vectors
        self.candidate_vectors = candidate_vectors
        self.bm25 = bm25
        self.chunk_row = {c.id: i for i, c in enumerate(chunks)}
        # candidates of each chunk row, in document order
        self.candidates_of: list[list[int]] = [[] for _ in chunks]
        for j, cand in enumerate(candidates):
            self.candidates_of[self.chunk_row[cand.chunk_id]].append(j)
        self.candidate_rows = np.array([self.chunk_row[c.chunk_id] for c in candidates], dtype=np.int64)
        self._doc_rows: dict[str, list[int]] | None = None

    def rows_of(self, docs: frozenset[str]) -> np.ndarray:
        """The chunk rows of these documents, in order."""
        if self._doc_rows is None:
            by_doc: dict[str, list[int]] = {}
            for r, c in enumerate(self.chunks):
                by_doc.setdefault(c.doc_id, []).append(r)
            self._doc_rows = by_doc
        return np.array(sorted(r for d in docs for r in self._doc_rows.get(d, ())), dtype=np.int64)

    # -- loading -----------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        model_id: str | None = None,
        fingerprint: str | None = None,
        chunker: ChunkerConfig | None = None,
        mmap: bool = False,
    ) -> Index:
        """Load ``path``; raise ``IndexMismatchError`` if it was built differently from what is expected."""
        p = Path(path)
        _recover(p)
        mf = p / "manifest.json"
        if not mf.exists():
            raise IndexNotFoundError(f"no index at {p} (run `rag index`)")
        manifest = parse_manifest(mf.read_bytes(), mf, FORMAT_VERSION)
        check_manifest(manifest, model_id=model_id, fingerprint=fingerprint, chunker=chunker)
        verify(p, manifest["files"])
        try:
            documents = {d.id: d for d in (_doc_from(r) for r in _read_jsonl(p / "documents.jsonl"))}
            chunks = [Chunk(**r) for r in _read_jsonl(p / "chunks.jsonl")]
            candidates = [_cand_from(r) for r in _read_jsonl(p / "candidates.jsonl")]
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
        return cls(p, manifest, documents, chunks, candidates, vectors, cvec, bm25, names)

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
                f"index at {self.path} is older than the corpus ({len(added)} new, {len(changed)} changed, "
                f"{len(removed)} deleted documents); run `rag index`"
            )

    def chunk_vectors(self, rows: list[int]) -> np.ndarray:
        return np.vstack([self.vectors.reconstruct(int(r)) for r in rows]) if rows else np.zeros((0, self.vectors.d), np.float32)

    def all_chunk_vectors(self) -> np.ndarray:
        return self.vectors.reconstruct_n(0, self.vectors.ntotal) if self.vectors.ntotal else np.zeros((0, self.vectors.d), np.float32)


def check_manifest(
    manifest: dict, *, model_id: str | None = None, fingerprint: str | None = None, chunker: ChunkerConfig | None = None
) -> None:
    hint = "rebuild it with `rag index`"
    if manifest.get("format_version") != FORMAT_VERSION:
        cause, hint = f"index format {manifest.get('format_version')} is not {FORMAT_VERSION}", "rebuild it with `rag index --rebuild`"
    elif model_id is not None and manifest.get("embedding_model") != model_id:
        cause = f"index was built with model {manifest.get('embedding_model')!r}, not {model_id!r}"
    elif fingerprint is not None and manifest.get("model_fingerprint") != fingerprint:
        cause = "index was built with different weights of this model"
    elif chunker is not None and _chunker_of(manifest) != chunker.to_dict():
        was, now = _chunker_of(manifest), chunker.to_dict()
        diff = [k for k in sorted(set(was) | set(now)) if was.get(k) != now.get(k)]
        cause = (
            f"index was built with chunker settings {', '.join(f'{k}={was.get(k)}' for k in diff)} "
            f"(now {', '.join(f'{k}={now.get(k)}' for k in diff)})"
        )
    else:
        return
    raise IndexMismatchError(f"{cause}; {hint}", cause=cause)


def _chunker_of(manifest: dict) -> dict:
    # An index written before candidate vectors could be pooled had them encoded separately.
    return {"candidate_vectors": "separate", **(manifest.get("chunker") or {})}


# -- building --------------------------------------------------------------------------------
def build_index(
    docs: list[Document],
    embedder: Embedder,
    path: str | Path,
    *,
    chunker: ChunkerConfig = ChunkerConfig(),
    config: IndexConfig = IndexConfig(),
    previous: Index | None = None,
    progress: Progress = _no_progress,
    reuse: bool = True,
    notify: Callable[[str], None] = lambda message: None,
) -> BuildReport:
    """Chunk, embed and write an index for ``docs``; reuse vectors of unchanged documents from ``previous``
    (unless ``reuse`` is off: a forced rebuild, still reported against ``previous``). ``notify`` hears at
    once why everything is embedded again, before the minutes it takes."""
    t0 = time.perf_counter()
    path = Path(path)
    check_index_target(path)  # before minutes of embedding, not after
    reusable: dict[str, tuple[list[Chunk], list[Candidate], np.ndarray, np.ndarray]] = {}
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
    chunks: list[Chunk] = []
    cands: list[Candidate] = []
    chunk_vecs: list[np.ndarray | None] = []
    cand_vecs: list[np.ndarray | None] = []
    empty: list[str] = []
    for n, d in enumerate(docs):
        if d.id in reusable:
            cs, cds, cv, dv = reusable[d.id]
            chunks += cs
            cands += cds
            chunk_vecs += list(cv)
            cand_vecs += list(dv)
        else:
            cs, cds = cutter.chunk(d)
            chunks += cs
            cands += cds
            chunk_vecs += [None] * len(cs)
            cand_vecs += [None] * len(cds)
        if not cs:
            empty.append(d.id)
        progress("chunk", n + 1, len(docs))
    t_embed = time.perf_counter()
    if chunker.candidate_vectors == "pooled":
        if not hasattr(embedder, "embed_with_spans"):
            raise InvalidInputError(f"candidate_vectors=pooled needs an embedder that pools spans; {embedder.model_id!r} does not")
        embedded_texts = _embed_pooled(embedder, chunks, cands, chunk_vecs, cand_vecs, progress)
    else:
        texts = [c.index_text for c, v in zip(chunks, chunk_vecs) if v is None] + [c.render for c, v in zip(cands, cand_vecs) if v is None]
        it = iter(_embed_with_progress(embedder, texts, progress))
        chunk_vecs = [v if v is not None else next(it) for v in chunk_vecs]
        cand_vecs = [v if v is not None else next(it) for v in cand_vecs]
        embedded_texts = len(texts)
    embed_seconds = time.perf_counter() - t_embed
    dim = embedder.dim
    cvecs = np.vstack(cast(list[np.ndarray], chunk_vecs)).astype(np.float32) if chunks else np.zeros((0, dim), np.float32)
    dvecs = np.vstack(cast(list[np.ndarray], cand_vecs)).astype(np.float32) if cands else np.zeros((0, dim), np.float32)
    progress("write", 0, 1)
    faiss_index, faiss_meta = _faiss_index(cvecs, config)
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
        "faiss": faiss_meta,
        "bm25": {"k1": config.bm25_k1, "b": config.bm25_b, "tokenizer": "rag.text.terms (snowball english)"},
        "documents": {d.id: d.sha256 for d in docs},
        "counts": {"documents": len(docs), "chunks": len(chunks), "candidates": len(cands)},
    }
    _write_atomically(path, lambda tmp: _write(tmp, manifest, docs, chunks, cands, faiss_index, dvecs, config))
    progress("write", 1, 1)
    return BuildReport(
        added=tuple(sorted(new_ids - set(old_docs))),
        changed=tuple(sorted(d.id for d in docs if d.id in old_docs and old_docs[d.id] != d.sha256)),
        removed=tuple(sorted(set(old_docs) - new_ids)),
        unchanged=tuple(sorted(reusable)),
        chunks=len(chunks),
        candidates=len(cands),
        embedded_texts=embedded_texts,
        seconds=time.perf_counter() - t0,
        embed_seconds=embed_seconds,
        rebuilt_because=rebuilt_because,
        empty=tuple(sorted(empty)),
        reembedded=tuple(sorted(d.id for d in docs if old_docs.get(d.id) == d.sha256 and d.id not in reusable)),
    )


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


def _reusable(previous: Index, docs: list[Document]) -> dict:
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
    out = {}
    for k in keep:
        out[k] = (
            [previous.chunks[i] for i in rows[k]],
            [previous.candidates[j] for j in crow[k]],
            previous.chunk_vectors(rows[k]),
            np.asarray(previous.candidate_vectors[crow[k]]) if crow[k] else np.zeros((0, previous.vectors.d), np.float32),
        )
    return out


def _faiss_index(vecs: np.ndarray, config: IndexConfig) -> tuple[faiss.Index, dict]:
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


def _write(
    tmp: Path,
    manifest: dict,
    docs: list[Document],
    chunks: list[Chunk],
    cands: list[Candidate],
    faiss_index: faiss.Index,
    dvecs: np.ndarray,
    config: IndexConfig,
) -> None:
    _write_jsonl(tmp / "documents.jsonl", (_doc_record(d) for d in docs))
    # vars(), not asdict(): the same records without asdict's deep copy (a third of the writing time)
    _write_jsonl(tmp / "chunks.jsonl", (vars(c) for c in chunks))
    _write_jsonl(tmp / "candidates.jsonl", ({**vars(c), "cells": [vars(x) for x in c.cells]} for c in cands))
    faiss.write_index(faiss_index, str(tmp / "vectors.faiss"))
    np.save(tmp / "candidate_vectors.npy", dvecs, allow_pickle=False)
    (tmp / "names.json").write_text(json.dumps(sorted(capitalised_names(c.text for c in cands)), ensure_ascii=False))
    if chunks:
        bm = bm25s.BM25(k1=config.bm25_k1, b=config.bm25_b)
        bm.index([terms(c.index_text) or ["_empty_"] for c in chunks], show_progress=False)
        bm.save(str(tmp / "bm25"), show_progress=False)
    # The manifest goes last, with every other file's checksum: a folder without one is never
    # mistaken for an index, and a file altered since is named when the index is loaded.
    manifest["files"] = checksums(tmp)
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))


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


def _doc_record(d: Document) -> dict:
    r = asdict(d)
    r["offsets"] = _runs(d.offsets) if d.offsets is not None else None
    r["pages"] = list(d.pages)
    return r


def _doc_from(r: dict) -> Document:
    offsets = _offsets(r["offsets"]) if r.get("offsets") is not None else None
    return Document(**{**r, "offsets": offsets, "pages": tuple(r.get("pages") or ())})


def _cand_from(r: dict) -> Candidate:
    r = dict(r)
    r["cells"] = tuple(Cell(**c) for c in r.get("cells", ()))
    return Candidate(**r)
