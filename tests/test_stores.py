"""One contract for every vector store (rag.stores): each test runs on FAISS and on Milvus (the real
2.3.5 server of tests/milvus_fixtures.py, never skipped). Deterministic hashed bag-of-words vectors."""

from __future__ import annotations

import uuid
from dataclasses import replace

import numpy as np
import pytest

from rag.chunking import ChunkerConfig
from rag.corpus import load_corpus
from rag.errors import IndexMismatchError, IndexNotFoundError
from rag.filters import matching_documents
from rag.indexing import open_index
from rag.live import LiveIndex
from rag.retrieval import RetrievalConfig, dense_search, retrieve
from rag.store import build_index
from rag.stores import STORES, Store, store_class
from rag.stores.faiss import FaissStore
from rag.stores.milvus import MilvusStore
from rag.types import Document
from rag.uploads import Upload
from tests.conftest import DATA, FakeEmbedder

pytest_plugins = ["tests.milvus_fixtures"]

FERRY = Document(
    "ferry",
    "Ferry timetable",
    "Ferry timetable\nThe Quillmoor ferry leaves the harbour at six every day.",
    "f1",
    metadata={"source": "port"},
)
CANAL = Document(
    "canal", "Canal notes", "Canal notes\nThe Brackwater canal freezes in January and reopens in March.", "c1", metadata={"source": "city"}
)


@pytest.fixture(params=sorted(STORES))
def kind(request) -> str:
    return request.param


@pytest.fixture
def stores(kind, tmp_path, request):
    """A function giving a store, the same one each call (a new instance: another process's view)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    made: list[Store] = []

    def make() -> Store:
        if kind == "faiss":
            s: Store = FaissStore(tmp_path / "idx")
        else:
            server = request.getfixturevalue("milvus_server")
            s = MilvusStore(server.uri, name, index="FLAT")
        made.append(s)
        return s

    yield make
    for s in made:
        if isinstance(s, MilvusStore) and s._table is not None:
            s.table.drop()
            s.table.close()
            break


def _docs() -> list[Document]:
    return load_corpus(DATA) + [FERRY, CANAL]


def _build(store: Store, docs=None, **kw):
    emb = FakeEmbedder()
    report = build_index(docs if docs is not None else _docs(), emb, store, **kw)
    return report, store.load(model_id=emb.model_id, fingerprint=emb.fingerprint)


def test_the_registry_names_both_stores():
    assert store_class("faiss") is FaissStore and store_class("milvus") is MilvusStore
    with pytest.raises(ValueError, match="faiss, milvus"):
        store_class("qdrant")


def test_search_is_best_first_and_exact(stores):
    _, idx = _build(stores())
    emb = FakeEmbedder()
    for kind in ("chunk", "candidate"):
        n = idx.vectors.count(kind)
        assert n == len(idx.chunks if kind == "chunk" else idx.candidates)
        every = idx.vectors.get(kind, list(range(n)))
        for q in ("annual budget of Sudmark", "ferry harbour", "helicopters"):
            qv = emb.embed_query(q)
            got = idx.vectors.search(kind, qv, 4)
            exact = np.sort(every @ qv)[::-1][:4]
            assert [s for _, s in got] == pytest.approx(list(exact), abs=1e-5)
            assert all(every[r] @ qv == pytest.approx(s, abs=1e-5) for r, s in got)  # a row's score is its own


def test_vectors_are_the_embedders(stores):
    _, idx = _build(stores())
    emb = FakeEmbedder()
    rows = [0, len(idx.chunks) - 1]
    assert np.allclose(idx.vectors.get("chunk", rows), emb.embed_batch([idx.chunks[r].index_text for r in rows]), atol=1e-6)
    assert np.allclose(idx.vectors.get("candidate", [2]), emb.embed_batch([idx.candidates[2].render]), atol=1e-6)


def test_filters_by_rows_documents_and_metadata(stores):
    _, idx = _build(stores())
    qv = FakeEmbedder().embed_query("the harbour and the canal")
    port = matching_documents(idx.documents, {"source": "port"})
    assert port == {"ferry"}
    for docs in ({"ferry"}, {"ferry", "canal"}, {"alpha"}, port):
        within = idx.within(frozenset(docs))
        for kind in ("chunk", "candidate"):
            got = idx.vectors.search(kind, qv, 50, within)
            rows = idx.chunks if kind == "chunk" else idx.candidates
            assert got and {rows[r].doc_id for r, _ in got} <= docs
            assert len(got) == sum(1 for x in rows if x.doc_id in docs)  # every row of them, k being larger
        assert set(dense_search(idx, qv, 50, within)) <= set(within.chunk_rows)
    assert idx.vectors.search("chunk", qv, 5, idx.within(frozenset())) == []
    hits = retrieve(idx, qv, "the harbour", 5, docs=frozenset({"canal"}))
    assert hits and {h.chunk.doc_id for h in hits} == {"canal"}
    assert idx.documents["ferry"].metadata == {"source": "port"}


def test_a_changed_document_replaces_its_rows_and_only_it_is_embedded(stores):
    store = stores()
    _, before = _build(store)
    ferry2 = replace(FERRY, text="Ferry timetable\nThe Quillmoor ferry now leaves at seven.\nA second boat sails at noon.", sha256="f2")
    docs = [d if d.id != "ferry" else ferry2 for d in _docs()] + [
        Document("dam", "Dam", "Dam\nThe Orrin dam holds the spring floods.", "d1")
    ]
    emb = FakeEmbedder()
    report = build_index(docs, emb, store, previous=before)
    after = stores().load()
    assert report.changed == ("ferry",) and report.added == ("dam",) and set(report.unchanged) == {"alpha", "beta", "canal"}
    assert report.embedded_texts == sum(1 for c in after.chunks if c.doc_id in ("ferry", "dam")) + sum(
        1 for c in after.candidates if c.doc_id in ("ferry", "dam")
    )
    assert after.documents["ferry"].text == ferry2.text and list(after.documents) == [d.id for d in docs]
    texts = [c.text for c in after.chunks if c.doc_id == "ferry"]
    assert any("seven" in t for t in texts) and not any("six every day" in t for t in texts)
    assert after.vectors.count("chunk") == len(after.chunks) and after.vectors.count("candidate") == len(after.candidates)
    qv = emb.embed_query("six every day")
    for kind in ("chunk", "candidate"):  # nothing of the old version is found, by its words or its vector
        rows = after.chunks if kind == "chunk" else after.candidates
        assert all("six every day" not in rows[r].text for r, _ in after.vectors.search(kind, qv, 50))
    if isinstance(store, MilvusStore):  # no stale row left in the collection
        for kind in ("chunk", "candidate"):
            assert store.table.count(kind) == len(after.chunks if kind == "chunk" else after.candidates)


def test_a_removed_document_is_gone(stores):
    store = stores()
    _, before = _build(store)
    report = build_index([d for d in _docs() if d.id != "canal"], FakeEmbedder(), store, previous=before)
    after = stores().load()
    assert report.removed == ("canal",) and "canal" not in after.documents and "canal" not in after.manifest["documents"]
    assert all(c.doc_id != "canal" for c in after.chunks + after.candidates)
    qv = FakeEmbedder().embed_query("Brackwater canal freezes")
    assert all(after.chunks[r].doc_id != "canal" for r, _ in after.vectors.search("chunk", qv, 50))
    assert after.vectors.search("chunk", qv, 5, after.within(frozenset({"canal"}))) == []


def test_the_index_survives_a_restart(stores, kind, request):
    _, before = _build(stores())
    qv = FakeEmbedder().embed_query("annual budget of Sudmark")
    if kind == "milvus":
        request.getfixturevalue("milvus_server").restart()
    again = stores().load(model_id="fake-bow")
    assert again.manifest["documents"] == before.manifest["documents"]
    assert [c.id for c in again.chunks] == [c.id for c in before.chunks]
    assert [c.text for c in again.candidates] == [c.text for c in before.candidates]
    assert {d: x.source_text for d, x in again.documents.items()} == {d: x.source_text for d, x in before.documents.items()}
    found, was = again.vectors.search("chunk", qv, 3), before.vectors.search("chunk", qv, 3)
    assert [r for r, _ in found] == [r for r, _ in was] and [s for _, s in found] == pytest.approx([s for _, s in was])
    assert again.names == before.names


def test_another_model_or_chunker_is_refused_and_rebuilt(stores, tmp_path):
    store = stores()
    _build(store)
    with pytest.raises(IndexMismatchError, match="model"):
        store.load(model_id="another-model")
    with pytest.raises(IndexMismatchError, match="different weights"):
        store.load(fingerprint="other-weights")
    with pytest.raises(IndexMismatchError, match="chunker"):
        store.load(chunker=ChunkerConfig(max_tokens=100))

    class OtherWeights(FakeEmbedder):
        fingerprint = "other-weights"

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for d in load_corpus(DATA):
        (corpus / f"{d.id}.txt").write_text(d.text)
    said: list[str] = []
    idx, report = open_index(corpus, stores(), OtherWeights(), notify=said.append)
    assert report is not None and report.rebuilt_because == "index was built with different weights of this model"
    assert report.unchanged == () and idx.manifest["model_fingerprint"] == "other-weights"
    assert set(idx.documents) == {"alpha", "beta"} and any("embedded again" in s for s in said)
    _, none = open_index(corpus, stores(), OtherWeights())
    assert none is None  # current: loaded, nothing embedded


def test_no_index_is_not_found(stores):
    store = stores()
    assert not store.exists()
    with pytest.raises(IndexNotFoundError):
        store.load()
    _build(store)
    assert stores().exists()


def test_writes_over_the_api_are_kept_and_seen_by_another_reader(stores, tmp_path):
    store = stores()
    _, idx = _build(store, docs=load_corpus(DATA))
    live = LiveIndex(idx, FakeEmbedder(), store, tmp_path / "uploads")
    live.add([Upload("ferry.txt", FERRY.text.encode(), metadata={"source": "port"})])
    live.add([Upload("ferry.txt", b"Ferry timetable\nThe ferry leaves at seven.")], replace=True)
    live.add([Upload("canal.txt", CANAL.text.encode())])
    live.delete("canal")
    other = stores()
    seen = other.refresh(idx)  # another process that read the index before the writes
    assert set(seen.documents) == {"alpha", "beta", "ferry"} and seen.documents["ferry"].text.endswith("at seven.")
    assert [c.id for c in seen.chunks] == [c.id for c in live.index.chunks]
    gen = other.generation()
    assert gen is None or gen == live.index.generation == idx.generation + 4
    # the corpus folder again (a restart, `rag index`): the written document stays, nothing is embedded
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for f in DATA.iterdir():
        (corpus / f.name).write_bytes(f.read_bytes())
    again, report = open_index(corpus, stores(), FakeEmbedder(), uploads=tmp_path / "uploads")
    assert report is None and set(again.documents) == {"alpha", "beta", "ferry"}
    if isinstance(store, MilvusStore):
        assert not (tmp_path / "uploads").exists() or not any((tmp_path / "uploads").iterdir())  # nothing local


def test_milvus_rows_hold_the_passages(milvus_server):
    """An API process needs nothing local: each passage's text, offsets, document, section and the
    document's metadata are fields of its Milvus row, readable by any client."""
    store = MilvusStore(milvus_server.uri, f"t_{uuid.uuid4().hex[:12]}", index="FLAT")
    try:
        _, idx = _build(store)
        t = store.table
        raw = t.client.query(
            t.name,
            filter='doc_id == "ferry"',
            output_fields=["kind", "doc_id", "text", "section", "start", "end", "metadata"],
            consistency_level="Strong",
        )
        ferry = idx.documents["ferry"].text
        want = [c for c in idx.chunks if c.doc_id == "ferry"] + [c for c in idx.candidates if c.doc_id == "ferry"]
        assert len(raw) == len(want) and {r["kind"] for r in raw} == {"chunk", "candidate"}
        for r in raw:
            assert r["text"] == ferry[r["start"] : r["end"]] and r["metadata"] == {"source": "port"}
        chunk_rows = {r["id"]: r for r in raw if r["kind"] == "chunk"}
        assert {c.id: (c.section, c.start, c.end) for c in idx.chunks if c.doc_id == "ferry"} == {
            i: (r["section"], r["start"], r["end"]) for i, r in chunk_rows.items()
        }
    finally:
        store.table.drop()
        store.table.close()


def test_both_stores_retrieve_alike(tmp_path, milvus_server):
    """The same documents and questions through FAISS and Milvus (FLAT): the same passages, in order."""
    emb = FakeEmbedder()
    docs = _docs()
    faiss_store = FaissStore(tmp_path / "idx")
    milvus = MilvusStore(milvus_server.uri, f"t_{uuid.uuid4().hex[:12]}", index="FLAT")
    try:
        a, b = (build_index(docs, emb, s) and s.load() for s in (faiss_store, milvus))
        assert [c.id for c in a.chunks] == [c.id for c in b.chunks] and list(a.documents) == list(b.documents)
        for q in ("annual budget of Sudmark", "Crews train together twice a year", "When does the ferry leave?", "helicopters"):
            for mode in ("hybrid", "dense", "bm25"):
                ra = retrieve(a, emb.embed_query(q), q, 4, RetrievalConfig(mode=mode))
                rb = retrieve(b, emb.embed_query(q), q, 4, RetrievalConfig(mode=mode))
                assert [(h.chunk.id, round(h.score, 5)) for h in ra] == [(h.chunk.id, round(h.score, 5)) for h in rb], (q, mode)
    finally:
        milvus.table.drop()
        milvus.table.close()
