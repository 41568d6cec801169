"""The trained reader: a MiniLM cross-encoder scoring "does this sentence answer this question?".

Fine-tuned from the bundled all-MiniLM-L6-v2 on SQuAD (``train/reader.py``), exported to ONNX int8
under ``models/reader/``. Loaded once, explicitly; runs on onnxruntime with a fixed thread count.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np


class Reader:
    def __init__(self, path: str | Path, threads: int = 1, parallel: int = 1):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        p = Path(path)
        info = json.loads((p / "training.json").read_text()) if (p / "training.json").exists() else {}
        self.max_len = int(info.get("max_len", 128))
        self.tok = Tokenizer.from_file(str(p / "tokenizer.json"))
        self.tok.enable_truncation(max_length=self.max_len, strategy="only_second")
        self.tok.no_padding()  # the file pads to 128; score() reads one unpadded pair at a time
        self._qtok = Tokenizer.from_file(str(p / "tokenizer.json"))  # measures questions, untruncated
        self._qtok.no_truncation()
        self._qtok.no_padding()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, threads)
        opts.inter_op_num_threads = 1
        # ``parallel`` sessions read a question's pairs side by side, one pair per run each, so every
        # logit is the one it gets alone. Two sessions, not two threads in one: measured 6.2 vs 7.8 ms
        # for two pairs (10.3 one after the other), and no spinning thread pool to fight a busy neighbour.
        self.sessions = [
            ort.InferenceSession(str(p / "reader.int8.onnx"), opts, providers=["CPUExecutionProvider"]) for _ in range(max(1, parallel))
        ]
        self.session = self.sessions[0]
        self._pool = ThreadPoolExecutor(len(self.sessions) - 1, thread_name_prefix="rag-reader") if len(self.sessions) > 1 else None
        # Reads in flight: side by side only when this question is the only one being read. Under load
        # (a server at concurrency 8) every core is already busy with other questions, and handing a
        # pair to another thread only adds a switch (measured: bench/versus_tutorial.py).
        self._active = 0
        self._lock = threading.Lock()
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.info = info

    def _fit_question(self, question: str) -> str:
        """The question cut to leave the sentence at least 16 tokens: truncation takes tokens
        from the sentence only, and a question that fills the window alone cannot be encoded."""
        limit = self.max_len - 3 - 16
        e = self._qtok.encode(question, add_special_tokens=False)
        return question if len(e.ids) <= limit else question[: e.offsets[limit - 1][1]]

    def score(self, question: str, texts: list[str]) -> np.ndarray:
        """Logits, one per text: higher means the text answers the question."""
        if not texts:
            return np.zeros(0, np.float32)
        # One pair per run, tokenized on this thread. The int8 graph quantizes activations with one
        # scale per tensor, so in a batch a pair's logit moved with its neighbours and their padding
        # (by up to 0.26); alone it is the same whatever else is read, and as fast (3.0 vs 3.0 ms a pair).
        question = self._fit_question(question)
        feeds = []
        for t in texts:
            e = self.tok.encode(question, t)
            feed = {
                "input_ids": np.array([e.ids], dtype=np.int64),
                "attention_mask": np.ones((1, len(e.ids)), dtype=np.int64),
                "token_type_ids": np.array([e.type_ids], dtype=np.int64),
            }
            feeds.append({k: v for k, v in feed.items() if k in self.inputs})
        out = np.empty(len(texts), np.float32)
        with self._lock:
            self._active += 1
            alone = self._active == 1
        n = min(len(self.sessions), len(feeds)) if alone else 1

        def run(j: int) -> None:  # session j reads pairs j, j + n, ...
            for i in range(j, len(feeds), n):
                out[i] = self.sessions[j].run(None, feeds[i])[0].reshape(-1)[0]

        try:
            others = [self._pool.submit(run, j) for j in range(1, n)] if self._pool is not None else []
            run(0)
            for f in others:
                f.result()
        finally:
            with self._lock:
                self._active -= 1
        return out


def load_reader(path: str | Path, threads: int = 1, parallel: int = 1) -> Reader | None:
    """The reader at ``path``, or None when it is not installed (answers then use the selector alone)."""
    p = Path(path)
    if not (p / "reader.int8.onnx").exists():
        return None
    return Reader(p, threads, parallel)
