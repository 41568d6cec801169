import pytest

from rag.corpus import load_corpus
from rag.errors import EmptyQueryError
from rag.retrieval import RetrievalConfig, convex_fuse, dedupe, retrieve, rrf_fuse
from rag.store import build_index, load_index
from rag.types import Chunk, Hit


def test_rrf_by_hand():
    fused = rrf_fuse([[1, 2, 3], [3, 1]], [1.0, 1.0], k=60)
    assert fused[1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[3] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[2] == pytest.approx(1 / 62)
    assert rrf_fuse([[1], [2]], [2.0, 1.0], k=0) == {1: 2.0, 2: 1.0}


def test_convex_normalises_each_ranking():
    fused = convex_fuse([{1: 0.9, 2: 0.5}, {2: 10.0, 3: 4.0}], [1.0, 1.0])
    assert fused == {1: pytest.approx(1.0), 2: pytest.approx(1.0), 3: pytest.approx(0.0)}


def _hit(doc, s, e, rank):
    return Hit(Chunk(f"{doc}@{s}:{e}", doc, "t", "", "text", s, e, "", ""), 1.0 / rank, rank)


def test_dedupe_drops_overlaps_from_the_same_place():
    hits = [_hit("a", 0, 100, 1), _hit("a", 50, 150, 2), _hit("b", 50, 150, 3), _hit("a", 100, 200, 4)]
    assert [h.chunk.id for h in dedupe(hits)] == ["a@0:100", "b@50:150", "a@100:200"]


def test_modes_and_errors(small_corpus, fake_embedder, tmp_path):
    build_index(load_corpus(small_corpus), fake_embedder, tmp_path / "idx")
    idx = load_index(tmp_path / "idx")
    q = "annual budget of Sudmark"
    for mode in ("hybrid", "dense", "bm25"):
        hits = retrieve(idx, fake_embedder.embed_query(q), q, 3, RetrievalConfig(mode=mode))
        assert hits and hits[0].chunk.kind == "table", mode
        assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    with pytest.raises(EmptyQueryError):
        retrieve(idx, None, "   ", 3)
    with pytest.raises(ValueError):
        RetrievalConfig(mode="magic")


def test_sentence_ranking_is_a_third_fused_ranking(small_corpus, fake_embedder, tmp_path):
    from rag.retrieval import sentence_search

    build_index(load_corpus(small_corpus), fake_embedder, tmp_path / "idx")
    idx = load_index(tmp_path / "idx")
    q = "Crews train together twice a year"
    ranked = sentence_search(idx, fake_embedder.embed_query(q), 5)
    best_row = max(ranked, key=ranked.get)
    assert idx.chunks[best_row].kind == "list"
    hits = retrieve(idx, fake_embedder.embed_query(q), q, 3, RetrievalConfig(sentence_weight=1.0))
    assert hits[0].chunk.kind == "list"
