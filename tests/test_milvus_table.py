"""MilvusTable against the real Milvus 2.3.5 server (started once for the module's session by
tests/milvus_fixtures.py; `.ci/milvus-setup` installs it)."""

from __future__ import annotations

import json
import time
import uuid

import numpy as np
import pytest

from rag.stores.milvus import MAX_VARCHAR_BYTES, MilvusStoreError, MilvusTable, split_utf8, to_expr

pytest_plugins = ["tests.milvus_fixtures"]

DIM = 16
TRICKY = ['a"b', "back\\slash", "new\nline", "ünï 😀", "it's", "x' or kind != 'y"]


def unit(rng, n=1):
    v = rng.normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def chunk(i, doc, vec, **extra):
    return {
        "id": f"{doc}#c{i}",
        "kind": "chunk",
        "doc_id": doc,
        "vector": vec,
        "text": f"chunk {i} of {doc}",
        "start": 10 * i,
        "end": 10 * i + 9,
        "section": "S",
        "title": f"Title {doc}",
        **extra,
    }


def candidate(i, doc, vec, **extra):
    return {
        "id": f"{doc}#s{i}",
        "kind": "candidate",
        "doc_id": doc,
        "vector": vec,
        "chunk_id": f"{doc}#c0",
        "text": f"sentence {i}",
        "start": i,
        "end": i + 5,
        **extra,
    }


@pytest.fixture
def new_table(milvus_server):
    made = []

    def make(index="HNSW", create=True):
        t = MilvusTable(milvus_server.uri, f"t_{uuid.uuid4().hex[:12]}")
        if create:
            t.create(dim=DIM, index=index)
        made.append(t)
        return t

    yield make
    for t in made:
        try:
            MilvusTable(milvus_server.uri, t.name).drop()
        finally:
            t.close()


@pytest.fixture
def table(new_table):
    return new_table()


def test_create_exists_drop(new_table, milvus_server):
    t = new_table(create=False)
    assert not t.exists()
    t.create(dim=DIM, index="FLAT")
    assert t.exists() and t.count() == 0 and t.count("chunk") == 0
    with pytest.raises(MilvusStoreError, match="already exists"):
        t.create(dim=DIM)
    t.drop()
    assert not t.exists()
    assert not {t.name, t.docs_name} & set(t.client.list_collections())
    with pytest.raises(ValueError):
        MilvusTable(milvus_server.uri, "1bad-name")


@pytest.mark.parametrize("index", ["FLAT", "HNSW"])
def test_search_orders_by_inner_product(new_table, index):
    t = new_table(index)
    rng = np.random.default_rng(1)
    vecs = unit(rng, 200)
    t.upsert_rows(chunk(i, f"d{i % 7}", vecs[i]) for i in range(200))
    q = unit(rng)[0]
    hits = t.search(q, k=10, kind="chunk", ef=64)
    expected = np.argsort(-(vecs @ q))[:10]
    assert [h[0] for h in hits] == [f"d{i % 7}#c{i}" for i in expected]
    assert np.allclose([h[1] for h in hits], (vecs @ q)[expected], atol=1e-5)
    assert all(a[1] >= b[1] for a, b in zip(hits, hits[1:]))


def test_rows_round_trip(table):
    rng = np.random.default_rng(2)
    v = unit(rng, 3)
    rows = [
        chunk(0, "d1", v[0], metadata={"source": "wiki"}, note="ünï 😀"),
        chunk(1, "d1", v[1]),
        candidate(0, "d1", v[2], cells=[{"header": "h", "value": "v", "start": 0, "end": 1}]),
    ]
    assert table.upsert_rows(rows) == 3
    got = table.get(["d1#s0", "missing", "d1#c0"], with_vectors=True)
    assert [g["id"] for g in got] == ["d1#s0", "d1#c0"]
    for g, r in zip(got, [rows[2], rows[0]]):
        assert np.allclose(g.pop("vector"), r["vector"], atol=1e-6)
        assert g == {**{k: x for k, x in r.items() if k != "vector"}, "metadata": r.get("metadata", {})}
    hit_id, score, payload = table.search(v[0], k=1, kind="chunk")[0]
    assert hit_id == "d1#c0" and score == pytest.approx(1.0, abs=1e-5)
    assert payload["text"] == "chunk 0 of d1" and payload["note"] == "ünï 😀" and payload["metadata"] == {"source": "wiki"}
    # upsert replaces: same id, new payload, one row
    table.upsert_rows([chunk(0, "d1", v[0], text="replaced")])
    assert table.count("chunk") == 2 and table.get(["d1#c0"])[0]["text"] == "replaced"
    with pytest.raises(ValueError, match="kind"):
        table.upsert_rows([{**rows[0], "kind": "sentence"}])


def test_passages_are_typed_columns(table):
    """text, section and offsets are columns another client reads and filters on; a value of another
    type is kept in the payload; a text too long for Milvus is refused before anything is written."""
    rng = np.random.default_rng(5)
    v = unit(rng, 3)
    long = "ü" * 30_000  # 60,000 UTF-8 bytes: a VARCHAR column holds it
    table.upsert_rows([chunk(0, "d1", v[0]), chunk(1, "d1", v[1], text=long, section=""), candidate(0, "d1", v[2], start="x")])
    fields = {f["name"]: f["type"].name for f in table.client.describe_collection(table.name)["fields"]}
    assert {k: fields[k] for k in ("text", "section", "start", "end")} == {
        "text": "VARCHAR",
        "section": "VARCHAR",
        "start": "INT64",
        "end": "INT64",
    }
    raw = table.client.query(
        table.name, filter='section == "S" and start >= 0', output_fields=["text", "section", "start", "end"], consistency_level="Strong"
    )
    assert sorted((r["id"], r["text"], r["start"], r["end"]) for r in raw) == [("d1#c0", "chunk 0 of d1", 0, 9)]
    got = {g["id"]: g for g in table.get(["d1#c0", "d1#c1", "d1#s0"])}
    assert got["d1#c1"]["text"] == long and "section" not in got["d1#c1"]  # the empty default reads as absent
    assert got["d1#s0"]["text"] == "sentence 0" and (got["d1#s0"]["start"], got["d1#s0"]["end"]) == ("x", 5)
    assert {r["id"]: r["text"] for r in table.iter_rows("chunk", ["text"])} == {"d1#c0": "chunk 0 of d1", "d1#c1": long}
    for too_long in ({"text": "ü" * 40_000}, {"title": "t" * 70_000}, {"metadata": {"note": "n" * 70_000}}):
        with pytest.raises(ValueError, match="longer than"):
            table.upsert_rows([chunk(0, "d2", v[0]), chunk(1, "d2", v[1], **too_long)])
    assert table.get(["d2#c0"]) == []  # checked before the batch was sent


def test_filters(table):
    rng = np.random.default_rng(3)
    v = unit(rng, 12)
    rows = [chunk(i, f"d{i % 3}", v[i], metadata={"source": TRICKY[i % len(TRICKY)], "year": 2000 + i % 2}) for i in range(12)]
    table.upsert_rows(rows + [candidate(0, "d0", v[0])])
    q = v[0]

    def ids(**kw):
        return {h[0] for h in table.search(q, k=50, **kw)}

    assert ids(filter={"doc_id": ["d0", "d2"]}) == {r["id"] for r in rows if r["doc_id"] in ("d0", "d2")}
    assert ids(filter={"doc_id": "d1"}) == {r["id"] for r in rows if r["doc_id"] == "d1"}
    for value in TRICKY:
        want = {r["id"] for r in rows if r["metadata"]["source"] == value}
        assert ids(filter={"source": value}) == want, value
    assert ids(filter={"source": TRICKY[:2], "year": 2000}) == {
        r["id"] for r in rows if r["metadata"]["source"] in TRICKY[:2] and r["metadata"]["year"] == 2000
    }
    assert ids(filter={"source": "nowhere"}) == set()
    assert ids(filter={"doc_id": []}) == set()
    assert ids(kind="candidate") == {"d0#s0"}
    assert ids(kind="chunk") == {r["id"] for r in rows}


def test_filter_expressions():
    assert to_expr({}) == ""
    assert to_expr({"doc_id": ["a", 'b"c']}) == 'doc_id in ["a", "b\\"c"]'
    assert to_expr({"source": "x", "n": 3, "ok": True}) == 'metadata["source"] == "x" and metadata["n"] == 3 and metadata["ok"] == true'
    assert to_expr({"kind": "chunk", 'we"ird': 1.5}) == 'kind == "chunk" and metadata["we\\"ird"] == 1.5'
    assert to_expr({"doc_id": []}) is None
    with pytest.raises(TypeError):
        to_expr({"source": None})


def test_delete_document_removes_everything_of_it(table):
    rng = np.random.default_rng(4)
    v = unit(rng, 8)
    table.upsert_rows([chunk(i, f"d{i % 2}", v[i]) for i in range(6)] + [candidate(i, f"d{i % 2}", v[6 + i]) for i in range(2)])
    table.put_document("d0", "text of d0", {"title": "Zero"})
    table.put_document("d1", "text of d1", {"title": "One"})
    table.delete_document("d0")
    assert table.get_document("d0") is None and table.list_documents() == ["d1"]
    for kind in ("chunk", "candidate"):
        assert {h[0] for h in table.search(v[0], k=50, kind=kind)} == {r["id"] for r in table.iter_rows(kind)}
        assert all(r["doc_id"] == "d1" for r in table.iter_rows(kind, ["doc_id"]))
    assert table.count("chunk") == 3 and table.count("candidate") == 1
    assert table.get_document("d1")["text"] == "text of d1"
    table.delete_doc("d1")  # rows only: the text stays
    assert table.count() == 0 and table.get_document("d1")["title"] == "One"


def test_long_documents_round_trip(table):
    # 3- and 4-byte characters land on part boundaries; ~5 parts
    text = ("€uro 😀 " * 30_000) + "end"
    assert len(text.encode()) > 4 * MAX_VARCHAR_BYTES
    table.put_document("long", text, {"title": "Long", "sha256": "abc", "source": "x.md"})
    assert table.get_document("long") == {"id": "long", "text": text, "title": "Long", "sha256": "abc", "source": "x.md"}
    table.put_document("long", "short now", {"title": "Long v2"})
    assert table.get_document("long") == {"id": "long", "text": "short now", "title": "Long v2"}
    parts = table.client.query(table.docs_name, filter='key == "long" and part >= 0', output_fields=["gen"], consistency_level="Strong")
    assert len(parts) == 1, "the previous version's parts are deleted"
    table.put_document("empty", "")
    assert table.get_document("empty") == {"id": "empty", "text": ""}
    assert table.list_documents() == ["empty", "long"]


def test_split_utf8():
    for text in ["", "abc", "é" * 10, "😀a" * 7, "a€b😀" * 50]:
        for limit in (4, 5, 7, 64):
            parts = split_utf8(text, limit)
            assert "".join(parts) == text and all(len(p.encode()) <= limit for p in parts)


def test_manifest_round_trip(table):
    assert table.read_manifest() is None
    manifest = {
        "format_version": 1,
        "embedding_model": "m",
        "chunker": {"max_tokens": 200},
        "documents": {f"doc-{i}": f"{i:064x}" for i in range(3_000)},
    }
    assert len(json.dumps(manifest)) > 3 * MAX_VARCHAR_BYTES
    table.write_manifest(manifest)
    assert table.read_manifest() == manifest
    table.write_manifest({"format_version": 2})
    assert table.read_manifest() == {"format_version": 2}
    assert table.list_documents() == []  # the manifest is not a document


def test_iter_rows_and_count(table):
    rng = np.random.default_rng(5)
    v = unit(rng, 2_600)
    table.upsert_rows(chunk(i, f"d{i // 10}", v[i]) for i in range(2_500))
    table.upsert_rows(candidate(i, "d0", v[2_500 + i]) for i in range(100))
    rows = list(table.iter_rows("chunk", ["doc_id", "text"], batch=1_000))
    assert len(rows) == len({r["id"] for r in rows}) == 2_500
    assert set(rows[0]) == {"id", "doc_id", "text"}
    assert all(r["text"] == f"chunk {r['id'].split('#c')[1]} of {r['doc_id']}" for r in rows)
    assert table.count("chunk") == 2_500 and table.count("candidate") == 100 and table.count() == 2_600


def test_write_is_seen_by_a_second_client_within_2s(table, milvus_server):
    rng = np.random.default_rng(6)
    v = unit(rng, 2)
    other = MilvusTable(milvus_server.uri, table.name)
    try:
        assert other.search(v[0], k=1) == []
        table.upsert_rows([chunk(0, "d0", v[0])])
        assert table.search(v[0], k=1)[0][0] == "d0#c0", "the writer reads its own write at once"
        assert _within(2.0, lambda: [h[0] for h in other.search(v[0], k=1)] == ["d0#c0"])
        table.delete_doc("d0")
        assert _within(2.0, lambda: other.search(v[0], k=1) == [])
        table.put_document("d0", "hello")
        assert _within(2.0, lambda: (other.get_document("d0") or {}).get("text") == "hello")
    finally:
        other.close()


def test_capabilities_of_2_3_5(table):
    caps = table.capabilities()
    assert caps["server_version"].startswith("v2.3.5")
    assert caps["hybrid_search"] is False and caps["sparse_vectors"] is False and caps["builtin_bm25"] is False
    assert caps["json_filters"] is True


def _fill(t, rng):
    v = unit(rng, 50)
    t.upsert_rows(
        [chunk(i, f"d{i % 5}", v[i], metadata={"source": "s"}) for i in range(40)]
        + [candidate(i, f"d{i % 5}", v[40 + i]) for i in range(10)]
    )
    t.put_document("d0", "x" * 100_000, {"title": "T"})
    t.write_manifest({"documents": {"d0": "h"}})
    return v


def _check(t, v):
    assert len(list(t.iter_rows("candidate", ["doc_id"]))) == 10
    assert t.count("chunk") == 40 and t.count("candidate") == 10
    assert t.search(v[3], k=1, filter={"source": "s"})[0][0] == "d3#c3"
    assert t.get_document("d0")["text"] == "x" * 100_000
    assert t.read_manifest() == {"documents": {"d0": "h"}}


def test_data_survives_a_restart(table, milvus_server):
    v = _fill(table, np.random.default_rng(7))
    milvus_server.restart()
    fresh = MilvusTable(milvus_server.uri, table.name)
    try:
        _check(fresh, v)
    finally:
        fresh.close()
    _check(table, v)  # the old client reconnects and loads the collections again


def test_data_survives_a_crash(table, milvus_server):
    v = _fill(table, np.random.default_rng(8))
    milvus_server.kill()  # SIGKILL right after the writes: nothing flushed
    milvus_server.start()
    fresh = MilvusTable(milvus_server.uri, table.name)
    try:
        _check(fresh, v)
    finally:
        fresh.close()


def _within(seconds: float, ok) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        if ok():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
