"""A Milvus collection as the index's vector table: chunks and answer candidates with their vectors,
the documents' full texts and the manifest. The rest of the project sees plain dicts, never pymilvus.

Two collections per index (choices measured on Milvus 2.3.5, see bench/milvus_notes.md):

``<name>``
    one row per chunk or candidate: ``id`` (primary key), ``kind``, ``doc_id``, ``vector`` (inner
    product on normalised vectors), ``metadata`` (the document's metadata, JSON, so filters like
    ``{"source": "x"}`` run in Milvus) and ``payload`` (everything else of the row, JSON). Each kind
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

import json
import logging
import math
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

KINDS = ("chunk", "candidate")
ROW_FIELDS = ("id", "kind", "doc_id", "vector", "metadata")  # every other key of a row goes into payload
MAX_VARCHAR_BYTES = 65_535
MAX_ID_BYTES = 1_024
DEFAULT_EF = 128  # HNSW ef when the caller gives none; the FAISS index's efSearch too (rag.store.IndexConfig)
PART_BATCH = 32  # text parts per request: at most ~2 MB
_MANIFEST = ("meta", "manifest")


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

    def delete_doc(self, doc_id: str) -> None:
        """Delete the document's chunks and candidates (not its text: see ``delete_document``)."""
        self.client.delete(self.name, filter=f"doc_id == {_literal(doc_id)}")
        self._wrote.add(self.name)

    def search(
        self, vector: Sequence[float], k: int, kind: str = "chunk", filter: dict | None = None, ef: int | None = None
    ) -> list[tuple[str, float, dict]]:
        """The ``k`` rows of ``kind`` with the highest inner product: ``(id, score, row)``, best first.

        ``filter``: field -> value or list of values; ``doc_id`` and ``kind`` are columns, any other key
        is looked up in the row's ``metadata``. A list means any of; keys are and-ed."""
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
                output_fields=["kind", "doc_id", "metadata", "payload"],
                search_params={"metric_type": "IP", "params": params},
                consistency_level=level,
            ),
        )
        return [(h["id"], float(h["distance"]), _from_entity({"id": h["id"], **h["entity"]})) for h in res[0]]

    def get(self, ids: Sequence[str], with_vectors: bool = False) -> list[dict]:
        """Rows by id, in the order asked; ids not found are left out."""
        if not ids:
            return []
        fields = ["kind", "doc_id", "metadata", "payload"] + (["vector"] if with_vectors else [])
        found = {}
        for s in range(0, len(ids), 1000):
            part = list(ids[s : s + 1000])
            got = self._read(
                self.name, lambda level, part=part: self.client.get(self.name, ids=part, output_fields=fields, consistency_level=level)
            )
            found.update({r["id"]: _from_entity(r) for r in got})
        return [found[i] for i in ids if i in found]

    def iter_rows(self, kind: str, fields: Sequence[str] | None = None, batch: int = 1000) -> Iterator[dict]:
        """Every row of ``kind`` (in no particular order), reduced to ``fields`` (row keys; all if None)."""
        _check_kind(kind)
        cols = {"id"} | (
            {"doc_id", "metadata", "payload", "vector"}
            if fields is None
            else {f if f in ROW_FIELDS else "payload" for f in fields} - {"kind"}
        )
        for r in self._iterate(self.name, f"kind == {_literal(kind)}", sorted(cols), batch, [kind]):
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

    def read_manifest(self) -> dict | None:
        got = self._get_text(*_MANIFEST)
        return None if got is None else json.loads(got[0])

    def write_manifest(self, manifest: dict) -> None:
        self._put_text(*_MANIFEST, json.dumps(manifest, ensure_ascii=False, sort_keys=True), {})

    # -- internals -----------------------------------------------------------------------------
    def _upsert(self, entities: list[dict], kind: str) -> int:
        res = self.client.upsert(self.name, entities, partition_name=kind)
        self._wrote.add(self.name)
        return int(res["upsert_count"])

    def _put_text(self, space: str, key: str, text: str, fields: dict) -> None:
        _check_id(key)
        gen = uuid.uuid4().hex
        parts = split_utf8(text, MAX_VARCHAR_BYTES)
        rows = [
            {
                "id": _part_id(space, key, gen, i),
                "space": space,
                "key": key,
                "part": i,
                "gen": gen,
                "n_parts": len(parts),
                "text": p,
                "fields": {},
                "placeholder": [1.0, 0.0],
            }
            for i, p in enumerate(parts)
        ]
        for s in range(0, len(rows), PART_BATCH):
            self.client.upsert(self.docs_name, rows[s : s + PART_BATCH])
        # The switch: one row, so a reader sees the old text or the new one, never a mix.
        self.client.upsert(
            self.docs_name,
            [
                {
                    "id": _head_id(space, key),
                    "space": space,
                    "key": key,
                    "part": -1,
                    "gen": gen,
                    "n_parts": len(parts),
                    "text": "",
                    "fields": fields,
                    "placeholder": [1.0, 0.0],
                }
            ],
        )
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
def _to_entity(row: dict) -> dict:
    _check_id(row.get("id"))
    _check_id(row.get("doc_id"), "doc_id")
    vec = row.get("vector")
    if vec is None:
        raise ValueError(f"row {row['id']!r} has no vector")
    return {
        "id": row["id"],
        "kind": row["kind"],
        "doc_id": row["doc_id"],
        "vector": [float(x) for x in vec],
        "metadata": row.get("metadata") or {},
        "payload": {k: v for k, v in row.items() if k not in ROW_FIELDS},
    }


def _from_entity(e: dict) -> dict:
    row = dict(e.get("payload") or {})
    row.update({k: e[k] for k in ("id", "kind", "doc_id", "metadata") if k in e})
    if "vector" in e:
        row["vector"] = [float(x) for x in e["vector"]]
    return row


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
