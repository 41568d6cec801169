"""The reference embedding backend: sentence-transformers on torch (CPU)."""

from __future__ import annotations

import os

import numpy as np

from rag.model_files import DEFAULT_MODEL, QueryCache, Spans, Tokens, model_fingerprint, pool_spans, resolve_model_path


class SentenceTransformerEmbedder:
    """The reference backend: sentence-transformers on torch (CPU)."""

    def __init__(self, model: str = DEFAULT_MODEL, query_prefix: str = "", query_threads: int = 1, cache_size: int = 1024):
        os.environ["HF_HUB_OFFLINE"] = "1"  # never reach for the hub, even for a missing file
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        self.path = resolve_model_path(model)
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()  # keep stderr for messages that matter

        self._torch = torch
        self.model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        self.model_id = model
        self.fingerprint = model_fingerprint(self.path)
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(getter() or 0)
        self.max_seq_length = int(self.model.max_seq_length or 0)
        self.query_prefix = query_prefix
        self.query_threads = max(1, query_threads)
        self._tokens = Tokens(self.path)
        self._cache = QueryCache(cache_size)

    def count_tokens(self, text: str) -> int:
        return self._tokens.count(text)

    def embed_batch(self, texts: list[str], batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
        # Indexing is throughput work: use every core, then return to the query setting.
        self._torch.set_num_threads(os.cpu_count() or 1)
        try:
            vecs = self.model.encode(
                texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=show_progress
            )
        finally:
            self._torch.set_num_threads(self.query_threads)
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def embed_with_spans(self, texts: list[str], spans: list[list[Spans]], batch_size: int = 32) -> tuple[np.ndarray, list[np.ndarray]]:
        """As ``OnnxEmbedder.embed_with_spans``: vectors of the texts and of their span groups, one pass."""
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        tok.enable_truncation(max_length=self.max_seq_length)
        tok.no_padding()
        self._torch.set_num_threads(os.cpu_count() or 1)
        try:
            states = self.model.encode(texts, batch_size=batch_size, output_value="token_embeddings", show_progress_bar=False)
        finally:
            self._torch.set_num_threads(self.query_threads)
        out = np.empty((len(texts), self.dim), np.float32)
        parts: list[np.ndarray] = [np.zeros((0, self.dim), np.float32)] * len(texts)
        for i, (text, h) in enumerate(zip(texts, states)):
            hidden = h.float().cpu().numpy()
            v = hidden.mean(axis=0)
            out[i] = v / max(float(np.linalg.norm(v)), 1e-12)
            if spans[i]:
                e = tok.encode(text)
                parts[i] = pool_spans(hidden, e.offsets, e.special_tokens_mask, spans[i])
        return out, parts

    def embed_query(self, text: str) -> np.ndarray:
        key = self.query_prefix + text
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        # One thread per query: with two threads and a busy neighbour, one query took 480 ms, not 8.
        self._torch.set_num_threads(self.query_threads)
        with self._torch.inference_mode():
            vec = self.model.encode([key], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)[0]
        vec = np.ascontiguousarray(vec, dtype=np.float32)
        self._cache.put(key, vec)
        return vec
