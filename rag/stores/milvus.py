"""A Milvus collection as the index's vector table: chunks and answer candidates with their vectors,
the documents' full texts and the manifest. The rest of the project sees plain dicts, never pymilvus.

Two collections per index (choices measured on Milvus 2.3.5, see bench/milvus_notes.md):

``<name>``
    one row per chunk or candidate: ``id`` (primary key), ``kind``, ``doc_id``, ``vector`` (inner
    product on normalised vectors), ``metadata`` (the document's metadata, JSON, so filters like
    ``{"source": "x"}`` run in Milvus), the passage's ``text``, ``section``, ``start`` and ``end``
    (typed columns, so another tool reads and filters the passages without knowing our JSON) and
    ``payload`` (everything else of the row, JSON). Each kind
    lives in its own partition, so a search walks only that kind's HNSW graphs: with 20k chunks and
    80k candidates in shared graphs, a ``kind == "chunk"`` filter cut recall@10 from 0.46 to 0.35
    (ef 64). Two collections would search as well as partitions do; one keeps one schema and
    deletes a document's rows of both kinds in one call.
``<name>_documents``
    named texts split into parts (VARCHAR holds at most 65,535 UTF-8 bytes): each document, and the
    manifest (a manifest with per-document hashes outgrows any single field, and a collection
    property of 1 MB leaves the collection impossible to alter or drop). A text is written as new
    parts under a fresh generation, then its head row is switched to that generation, then the old
    parts are deleted: a reader never sees half of one version and half of another. Milvus 2.3 needs
    a vector field in every collection; this one has a 2-d placeholder that is never searched.

Consistency: reads run at Bounded staleness (a search takes ~2 ms); the first read after this
table's own write runs at Strong (waits ~0.2-0.6 s for the write to be applied), so a caller always
reads its own writes. A write by another process shows up in Bounded reads within ~0.6 s (measured).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from rag.chunking import ChunkerConfig
from rag.errors import IndexNotFoundError, InvalidInputError, StoreUnavailableError
from rag.manifest import FORMAT_VERSION, check_manifest, parse_manifest
from rag.stores.base import (
    Index,
    Kind,
    Part,
    Store,
    Update,
    Vectors,
    Within,
    bm25_index,
    candidate_from_record,
    doc_from_record,
    doc_record,
)
from rag.types import Candidate, Chunk, Document

KINDS = ("chunk", "candidate")
ROW_FIELDS = ("id", "kind", "doc_id", "vector", "metadata")  # every other key of a row goes into payload
# Row keys kept in typed columns, with the value a row without the key gets (a value of another type
# goes into payload, the column then holding the default).
COLUMNS: dict[str, Any] = {"text": "", "section": "", "start": -1, "end": -1}
MAX_JSON_BYTES = 65_536  # a JSON field's limit on 2.3 (not configurable per field)
MAX_VARCHAR_BYTES = 65_535
MAX_ID_BYTES = 1_024
DEFAULT_EF = 128  # HNSW ef when the caller gives none; the FAISS index's efSearch too (IndexConfig)
PART_BATCH = 32  # text parts per request: at most ~2 MB
_MANIFEST = ("meta", "manifest")
log = logging.getLogger("rag.stores.milvus")


class MilvusStoreError(RuntimeError):
    pass


class MilvusTable:
    """One index in Milvus. ``MilvusTable(uri, name).create(dim=384)`` makes it; later instances
    with the same name open it."""

    def __init__(self, uri: str, name: str, *, token: str | None = None, timeout: float = 30.0, consistency: str = "Bounded"):
        from pymilvus import MilvusClient

        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,200}", name):
            raise ValueError(f"collection name {name!r}: letters, digits and underscores, not starting with a digit")
        self.uri, self.name, self.docs_name = uri, name, f"{name}_documents"
        self.consistency = consistency
        self.client = MilvusClient(uri=uri, token=token or "", timeout=timeout)
        self._wrote: set[str] = set()  # collections whose next read must see our writes
        self._loaded: set[str] = set()
        self._index_type: str | None = None

    def close(self) -> None:
        # pymilvus 2.5 shares one connection between clients of the same uri, and closing one closed
        # the others (a restart test failed on it); 3.0 gives each client its own.
        self.client.close()

    # -- lifecycle ---------------------------------------------------------------------------
    def create(self, dim: int, index: str = "HNSW", hnsw_m: int = 16, ef_construction: int = 200) -> None:
        from pymilvus import DataType

        if index not in ("FLAT", "HNSW"):
            raise ValueError(f"index must be FLAT or HNSW, not {index!r}")
        if self.exists():
            raise MilvusStoreError(f"collection {self.name} already exists; drop() it first")
        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=MAX_ID_BYTES)
        schema.add_field("kind", DataType.VARCHAR, max_length=16)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=MAX_ID_BYTES)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field("metadata", DataType.JSON)
        schema.add_field("text", DataType.VARCHAR, max_length=MAX_VARCHAR_BYTES)
        schema.add_field("section", DataType.VARCHAR, max_length=MAX_VARCHAR_BYTES)
        schema.add_field("start", DataType.INT64)
        schema.add_field("end", DataType.INT64)
        schema.add_field("payload", DataType.JSON)
        params = {"M": hnsw_m, "efConstruction": ef_construction} if index == "HNSW" else {}
        idx = self.client.prepare_index_params()
        idx.add_index(field_name="vector", index_type=index, metric_type="IP", params=params)
        self.client.create_collection(self.name, schema=schema, index_params=idx, consistency_level=self.consistency)
        for kind in KINDS:
            self.client.create_partition(self.name, kind)

        docs = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        docs.add_field("id", DataType.VARCHAR, is_primary=True, max_length=2 * MAX_ID_BYTES)
        docs.add_field("space", DataType.VARCHAR, max_length=8)  # "doc" | "meta"
        docs.add_field("key", DataType.VARCHAR, max_length=MAX_ID_BYTES)
        docs.add_field("part", DataType.INT64)  # -1: the head row; 0..n-1: the text's parts
        docs.add_field("gen", DataType.VARCHAR, max_length=32)
        docs.add_field("n_parts", DataType.INT64)
        docs.add_field("text", DataType.VARCHAR, max_length=MAX_VARCHAR_BYTES)
        docs.add_field("fields", DataType.JSON)
        docs.add_field("placeholder", DataType.FLOAT_VECTOR, dim=2)
        didx = self.client.prepare_index_params()
        didx.add_index(field_name="placeholder", index_type="FLAT", metric_type="IP")
        self.client.create_collection(self.docs_name, schema=docs, index_params=didx, consistency_level=self.consistency)
        self._index_type = index
        self._loaded = {self.name, self.docs_name}  # create_collection with an index loads it

    def exists(self) -> bool:
        return self.client.has_collection(self.name)

    def drop(self) -> None:
        for c in (self.name, self.docs_name):
            if self.client.has_collection(c):
                self.client.drop_collection(c)
        self._loaded.clear()
        self._wrote.clear()
        self._index_type = None

    def release(self) -> None:
        """Free the server memory the collections hold; the next read loads them again."""
        for c in (self.name, self.docs_name):
            self.client.release_collection(c)
        self._loaded.clear()

    def capabilities(self) -> dict[str, Any]:
        """What this server offers beyond 2.3's plain dense search. Sparse vectors and built-in BM25
        are told from the version (2.4 and 2.5); hybrid_search is called for real when the index exists."""
        version = self.client.get_server_version()
        nums = tuple(int(x) for x in re.findall(r"\d+", version)[:3])
        caps = {
            "server_version": version,
            "hybrid_search": nums >= (2, 4),
            "sparse_vectors": nums >= (2, 4),
            "builtin_bm25": nums >= (2, 5),
            "json_filters": nums >= (2, 3),
            "upsert": nums >= (2, 3),
        }
        if self.exists():
            caps["hybrid_search"] = self._hybrid_search_works()
        return caps

    # -- chunk and candidate rows --------------------------------------------------------------
    def upsert_rows(self, rows: Iterable[dict], batch: int = 1000) -> int:
        """Insert or replace rows: ``{"id", "kind", "doc_id", "vector", "metadata"?, ...payload}``."""
        by_kind: dict[str, list[dict]] = {k: [] for k in KINDS}
        n = 0
        for r in rows:
            kind = r.get("kind")
            if kind not in by_kind:
                raise ValueError(f"row {r.get('id')!r}: kind must be one of {KINDS}, not {kind!r}")
            by_kind[kind].append(_to_entity(r))
            if len(by_kind[kind]) >= batch:
                n += self._upsert(by_kind[kind], kind)
                by_kind[kind] = []
        for kind, rest in by_kind.items():
            if rest:
                n += self._upsert(rest, kind)
        return n

    def delete_doc(self, doc_id: str, keep: Iterable[str] = ()) -> None:
        """Delete the document's chunks and candidates but the rows ``keep`` names (not its text: see
        ``delete_document``). A rewritten document upserts its rows, then drops those it no longer has."""
        spare = set(keep)
        if spare:
            stale = [r["id"] for kind in KINDS for r in self.iter_rows(kind, [], filter={"doc_id": doc_id}) if r["id"] not in spare]
            for s in range(0, len(stale), 1000):
                self.client.delete(self.name, ids=stale[s : s + 1000])
        else:
            self.client.delete(self.name, filter=f"doc_id == {_literal(doc_id)}")
        self._wrote.add(self.name)

    def search(
        self,
        vector: Sequence[float] | np.ndarray,
        k: int,
        kind: str = "chunk",
        filter: dict | None = None,
        ef: int | None = None,
        fields: Sequence[str] | None = None,
    ) -> list[tuple[str, float, dict]]:
        """The ``k`` rows of ``kind`` with the highest inner product: ``(id, score, row)``, best first.

        ``filter``: field -> value or list of values; ``doc_id`` and ``kind`` are columns, any other key
        is looked up in the row's ``metadata``. A list means any of; keys are and-ed. ``fields``: the
        columns returned in ``row`` (default all but the vector; ``[]``: ids and scores only)."""
        _check_kind(kind)
        expr = to_expr(filter or {})
        if expr is None or k <= 0:
            return []
        if self._index_type is None:
            self._index_type = self._describe_index_type()
        params = {"ef": max(ef or DEFAULT_EF, k)} if self._index_type == "HNSW" else {}
        res = self._read(
            self.name,
            lambda level: self.client.search(
                self.name,
                data=[[float(x) for x in vector]],
                limit=k,
                filter=expr or "",
                partition_names=[kind],
                output_fields=_columns(fields),
                search_params={"metric_type": "IP", "params": params},
                consistency_level=level,
            ),
        )
        return [(h["id"], float(h["distance"]), _from_entity({"id": h["id"], **h.get("entity", {})})) for h in res[0]]

    def get(self, ids: Sequence[str], with_vectors: bool = False, fields: Sequence[str] | None = None) -> list[dict]:
        """Rows by id, in the order asked; ids not found are left out. ``fields``: the columns read
        besides the id (default all but the vector)."""
        if not ids:
            return []
        fields = _columns(fields) + (["vector"] if with_vectors else [])
        found = {}
        for s in range(0, len(ids), 1000):
            part = list(ids[s : s + 1000])
            got = self._read(
                self.name, lambda level, part=part: self.client.get(self.name, ids=part, output_fields=fields, consistency_level=level)
            )
            found.update({r["id"]: _from_entity(r) for r in got})
        return [found[i] for i in ids if i in found]

    def iter_rows(self, kind: str, fields: Sequence[str] | None = None, batch: int = 1000, filter: dict | None = None) -> Iterator[dict]:
        """Every row of ``kind`` (in no particular order), reduced to ``fields`` (row keys; all if None);
        only those ``filter`` matches when given (as for ``search``)."""
        _check_kind(kind)
        expr = to_expr(filter or {})
        if expr is None:
            return
        cols = {"id", "vector", *_columns(None)} if fields is None else {"id", *_columns(fields)}
        cols.discard("kind")
        where = f"kind == {_literal(kind)}" + (f" and {expr}" if expr else "")
        for r in self._iterate(self.name, where, sorted(cols), batch, [kind]):
            row = _from_entity({"kind": kind, **r})
            yield row if fields is None else {f: row[f] for f in ["id", *fields] if f in row}

    def count(self, kind: str | None = None) -> int:
        if kind is not None:
            _check_kind(kind)
        kw = {"partition_names": [kind]} if kind else {}
        res = self._read(
            self.name, lambda level: self.client.query(self.name, filter="", output_fields=["count(*)"], consistency_level=level, **kw)
        )
        return int(res[0]["count(*)"])

    # -- documents and manifest ----------------------------------------------------------------
    def put_document(self, doc_id: str, text: str, fields: dict | None = None) -> None:
        """Store a document's full text (any length) and its fields (title, source, sha256, ...)."""
        self._put_text("doc", doc_id, text, fields or {})

    def get_document(self, doc_id: str) -> dict | None:
        """``{"id", "text", **fields}`` or None."""
        got = self._get_text("doc", doc_id)
        return None if got is None else {**got[1], "id": doc_id, "text": got[0]}

    def delete_document(self, doc_id: str) -> None:
        """Delete a document's text, chunks and candidates."""
        self.client.delete(self.docs_name, filter=f'space == "doc" and key == {_literal(doc_id)}')
        self._wrote.add(self.docs_name)
        self.delete_doc(doc_id)

    def list_documents(self) -> list[str]:
        heads = self._iterate(self.docs_name, 'space == "doc" and part == -1', ["key"], 1000)
        return sorted(r["key"] for r in heads)

    def put_documents(self, docs: Sequence[tuple[str, str, dict]]) -> None:
        """``put_document`` for many ``(id, text, fields)`` at once: the parts of all, then their heads,
        then the parts of the versions they replace (a reader sees each document whole, old or new)."""
        heads, parts = [], []
        for key, text, fields in docs:
            _check_id(key)
            gen = uuid.uuid4().hex
            pieces = split_utf8(text, MAX_VARCHAR_BYTES)
            parts += [_part_row("doc", key, gen, i, len(pieces), p) for i, p in enumerate(pieces)]
            heads.append(_head_row("doc", key, gen, len(pieces), fields))
        for s in range(0, len(parts), PART_BATCH):
            self.client.upsert(self.docs_name, parts[s : s + PART_BATCH])
        for s in range(0, len(heads), 1000):
            self.client.upsert(self.docs_name, heads[s : s + 1000])
            keys = ", ".join(_literal(h["key"]) for h in heads[s : s + 1000])
            gens = ", ".join(_literal(h["gen"]) for h in heads[s : s + 1000])
            self.client.delete(self.docs_name, filter=f'space == "doc" and part >= 0 and key in [{keys}] and gen not in [{gens}]')
        self._wrote.add(self.docs_name)

    def iter_documents(self, ids: Sequence[str] | None = None) -> Iterator[dict]:
        """``get_document`` of every document (or of ``ids``), read in bulk; in no particular order."""
        if ids is not None and not ids:
            return
        where = 'space == "doc"' + (f" and key in [{', '.join(_literal(i) for i in ids)}]" if ids is not None else "")
        heads = {r["key"]: r for r in self._iterate(self.docs_name, f"{where} and part == -1", ["key", "gen", "n_parts", "fields"], 1000)}
        texts: dict[str, dict[int, str]] = {}
        for r in self._iterate(self.docs_name, f"{where} and part >= 0", ["key", "gen", "part", "text"], 4 * PART_BATCH):
            head = heads.get(r["key"])
            if head is not None and r["gen"] == head["gen"]:
                texts.setdefault(r["key"], {})[int(r["part"])] = r["text"]
        for key, head in heads.items():
            got = texts.get(key, {})
            if len(got) == int(head["n_parts"]):
                yield {**head["fields"], "id": key, "text": "".join(got[i] for i in range(len(got)))}
            elif (one := self.get_document(key)) is not None:  # rewritten while we read: read it alone
                yield one

    def read_manifest(self) -> dict | None:
        return self.read_meta("manifest")

    def write_manifest(self, manifest: dict, fields: dict | None = None) -> None:
        """The manifest, and ``fields`` beside it that ``manifest_fields`` reads without the manifest
        (it grows with the documents). Key order is kept: a caller may give it meaning."""
        self.write_meta("manifest", manifest, fields)

    def manifest_fields(self) -> dict | None:
        """The ``fields`` of the last ``write_manifest``: one small read; None when there is no manifest."""
        head = self._read(
            self.docs_name,
            lambda level: self.client.get(self.docs_name, ids=[_head_id(*_MANIFEST)], output_fields=["fields"], consistency_level=level),
        )
        return head[0]["fields"] if head else None

    def read_meta(self, key: str) -> Any:
        """A JSON value stored with ``write_meta``, or None."""
        got = self._get_text("meta", key)
        return None if got is None else json.loads(got[0])

    def write_meta(self, key: str, value: Any, fields: dict | None = None) -> None:
        self._put_text("meta", key, json.dumps(value, ensure_ascii=False), fields or {})

    def sync(self) -> None:
        """The next read of each collection waits until every write acknowledged so far is applied,
        this process's or another's (a read otherwise runs at the table's consistency level)."""
        self._wrote |= {self.name, self.docs_name}

    # -- internals -----------------------------------------------------------------------------
    def _upsert(self, entities: list[dict], kind: str) -> int:
        res = self.client.upsert(self.name, entities, partition_name=kind)
        self._wrote.add(self.name)
        return int(res["upsert_count"])

    def _put_text(self, space: str, key: str, text: str, fields: dict) -> None:
        _check_id(key)
        gen = uuid.uuid4().hex
        parts = split_utf8(text, MAX_VARCHAR_BYTES)
        rows = [_part_row(space, key, gen, i, len(parts), p) for i, p in enumerate(parts)]
        for s in range(0, len(rows), PART_BATCH):
            self.client.upsert(self.docs_name, rows[s : s + PART_BATCH])
        # The switch: one row, so a reader sees the old text or the new one, never a mix.
        self.client.upsert(self.docs_name, [_head_row(space, key, gen, len(parts), fields)])
        self.client.delete(
            self.docs_name, filter=f"space == {_literal(space)} and key == {_literal(key)} and part >= 0 and gen != {_literal(gen)}"
        )
        self._wrote.add(self.docs_name)

    def _get_text(self, space: str, key: str) -> tuple[str, dict] | None:
        for _ in range(3):
            head = self._read(
                self.docs_name,
                lambda level: self.client.get(
                    self.docs_name, ids=[_head_id(space, key)], output_fields=["gen", "n_parts", "fields"], consistency_level=level
                ),
            )
            if not head:
                return None
            gen, n = head[0]["gen"], int(head[0]["n_parts"])
            texts: dict[int, str] = {}
            for s in range(0, n, PART_BATCH):
                ids = [_part_id(space, key, gen, i) for i in range(s, min(s + PART_BATCH, n))]
                got = self._read(
                    self.docs_name,
                    lambda level, ids=ids: self.client.get(
                        self.docs_name, ids=ids, output_fields=["part", "text"], consistency_level=level
                    ),
                )
                texts.update({int(r["part"]): r["text"] for r in got})
            if len(texts) == n:
                return "".join(texts[i] for i in range(n)), head[0]["fields"]
            # A writer switched to a new generation and deleted these parts while we read them.
            self._wrote.add(self.docs_name)
        raise MilvusStoreError(f"{space} {key!r}: {len(texts)} of {n} parts found in {self.docs_name}")

    def _read(self, collection: str, call):
        """Run a read at Strong consistency if we wrote to ``collection`` since our last read."""
        level = "Strong" if collection in self._wrote else self.consistency
        out = self._loaded_call(collection, lambda: call(level))
        self._wrote.discard(collection)
        return out

    def _loaded_call(self, collection: str, call):
        from pymilvus import MilvusException

        self._ensure_loaded(collection)
        try:
            return call()
        except MilvusException as e:
            if "not loaded" not in str(e):
                raise
            # The server restarted (or someone released the collection) since we loaded it.
            self._loaded.discard(collection)
            self._ensure_loaded(collection)
            return call()

    def _ensure_loaded(self, collection: str) -> None:
        if collection in self._loaded:
            return
        if not self.client.has_collection(collection):
            raise MilvusStoreError(f"no collection {collection} at {self.uri} (create() it first)")
        state = str(self.client.get_load_state(collection).get("state"))
        if not state.endswith("Loaded"):
            self.client.load_collection(collection)
        self._loaded.add(collection)

    def _iterate(self, collection: str, expr: str, fields: list[str], batch: int, partitions: list[str] | None = None) -> Iterator[dict]:
        # The iterator ignores the consistency level (2.3.5 gives it no snapshot timestamp; pymilvus
        # falls back to its own clock and says so): right after a write it missed the last batches.
        # A Strong read first waits until the server has applied our writes.
        if collection in self._wrote:
            self._read(
                collection, lambda level: self.client.query(collection, filter="", output_fields=["count(*)"], consistency_level=level)
            )
        log = logging.getLogger("pymilvus.client.iterator.query_iterator")
        old = log.level
        log.setLevel(logging.ERROR)
        try:
            it = self._loaded_call(
                collection,
                lambda: self.client.query_iterator(
                    collection,
                    batch_size=batch,
                    filter=expr,
                    output_fields=fields,
                    partition_names=partitions,
                    consistency_level=self.consistency,
                ),
            )
        finally:
            log.setLevel(old)
        try:
            while page := it.next():
                yield from page
        finally:
            it.close()

    def _describe_index_type(self) -> str:
        info = self.client.describe_index(self.name, "vector")
        return str(info.get("index_type", "FLAT")).upper()

    def _hybrid_search_works(self) -> bool:
        import grpc
        from pymilvus import AnnSearchRequest, MilvusException, RRFRanker

        dim = next(f for f in self.client.describe_collection(self.name)["fields"] if f["name"] == "vector")["params"]["dim"]
        req = AnnSearchRequest(data=[[0.0] * int(dim)], anns_field="vector", param={"metric_type": "IP"}, limit=1)
        self._ensure_loaded(self.name)
        log = logging.getLogger("pymilvus")
        old = log.level
        log.setLevel(logging.CRITICAL + 1)  # the expected refusal would be logged with two tracebacks
        try:
            self.client.hybrid_search(self.name, reqs=[req, req], ranker=RRFRanker(), limit=1)
            return True
        except (grpc.RpcError, MilvusException) as e:
            # 2.3.5 answers UNIMPLEMENTED; any other failure is a real error
            code = e.code() if isinstance(e, grpc.RpcError) else None
            if code == grpc.StatusCode.UNIMPLEMENTED or "unknown method" in str(e).lower():
                return False
            raise
        finally:
            log.setLevel(old)


# -- rows ------------------------------------------------------------------------------------
def _columns(fields: Sequence[str] | None) -> list[str]:
    """The collection's columns that hold the row keys ``fields`` (None: every key but the vector)."""
    if fields is None:
        return ["kind", "doc_id", "metadata", *COLUMNS, "payload"]
    cols = [f for f in fields if f in ROW_FIELDS or f in COLUMNS]
    if any(f not in ROW_FIELDS for f in fields):
        cols.append("payload")  # other keys, and a column's value too long for it
    return list(dict.fromkeys(cols))


def _column_value(row: dict, name: str) -> Any:
    """Row key ``name`` as its column holds it; None when it is of another type (payload keeps it)."""
    value = row.get(name)
    if value is None:
        return COLUMNS[name]
    if isinstance(COLUMNS[name], int):
        return int(value) if isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63 else None
    if not isinstance(value, str):
        return None
    if len(value.encode("utf-8")) > MAX_VARCHAR_BYTES:
        raise ValueError(f"row {row['id']!r}: its {name} is longer than the {MAX_VARCHAR_BYTES:,} UTF-8 bytes a Milvus text field holds")
    return value


def _check_json(row: dict, name: str, value: Any) -> None:
    if len(json.dumps(value, ensure_ascii=False).encode("utf-8")) > MAX_JSON_BYTES:
        raise ValueError(f"row {row['id']!r}: its {name} is longer than the {MAX_JSON_BYTES:,} bytes of JSON a Milvus field holds")


def _to_entity(row: dict) -> dict:
    entity = check_row(row)
    entity["vector"] = [float(x) for x in row["vector"]]
    return entity


def check_row(row: dict) -> dict:
    """The row's fields but the vector as Milvus stores them; ValueError, naming the row, for one it
    would refuse (so a batch is refused before any of it is sent)."""
    _check_id(row.get("id"))
    _check_id(row.get("doc_id"), "doc_id")
    if row.get("vector") is None:
        raise ValueError(f"row {row['id']!r} has no vector")
    entity = {"id": row["id"], "kind": row["kind"], "doc_id": row["doc_id"], "metadata": row.get("metadata") or {}}
    payload = {k: v for k, v in row.items() if k not in ROW_FIELDS and k not in COLUMNS}
    for name, default in COLUMNS.items():
        value = _column_value(row, name)
        if value is None:
            entity[name], payload[name] = default, row[name]
        else:
            entity[name] = value
    _check_json(row, "metadata", entity["metadata"])
    _check_json(row, "payload", payload)
    entity["payload"] = payload
    return entity


def _from_entity(e: dict) -> dict:
    row = dict(e.get("payload") or {})
    row.update({k: e[k] for k in ("id", "kind", "doc_id", "metadata") if k in e})
    # A column's default stands for a row without the key, unless payload holds the value (another type).
    row.update({k: e[k] for k, default in COLUMNS.items() if k in e and e[k] != default and k not in row})
    if "vector" in e:
        row["vector"] = [float(x) for x in e["vector"]]
    return row


def _part_row(space: str, key: str, gen: str, i: int, n: int, text: str) -> dict:
    return {
        "id": _part_id(space, key, gen, i),
        "space": space,
        "key": key,
        "part": i,
        "gen": gen,
        "n_parts": n,
        "text": text,
        "fields": {},
        "placeholder": [1.0, 0.0],
    }


def _head_row(space: str, key: str, gen: str, n: int, fields: dict) -> dict:
    return {
        "id": _head_id(space, key),
        "space": space,
        "key": key,
        "part": -1,
        "gen": gen,
        "n_parts": n,
        "text": "",
        "fields": fields,
        "placeholder": [1.0, 0.0],
    }


def _head_id(space: str, key: str) -> str:
    return f"{space}/head/{key}"


def _part_id(space: str, key: str, gen: str, i: int) -> str:
    # Distinct from every head id by its second segment, whatever the key holds.
    return f"{space}/part/{gen}/{i}/{key}"


def _check_id(value: Any, what: str = "id") -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, not {value!r}")
    if len(value.encode("utf-8")) > MAX_ID_BYTES:
        raise ValueError(f"{what} {value[:40]!r}... is longer than {MAX_ID_BYTES} UTF-8 bytes")


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")


def split_utf8(text: str, max_bytes: int) -> list[str]:
    """``text`` cut into pieces of at most ``max_bytes`` UTF-8 bytes, never inside a character."""
    data = text.encode("utf-8")
    parts, start = [], 0
    while start < len(data):
        end = min(start + max_bytes, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # a continuation byte: back off
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start = end
    return parts or [""]


# -- filters ---------------------------------------------------------------------------------
def _literal(value: Any) -> str:
    """A Milvus expression literal. JSON's string escapes are the ones Milvus's parser reads."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"filter value {value!r} cannot be expressed")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"filter values are str, int, float or bool, not {type(value).__name__}")


def to_expr(filter: dict) -> str | None:
    """A Milvus boolean expression for ``filter``; "" for no condition, None when nothing can match
    (an empty list of values)."""
    terms = []
    for key, value in filter.items():
        field = key if key in ("doc_id", "kind", "id") else f"metadata[{_literal(str(key))}]"
        if isinstance(value, (list, tuple, set, frozenset)):
            values = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else list(value)
            if not values:
                return None
            terms.append(f"{field} in [{', '.join(_literal(v) for v in values)}]")
        else:
            terms.append(f"{field} == {_literal(value)}")
    return " and ".join(terms)


# -- the store -------------------------------------------------------------------------------
# How long a reader waits for a write under way to finish before taking what it read (a write that
# died half-way never finishes: then the next `rag index` or write puts it right).
SETTLE_SECONDS = 10.0


class MilvusVectors(Vectors):
    """An index's vectors in Milvus: searched and read on the server. Rows map to ids through this
    index's own lists, so a row another process wrote since it was read is never returned."""

    def __init__(self, table: MilvusTable, ids: dict[str, list[str]], dim: int, ef: int = DEFAULT_EF):
        self.table, self.ids, self.dim, self.ef = table, ids, dim, ef
        self.rows = {kind: {i: r for r, i in enumerate(v)} for kind, v in ids.items()}

    def count(self, kind: Kind) -> int:
        return len(self.ids[kind])

    def search(self, kind: Kind, vector: np.ndarray, k: int, within: Within | None = None) -> list[tuple[int, float]]:
        n = min(k, self.count(kind))
        if n <= 0 or (within is not None and not within.docs):
            return []
        flt = None if within is None else {"doc_id": sorted(within.docs)}
        with _unavailable(self.table.uri):
            hits = self.table.search(vector, n, kind=kind, filter=flt, ef=max(self.ef, n), fields=[])
        rows = self.rows[kind]
        return [(rows[i], score) for i, score, _ in hits if i in rows]

    def get(self, kind: Kind, rows: Sequence[int]) -> np.ndarray:
        ids = [self.ids[kind][int(r)] for r in rows]
        with _unavailable(self.table.uri):
            got = {r["id"]: r["vector"] for r in self.table.get(ids, with_vectors=True, fields=[])}
        out = np.zeros((len(ids), self.dim), np.float32)
        for n, i in enumerate(ids):
            if i in got:  # else deleted by another process since this index was read: scores 0
                out[n] = got[i]
        return out


class MilvusStore(Store):
    """An index in a Milvus collection (``MilvusTable``): chunk and candidate rows with their vectors,
    texts, offsets and metadata; each document's record; the manifest, with a generation number each
    write increments. Any number of processes, on any machines, serve one collection: each reads the
    texts once and builds BM25 from them in memory (Milvus 2.3 has no sparse vectors or BM25 of its
    own), then asks the server for vectors, and polls the generation to read what others wrote."""

    name = "milvus"
    keeps_uploads = True

    def __init__(
        self,
        uri: str,
        collection: str = "rag",
        *,
        token: str | None = None,
        index: str = "HNSW",
        hnsw_m: int = 16,
        ef_construction: int = 200,
        ef: int = DEFAULT_EF,
    ):
        self.uri, self.collection, self.token = uri, collection, token
        self.index_type, self.hnsw_m, self.ef_construction, self.ef = index.upper(), hnsw_m, ef_construction, ef
        self._table: MilvusTable | None = None

    def __str__(self) -> str:
        return f"Milvus collection {self.collection} at {self.uri}"

    @property
    def table(self) -> MilvusTable:
        if self._table is None:
            try:
                table = MilvusTable(self.uri, self.collection, token=self.token)
            except ValueError as e:
                raise InvalidInputError(f"RAG_MILVUS_COLLECTION: {e}") from None
            except Exception as e:
                raise StoreUnavailableError(f"cannot reach Milvus at {self.uri}: {e}") from None
            self._table = table
        return self._table

    def _documents_collection(self) -> bool:
        return bool(self.table.client.has_collection(self.table.docs_name))

    def exists(self) -> bool:
        with _unavailable(self.uri):
            return self._documents_collection() and self.table.manifest_fields() is not None

    def check_target(self) -> None:
        with _unavailable(self.uri):
            if self.table.exists() and not self._documents_collection():
                raise InvalidInputError(
                    f"collection {self.collection} at {self.uri} is not a rag index (no {self.table.docs_name} beside it): "
                    "choose another RAG_MILVUS_COLLECTION"
                )

    def lock(self) -> FileLock:
        # Writers on one machine take turns. Milvus 2.3 offers no lock or transaction, so writers on
        # several machines are not serialised: each builds on the collection's latest index.
        key = hashlib.sha256(f"{self.uri}\n{self.collection}".encode()).hexdigest()[:16]
        return FileLock(Path(tempfile.gettempdir()) / f"rag-milvus-{key}.lock")

    def generation(self, latest: bool = False) -> int:
        with _unavailable(self.uri):
            if latest:
                self.table.sync()
            try:
                fields = self.table.manifest_fields()
            except MilvusStoreError:  # no collection (yet)
                return 0
        return int((fields or {}).get("generation", 0))

    # -- reading ---------------------------------------------------------------------------------
    def load(
        self,
        *,
        model_id: str | None = None,
        fingerprint: str | None = None,
        chunker: ChunkerConfig | None = None,
        mmap: bool = False,
    ) -> Index:
        return self._snapshot(None, dict(model_id=model_id, fingerprint=fingerprint, chunker=chunker))

    def refresh(self, index: Index) -> Index:
        if not self._same(index.store):
            return self.load()
        if self.generation(latest=True) == index.generation:
            return index
        return self._snapshot(index, {})

    def _snapshot(self, base: Index | None, checks: dict) -> Index:
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            with _unavailable(self.uri):
                manifest = self._manifest()
                check_manifest(manifest, **checks)
                index, whole = self._read(manifest, base)
            if whole:
                return index
            if time.monotonic() > deadline:
                log.warning("%s: documents differ from its manifest (a write that did not finish?); taking them as they are", self)
                return index
            time.sleep(0.5)

    def _manifest(self) -> dict:
        self.table.sync()
        raw = self.table.read_manifest() if self._documents_collection() else None
        if raw is None:
            raise IndexNotFoundError(f"no index in {self} (run `rag index`)")
        return parse_manifest(json.dumps(raw).encode(), str(self), FORMAT_VERSION)

    def _read(self, manifest: dict, base: Index | None) -> tuple[Index, bool]:
        """The index ``manifest`` describes, reading again only the documents it changed since ``base``;
        and whether what was read is whole (a write under way shows as a record its manifest does not
        list alike: writes go records, rows, manifest, and rows are read before records)."""
        t = self.table
        hashes: dict[str, str] = manifest["documents"]
        order = list(hashes)  # the manifest keeps the documents' order: the index's row order
        if base is not None and any(manifest.get(k) != base.manifest.get(k) for k in ("embedding_model", "model_fingerprint", "chunker")):
            base = None
        old = base.manifest["documents"] if base is not None else {}
        wanted = [d for d in order if old.get(d) != hashes[d]]
        if base is not None and len(wanted) > max(100, len(order) // 2):
            base, wanted = None, order  # most of it changed: one pass over everything is faster
        only = None if base is None else {"doc_id": wanted}
        t.sync()
        rows = {kind: [r for r in t.iter_rows(kind, PASSAGE_KEYS, filter=only) if r["doc_id"] in hashes] for kind in KINDS}
        t.sync()
        records = {r["id"]: r for r in t.iter_documents(None if base is None else wanted)}
        whole = all(d in records and records[d].get("sha256") == hashes[d] for d in wanted)
        documents = {}
        for d in order:
            if d in wanted and d in records:
                documents[d] = doc_from_record(json.loads(records[d]["text"]))
            elif base is not None and d in base.documents and d not in wanted:
                documents[d] = base.documents[d]
        pos = {d: n for n, d in enumerate(order)}
        fresh = {kind: sorted(rows[kind], key=lambda r: (pos[r["doc_id"]], r["seq"])) for kind in KINDS}
        if base is None:
            chunks = [_chunk(r) for r in fresh["chunk"]]
            cands = [_candidate(r) for r in fresh["candidate"]]
            ids = {kind: [r["id"] for r in fresh[kind]] for kind in KINDS}
        else:
            chunks, cands, ids = self._merge(base, set(wanted), fresh, pos)
        counts = manifest["counts"]
        whole = whole and len(chunks) == counts["chunks"] and len(cands) == counts["candidates"]
        names = t.read_meta("names")
        bm25 = bm25_index(chunks, manifest["bm25"]["k1"], manifest["bm25"]["b"])
        vectors = MilvusVectors(t, ids, int(manifest["dim"]), self.ef)
        return Index(self, manifest, documents, chunks, cands, vectors, bm25, frozenset(names or ())), whole

    @staticmethod
    def _merge(base: Index, wanted: set[str], fresh: dict[str, list[dict]], pos: dict[str, int]):
        """``base``'s rows of the documents still there unchanged, and the ``fresh`` rows of the others,
        in document order."""
        assert isinstance(base.vectors, MilvusVectors)
        old_ids = base.vectors.ids
        kept = lambda c: c.doc_id in pos and c.doc_id not in wanted
        kept_chunks = [(pos[c.doc_id], n, c, old_ids["chunk"][n]) for n, c in enumerate(base.chunks) if kept(c)]
        kept_cands = [(pos[c.doc_id], n, c, old_ids["candidate"][n]) for n, c in enumerate(base.candidates) if kept(c)]
        new_chunks = [(pos[r["doc_id"]], r["seq"], _chunk(r), r["id"]) for r in fresh["chunk"]]
        new_cands = [(pos[r["doc_id"]], r["seq"], _candidate(r), r["id"]) for r in fresh["candidate"]]
        # Within a document rows keep their order (base's row numbers or the stored seq): only documents are interleaved.
        chunk_rows = sorted(kept_chunks + new_chunks, key=lambda x: (x[0], x[1]))
        cand_rows = sorted(kept_cands + new_cands, key=lambda x: (x[0], x[1]))
        return (
            [x[2] for x in chunk_rows],
            [x[2] for x in cand_rows],
            {"chunk": [x[3] for x in chunk_rows], "candidate": [x[3] for x in cand_rows]},
        )

    def _same(self, other: object) -> bool:
        return isinstance(other, MilvusStore) and (other.uri, other.collection) == (self.uri, self.collection)

    # -- writing ---------------------------------------------------------------------------------
    def write(self, update: Update) -> None:
        """Incremental when the previous index was built alike: records of the documents embedded now,
        their rows (upserted, then the rows they no longer have deleted), the removed documents deleted,
        then the manifest with the next generation. Otherwise the collection is made again."""
        t = self.table
        with _unavailable(self.uri):
            previous = update.previous
            incremental = update.incremental and previous is not None and self._same(previous.store) and self._documents_collection()
            writing = [d for d in update.docs if d.id in update.fresh]
            rows: dict[str, list[str]] = {}
            new_rows = [r for d in writing for r in _rows(d, update.parts[d.id], rows)]
            for r in new_rows:  # before anything is written: a refused row leaves the collection as it was
                try:
                    check_row(r)
                except ValueError as e:
                    raise InvalidInputError(f"document {r['doc_id']} cannot be kept in Milvus: {e}") from None
            generation = self.generation(latest=True) + 1
            if not incremental:
                t.drop()
                t.create(dim=int(update.manifest["dim"]), index=self.index_type, hnsw_m=self.hnsw_m, ef_construction=self.ef_construction)
            for doc_id in update.removed if incremental else ():
                t.delete_document(doc_id)  # its record first, then its rows
            t.put_documents([(d.id, json.dumps(doc_record(d), ensure_ascii=False), _record_fields(d)) for d in writing])
            t.upsert_rows(new_rows)
            if incremental and previous is not None:
                for d in writing:
                    if d.id in previous.manifest["documents"]:
                        t.delete_doc(d.id, keep=rows[d.id])
            t.write_meta("names", sorted(update.names))
            milvus: dict[str, Any] = {"index": self.index_type, "metric": "IP"}
            if self.index_type == "HNSW":
                milvus |= {"m": self.hnsw_m, "ef_construction": self.ef_construction, "ef": self.ef}
            manifest = {**update.manifest, "generation": generation, "milvus": milvus}
            t.write_manifest(manifest, {"generation": generation})


def _record_fields(d: Document) -> dict:
    return {"sha256": d.sha256, "title": d.title, "source": d.source}


# What a passage row holds besides its vector: the columns (text, section, offsets) and in ``record``
# the rest of the Chunk or Candidate; ``seq``: its place in its document.
PASSAGE_KEYS = ["doc_id", "text", "section", "start", "end", "record", "seq"]
_OFFSETS = ("text", "start", "end")


def _rows(d: Document, part: Part, ids: dict[str, list[str]]) -> Iterator[dict]:
    """A document's chunk and candidate rows (``ids`` gets the ids written): a candidate's id is its
    chunk's and its place in it."""
    assert part.chunk_vectors is not None and part.candidate_vectors is not None
    written = ids.setdefault(d.id, [])
    meta = d.metadata or {}
    for n, (c, v) in enumerate(zip(part.chunks, part.chunk_vectors)):
        written.append(c.id)
        rest = {k: x for k, x in asdict(c).items() if k not in ("id", "doc_id", "section", *_OFFSETS)}
        yield {
            "id": c.id,
            "kind": "chunk",
            "doc_id": d.id,
            "vector": v,
            "metadata": meta,
            "seq": n,
            "section": c.section,
            **_offsets(c),
            "record": rest,
        }
    within: dict[str, int] = {}
    for n, (cand, v) in enumerate(zip(part.candidates, part.candidate_vectors)):
        within[cand.chunk_id] = within.get(cand.chunk_id, -1) + 1
        cid = f"{cand.chunk_id}/{within[cand.chunk_id]}"
        written.append(cid)
        rest = {k: x for k, x in asdict(cand).items() if k not in ("doc_id", *_OFFSETS)}
        yield {"id": cid, "kind": "candidate", "doc_id": d.id, "vector": v, "metadata": meta, "seq": n, **_offsets(cand), "record": rest}


def _offsets(x: Chunk | Candidate) -> dict:
    return {"text": x.text, "start": x.start, "end": x.end}


def _chunk(row: dict) -> Chunk:
    return Chunk(
        **row["record"], id=row["id"], doc_id=row["doc_id"], section=row.get("section", ""), **{k: row.get(k, COLUMNS[k]) for k in _OFFSETS}
    )


def _candidate(row: dict) -> Candidate:
    return candidate_from_record({**row["record"], "doc_id": row["doc_id"], **{k: row.get(k, COLUMNS[k]) for k in _OFFSETS}})


@contextmanager
def _unavailable(uri: str) -> Iterator[None]:
    """Milvus's failures as one error naming the server (the API answers 503)."""
    from pymilvus import MilvusException

    try:
        yield
    except (MilvusException, MilvusStoreError) as e:
        raise StoreUnavailableError(f"Milvus at {uri}: {getattr(e, 'message', None) or e}") from None
