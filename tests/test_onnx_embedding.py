"""The ONNX Runtime embedder must give the same vectors as the sentence-transformers reference."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow

LONG = " ".join(
    "The embargo caused an oil crisis, or shock, with many short- and long-term effects on global politics and the economy."
    for _ in range(30)
)  # well over 256 word pieces: both backends must truncate the same way

TEXTS = [
    "hello",
    "What is the capital of France?",
    "Who won Super Bowl 50?",
    "The 1973 oil crisis began in October 1973 when the members of OAPEC proclaimed an oil embargo.",
    LONG,
    LONG[:900],
    "!!! ??? ... ;;; --- (((",
    "e-mail: someone@example.com, URL: https://example.org/a?b=c&d=e#frag",
    "Café crème, naïve façade, Zürich, São Paulo",
    "東京は日本の首都です。",
    "Москва — столица России.",
    "Emoji test 🚀🔥 with text",
    "   leading and trailing spaces   ",
    "Line one\nLine two\tTabbed",
    "Numbers 3.14159, 2,718 and 1e-10; dates 2024-01-31.",
    "A" * 500,
    "x",
    "The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, a region in France.",
    "In 1066, William the Conqueror invaded England; the Battle of Hastings followed.",
    "Multiple     spaces    between     words",
]


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return (a * b).sum(-1)


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("RAG_ONNX_CACHE", str(tmp_path_factory.mktemp("onnx-cache")))
    yield
    mp.undo()


@pytest.fixture(scope="module")
def reference():
    from rag.torch_embedding import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="module")
def onnx(onnx_cache):
    from rag.onnx_embedding import OnnxEmbedder

    return OnnxEmbedder()


def test_interface(onnx, reference):
    from rag.embedding import Embedder

    assert isinstance(onnx, Embedder)
    assert onnx.dim == 384 == reference.dim
    assert onnx.max_seq_length == reference.max_seq_length == 256
    assert onnx.fingerprint == reference.fingerprint
    assert onnx.path == reference.path
    assert onnx.model_id == reference.model_id


def test_export_is_cached_by_fingerprint(onnx):
    from rag.onnx_embedding import onnx_cache_dir

    assert onnx.onnx_path == onnx_cache_dir() / onnx.fingerprint / "model.onnx"
    assert onnx.onnx_path.exists()
    assert not list(onnx.onnx_path.parent.glob("*.tmp"))  # written to a temp file and renamed


def test_embed_batch_matches_reference(onnx, reference):
    a = onnx.embed_batch(TEXTS, batch_size=7)
    b = reference.embed_batch(TEXTS)
    assert a.shape == (len(TEXTS), 384) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    cos = _cos(a, b)
    assert cos.min() >= 0.999, dict(zip(TEXTS, cos))


def test_batching_does_not_change_vectors(onnx):
    one_by_one = np.vstack([onnx.embed_batch([t]) for t in TEXTS])
    batched = onnx.embed_batch(TEXTS, batch_size=32)
    assert _cos(one_by_one, batched).min() >= 0.9999


def test_embed_query_matches_reference(onnx, reference):
    for t in TEXTS:
        q = onnx.embed_query(t)
        assert q.shape == (384,) and q.dtype == np.float32
        assert abs(float(np.linalg.norm(q)) - 1.0) < 1e-5
        assert float(_cos(q, reference.embed_query(t))) >= 0.999, t


def test_query_cache_returns_same_vector(onnx):
    q1 = onnx.embed_query("Which NFL team represented the AFC at Super Bowl 50?")
    q2 = onnx.embed_query("Which NFL team represented the AFC at Super Bowl 50?")
    assert q2 is q1
    np.testing.assert_array_equal(q1, onnx.embed_batch(["Which NFL team represented the AFC at Super Bowl 50?"])[0])


def test_query_prefix_is_applied(onnx_cache):
    from rag.onnx_embedding import OnnxEmbedder

    e = OnnxEmbedder(query_prefix="query: ", cache_size=0)
    np.testing.assert_allclose(e.embed_query("who?"), e.embed_batch(["query: who?"])[0], atol=1e-6)


def test_count_tokens_matches(onnx, reference):
    for t in TEXTS:
        assert onnx.count_tokens(t) == reference.count_tokens(t)
    assert onnx.count_tokens(LONG) > 256


def test_empty_batch(onnx):
    assert onnx.embed_batch([]).shape == (0, 384)


def test_load_embedder_onnx_backend(onnx_cache):
    from rag.embedding import load_embedder
    from rag.onnx_embedding import OnnxEmbedder

    e = load_embedder(backend="onnx", query_threads=1)
    assert isinstance(e, OnnxEmbedder)


def test_int8_variant_is_close(onnx, onnx_cache):
    from rag.onnx_embedding import OnnxEmbedder

    q = OnnxEmbedder(quantized=True)
    assert q.onnx_path.name == "model.int8.onnx"
    cos = _cos(q.embed_batch(TEXTS), onnx.embed_batch(TEXTS))
    assert cos.mean() >= 0.98 and cos.min() >= 0.95, cos


def test_mixed8_is_closer_to_fp32_than_int8(onnx, onnx_cache):
    from rag.onnx_embedding import OnnxEmbedder

    mixed = OnnxEmbedder(query_weights="mixed8")
    int8 = OnnxEmbedder(query_weights="int8")
    assert mixed.onnx_path.name == int8.onnx_path.name == "model.onnx"  # documents: fp32 in both
    ref = np.array([onnx.embed_query(t) for t in TEXTS])
    cos_mixed = _cos(np.array([mixed.embed_query(t) for t in TEXTS]), ref)
    cos_int8 = _cos(np.array([int8.embed_query(t) for t in TEXTS]), ref)
    assert cos_mixed.mean() > cos_int8.mean(), (cos_mixed, cos_int8)
    # int8 kernels differ by CPU: min 0.99+ on the earlier machines, 0.984 on an AVX2 AMD EPYC without VNNI.
    assert cos_mixed.min() >= 0.98, cos_mixed


def test_unknown_weight_format_is_refused(onnx, onnx_cache):
    from rag.onnx_embedding import export_onnx

    with pytest.raises(ValueError, match="unknown weight format"):
        export_onnx(onnx.path, onnx.fingerprint, quantized="int4")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["onnx-mixed8", "onnx-int8"])
def test_quantized_queries_keep_documents_identical(onnx_cache, backend):
    """A quantized backend quantizes only the question encoder: documents (and so the index) stay fp32."""
    from rag.embedding import load_embedder

    fp32 = load_embedder(backend="onnx")
    quant = load_embedder(backend=backend)
    docs = ["Belgium | Enhancement of Rapid Response forces |", "Poland opposes sending troops due to low public support."]
    assert np.allclose(fp32.embed_batch(docs), quant.embed_batch(docs), atol=1e-6)
    for q in ["what is Belgium's focus area?", "Why does Poland oppose sending troops?"]:
        assert float(fp32.embed_query(q) @ quant.embed_query(q)) >= 0.98


@pytest.mark.slow
@pytest.mark.parametrize("weights, floor", [("mixed8", 0.98), ("int8", 0.95)])
def test_quantized_documents_are_close_and_fingerprinted(onnx_cache, weights, floor):
    """Documents encoded with quantized weights: close to fp32, and an index of them is told apart."""
    from rag.embedding import load_embedder

    fp32 = load_embedder(backend="onnx-mixed8")
    quant = load_embedder(backend="onnx-mixed8", document_weights=weights)
    assert quant.fingerprint != fp32.fingerprint and quant.fingerprint.startswith(fp32.fingerprint)
    assert _cos(fp32.embed_batch(TEXTS), quant.embed_batch(TEXTS)).min() >= floor  # what answers lose: the eval sets
    q = "Who won Super Bowl 50?"
    assert np.array_equal(fp32.embed_query(q), quant.embed_query(q))  # questions keep their own weights
    with pytest.raises(ValueError, match="unknown document weights"):
        load_embedder(backend="onnx", document_weights="int4")


def test_fingerprint_tells_same_sized_weights_apart(tmp_path):
    # A model fine-tuned from the bundled one has the same config and weight sizes; it must not be
    # handed the bundled model's cached ONNX export or index.
    from rag.model_files import model_fingerprint

    a, b = tmp_path / "a", tmp_path / "b"
    for folder, byte in ((a, b"\x00"), (b, b"\x01")):
        folder.mkdir()
        (folder / "config.json").write_text('{"hidden_size": 384}')
        (folder / "model.safetensors").write_bytes(byte * 1024)
    assert model_fingerprint(a) != model_fingerprint(b)
    (b / "model.safetensors").write_bytes(b"\x00" * 1024)
    assert model_fingerprint(a) == model_fingerprint(b)


@pytest.mark.parametrize(
    "pooling",
    [
        {"word_embedding_dimension": 384, "pooling_mode_mean_tokens": True},  # sentence-transformers < 5
        {"embedding_dimension": 384, "pooling_mode": "mean"},  # what it saves since (a fine-tuned copy)
    ],
)
def test_dimension_read_from_either_pooling_format(tmp_path, pooling):
    import json

    from rag.onnx_embedding import _dim

    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    assert _dim(tmp_path) == 384


def test_other_pooling_is_a_clear_error(tmp_path):
    import json

    from rag.errors import ModelNotFoundError
    from rag.onnx_embedding import _dim

    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"embedding_dimension": 384, "pooling_mode": "cls"}))
    with pytest.raises(ModelNotFoundError, match="RAG_BACKEND=torch"):
        _dim(tmp_path)
