"""Candidate vectors pooled from their chunk's encoder pass: where a candidate is in its chunk, the
pooling itself, and an index built that way (one encoder pass per chunk, recorded in the manifest)."""

from __future__ import annotations

import numpy as np
import pytest

from rag.chunking import ChunkerConfig, render_spans
from rag.corpus import load_corpus
from rag.indexing import open_index
from rag.model_files import pool_spans
from rag.store import build_index, load_index
from tests.conftest import FakeEmbedder


def test_a_render_is_found_in_its_chunk_as_one_range_or_two():
    text = "Title — Section\nKey steps include:\nPlan the route.\nCheck the weather."
    at = text.index("Plan the route.")
    assert render_spans(text, "Plan the route.") == ((at, at + 15),)
    # a list item is rendered with its lead-in, which the chunk has on the line above
    lead, item = text.index("Key steps include:"), text.index("Check the weather.")
    assert render_spans(text, "Key steps include: Check the weather.") == ((lead, lead + 18), (item, item + 18))
    assert render_spans(text, "Nothing of the kind.") is None


def test_a_repeated_render_is_found_after_the_previous_candidate():
    text = "T\nYes. No. Yes."
    first = render_spans(text, "Yes.")
    assert first == ((2, 6),)
    assert render_spans(text, "Yes.", first[-1][1]) == ((11, 15),)


def test_pooling_averages_the_ordinary_tokens_inside_the_ranges():
    hidden = np.array([[9.0, 9.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [9.0, 9.0]], np.float32)
    offsets = [(0, 0), (0, 3), (4, 7), (8, 11), (0, 0)]
    special = [1, 0, 0, 0, 1]
    out = pool_spans(hidden, offsets, special, [((0, 7),), ((4, 5), (8, 9)), ((20, 30),)])
    np.testing.assert_allclose(out[0], np.array([0.5, 0.5]) / np.linalg.norm([0.5, 0.5]), rtol=1e-6)
    np.testing.assert_allclose(out[1], np.array([0.5, 1.0]) / np.linalg.norm([0.5, 1.0]), rtol=1e-6)
    assert np.isnan(out[2]).all()  # no token there: the caller encodes that one on its own


class SpanEmbedder(FakeEmbedder):
    """The bag-of-words fake, pooling a span as the bag of its own words (so a pooled vector is checkable)."""

    def __init__(self) -> None:
        super().__init__()
        self.passes: list[str] = []

    def embed_with_spans(self, texts, spans):
        self.passes += texts
        parts = [
            np.vstack([self._vec(" ".join(t[s:e] for s, e in g)) for g in gs]) if gs else np.zeros((0, self.dim))
            for t, gs in zip(texts, spans)
        ]
        return self.embed_batch(texts), parts


def test_a_pooled_index_encodes_each_chunk_once(small_corpus, tmp_path):
    emb = SpanEmbedder()
    docs = load_corpus(small_corpus)
    report = build_index(docs, emb, tmp_path / "idx", chunker=ChunkerConfig(candidate_vectors="pooled"))
    idx = load_index(tmp_path / "idx", chunker=ChunkerConfig(candidate_vectors="pooled"))
    alone = [c for c in idx.candidates if render_spans(idx.chunks[idx.chunk_row[c.chunk_id]].index_text, c.render) is None]
    assert report.embedded_texts == len(idx.chunks) + len(alone) < len(idx.chunks) + len(idx.candidates)
    assert sorted(emb.passes) == sorted(c.index_text for c in idx.chunks)
    assert idx.manifest["chunker"]["candidate_vectors"] == "pooled"
    for j, c in enumerate(idx.candidates):
        np.testing.assert_allclose(idx.vectors.get("candidate", [j])[0], emb._vec(c.render), atol=1e-6)


def test_an_index_of_the_other_kind_is_rebuilt(small_corpus, tmp_path):
    emb = SpanEmbedder()
    open_index(small_corpus, tmp_path / "idx", emb, ChunkerConfig(candidate_vectors="separate"))
    _, report = open_index(small_corpus, tmp_path / "idx", emb, ChunkerConfig(candidate_vectors="pooled"))
    assert report is not None and "candidate_vectors=separate (now candidate_vectors=pooled)" in report.rebuilt_because
    _, same = open_index(small_corpus, tmp_path / "idx", emb, ChunkerConfig(candidate_vectors="pooled"))
    assert same is None


def test_an_index_from_before_the_setting_counts_as_separate(small_corpus, tmp_path):
    import json

    emb = FakeEmbedder()
    open_index(small_corpus, tmp_path / "idx", emb)
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    del manifest["chunker"]["candidate_vectors"]
    (tmp_path / "idx" / "manifest.json").write_text(json.dumps(manifest))
    _, report = open_index(small_corpus, tmp_path / "idx", emb, ChunkerConfig(candidate_vectors="separate"))
    assert report is None  # loaded as it is


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="candidate_vectors"):
        ChunkerConfig(candidate_vectors="averaged")


@pytest.mark.slow
def test_onnx_pools_from_the_same_pass(embedder):
    texts = ["Belgium — Focus Area\nBelgium will focus on cyber defence. Poland will host the exercise.", "Short one."]
    a, b = texts[0].index("Belgium will"), texts[0].index("Poland")
    spans = [[((a, b - 1),), ((b, len(texts[0])),)], []]
    vecs, parts = embedder.embed_with_spans(texts, spans)
    np.testing.assert_allclose(vecs, embedder.embed_batch(texts), atol=1e-5)
    assert parts[0].shape == (2, embedder.dim) and parts[1].shape == (0, embedder.dim)
    np.testing.assert_allclose(np.linalg.norm(parts[0], axis=1), 1.0, rtol=1e-5)
    alone = embedder.embed_batch([texts[0][a : b - 1], texts[0][b:]])
    # in context, not alone: close to the sentence's own vector, not equal to it
    assert ((parts[0] * alone).sum(1) > 0.6).all()


@pytest.mark.slow
def test_both_backends_pool_alike():
    from rag.embedding import load_embedder
    from rag.torch_embedding import SentenceTransformerEmbedder

    embedder = load_embedder(backend="onnx-mixed8", document_weights="fp32")  # the same weights as torch's

    texts = ["Belgium — Focus Area\nBelgium will focus on cyber defence. Poland will host the exercise."]
    b = texts[0].index("Poland")
    spans = [[((b, len(texts[0])),)]]
    v1, p1 = embedder.embed_with_spans(texts, spans)
    v2, p2 = SentenceTransformerEmbedder().embed_with_spans(texts, spans)
    assert float(v1[0] @ v2[0]) > 0.999 and float(p1[0][0] @ p2[0][0]) > 0.999
