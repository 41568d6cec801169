"""The trained reader: a MiniLM cross-encoder scoring "does this sentence answer this question?".

Fine-tuned from the bundled all-MiniLM-L6-v2 on SQuAD (``train/reader.py``), exported to ONNX int8
under ``models/reader/``. Loaded once, explicitly; runs on onnxruntime with a fixed thread count.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def with_context(heading: str, text: str, words: int) -> str:
    """What a context-trained reader reads: the first ``words`` words of the passage's heading, then
    the candidate. The same function builds its training pairs (``train/reader_data.py``)."""
    head = " ".join(heading.split()[:words])
    return f"{head}: {text}" if head and words > 0 else text


class Reader:
    def __init__(self, path: str | Path, threads: int = 1):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        p = Path(path)
        info = json.loads((p / "training.json").read_text()) if (p / "training.json").exists() else {}
        self.max_len = int(info.get("max_len", 128))
        self.tok = Tokenizer.from_file(str(p / "tokenizer.json"))
        self.tok.enable_truncation(max_length=self.max_len, strategy="only_second")
        self.tok.no_padding()  # the file pads to 128; score() reads one unpadded pair at a time
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, threads)
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(p / "reader.int8.onnx"), opts, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.info = info
        # Readers trained with a heading before each sentence (``train/reader.py --context-words``).
        self.context_words = int(info.get("context_words", 0))
        # Readers trained with the previous sentence's first words before each sentence (``--previous-words``).
        self.previous_words = int(info.get("previous_words", 0))

    def score(self, question: str, texts: list[str]) -> np.ndarray:
        """Logits, one per text: higher means the text answers the question."""
        if not texts:
            return np.zeros(0, np.float32)
        # One pair per run, tokenized on this thread. The int8 graph quantizes activations with one
        # scale per tensor, so in a batch a pair's logit moved with its neighbours and their padding
        # (by up to 0.26); alone it is the same whatever else is read, and as fast (3.0 vs 3.0 ms a pair).
        out = np.empty(len(texts), np.float32)
        for i, t in enumerate(texts):
            e = self.tok.encode(question, t)
            feed = {"input_ids": np.array([e.ids], dtype=np.int64), "attention_mask": np.ones((1, len(e.ids)), dtype=np.int64),
                    "token_type_ids": np.array([e.type_ids], dtype=np.int64)}
            out[i] = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0].reshape(-1)[0]
        return out


def load_reader(path: str | Path, threads: int = 1) -> Reader | None:
    """The reader at ``path``, or None when it is not installed (answers then use the selector alone)."""
    p = Path(path)
    if not (p / "reader.int8.onnx").exists():
        return None
    return Reader(p, threads)
