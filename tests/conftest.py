"""Shared fixtures: a deterministic fake embedder for unit tests, the real model and index for integration."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.text import words

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
DATA = Path(__file__).resolve().parent / "data"


class FakeEmbedder:
    """Hashed bag of words: deterministic, fast, offline; implements the Embedder protocol."""

    model_id = "fake-bow"
    fingerprint = "fake"
    dim = 64
    max_seq_length = 64

    def __init__(self) -> None:
        self.batches: list[int] = []

    def count_tokens(self, text: str) -> int:
        return len(words(text))

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, np.float32)
        for w in words(text):
            v[int(hashlib.md5(w.encode()).hexdigest(), 16) % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        self.batches.append(len(texts))
        return np.vstack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._vec(text)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    dst = tmp_path / "corpus"
    shutil.copytree(DATA, dst)
    return dst


@pytest.fixture(scope="session")
def embedder():
    from rag.settings import Settings

    return Settings().embedder()  # the production path


@pytest.fixture(scope="session")
def real_index(embedder, tmp_path_factory):
    """The real corpus, the real model, real FAISS and BM25: built once per test session."""
    from rag.indexing import open_index

    index, _ = open_index(CORPUS, tmp_path_factory.mktemp("index") / "index", embedder)
    return index


@pytest.fixture(scope="session")
def answering():
    from rag.settings import Settings

    return Settings().answering()
