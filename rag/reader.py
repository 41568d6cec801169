"""The trained reader: a MiniLM cross-encoder scoring "does this sentence answer this question?".

Fine-tuned from the bundled all-MiniLM-L6-v2 on SQuAD (``train/reader.py``), exported to ONNX int8
under ``models/reader/``. Loaded once, explicitly; runs on onnxruntime with a fixed thread count.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


class Reader:
    def __init__(self, path: str | Path, threads: int = 1):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        p = Path(path)
        info = json.loads((p / "training.json").read_text()) if (p / "training.json").exists() else {}
        self.max_len = int(info.get("max_len", 128))
        self.tok = Tokenizer.from_file(str(p / "tokenizer.json"))
        self.tok.enable_truncation(max_length=self.max_len, strategy="only_second")
        self.tok.enable_padding()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, threads)
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(p / "reader.int8.onnx"), opts, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.info = info

    def score(self, question: str, texts: list[str]) -> np.ndarray:
        """Logits, one per text: higher means the text answers the question."""
        if not texts:
            return np.zeros(0, np.float32)
        encs = self.tok.encode_batch([(question, t) for t in texts])
        feed = {
            "input_ids": np.array([e.ids for e in encs], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encs], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encs], dtype=np.int64),
        }
        out = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]
        return out.reshape(-1).astype(np.float32)


def load_reader(path: str | Path, threads: int = 1) -> Reader | None:
    """The reader at ``path``, or None when it is not installed (answers then use the selector alone)."""
    p = Path(path)
    if not (p / "reader.int8.onnx").exists():
        return None
    return Reader(p, threads)
