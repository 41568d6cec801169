"""ONNX Runtime backend for the embedder: the fast query path.

The transformer of the bundled sentence-transformers model is exported once with ``torch.onnx.export``
(TorchScript exporter, ``dynamo=False``: the dynamo exporter needs onnxscript, which is not installed)
to ``$RAG_ONNX_CACHE/<fingerprint>/model.onnx`` (default ``~/.cache/rag/onnx``). The graph maps
``input_ids, attention_mask, token_type_ids`` to ``last_hidden_state`` with dynamic batch and sequence
axes; mean pooling and L2 normalisation happen in numpy, exactly as the sentence-transformers modules
``Pooling(mean)`` + ``Normalize`` do. Quantized variants (``QUANT_FILES``: dynamic per-channel int8,
all of it or all but the feed-forward outputs) are cached next to the fp32 model; by default only
questions use one, so documents, and the index, stay fp32.

Two sessions: the query session runs on ``query_threads`` threads (one by default: a single short
query gains nothing from more, and a busy neighbour makes it much slower); the indexing session used
by ``embed_batch`` runs on every core. Nothing touches the network.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path

import numpy as np

from rag.errors import ModelNotFoundError
from rag.model_files import DEFAULT_MODEL, QueryCache, Spans, Tokens, model_fingerprint, pool_spans, resolve_model_path

OPSET = 17
_export_lock = threading.Lock()


def onnx_cache_dir() -> Path:
    return Path(os.environ.get("RAG_ONNX_CACHE") or Path.home() / ".cache" / "rag" / "onnx").expanduser()


def _atomic_target(target: Path, write) -> Path:
    """Call ``write(tmp_path)`` for a temporary file in ``target``'s folder, then rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


# Question-encoder weight formats besides fp32, each cached next to the fp32 export (measured on our
# and SQuAD questions, one thread): "mixed8", dynamic int8 except the feed-forward output products:
# cosine 0.997 to fp32, 2.6 ms vs 5.2 ms, the same answers on our sets and SQuAD; "int8", all products:
# cosine 0.994, 1.7 ms, measurably worse answers (README). An 8-bit block-quantized variant
# (MatMulNBits, cosine 0.9997) took 3.8 ms: no better answers for more time.
QUANT_FILES = {"int8": "model.int8.onnx", "mixed8": "model.mixed8.onnx"}


def export_onnx(path: Path, fingerprint: str, quantized: bool | str = False) -> Path:
    """The cached ONNX file for the model at ``path``; export (and quantize) it on first use.
    ``quantized``: False (fp32), True or "int8", or "mixed8"."""
    quant = "int8" if quantized is True else quantized or None
    if quant is not None and quant not in QUANT_FILES:
        raise ValueError(f"unknown weight format {quant!r} (expected one of {sorted(QUANT_FILES)})")
    folder = onnx_cache_dir() / fingerprint
    fp32 = folder / "model.onnx"
    with _export_lock:
        if not fp32.exists():
            _atomic_target(fp32, lambda tmp: _export_transformer(path, tmp))
            (folder / "source.json").write_text(json.dumps({"model_path": str(path), "fingerprint": fingerprint, "opset": OPSET}))
        if quant is None or (quant == "mixed8" and not _feed_forward_outputs(fp32)):
            return fp32  # a model of another architecture: full precision rather than a guess
        target = folder / QUANT_FILES[quant]
        if not target.exists():
            _atomic_target(target, lambda tmp: (_quantize_int8 if quant == "int8" else _quantize_mixed8)(fp32, tmp))
        return target


def _quantize_int8(fp32: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel weights: per-tensor int8 lost too much (mean cosine 0.944 vs fp32 on the test texts; 0.989 per channel).
    quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True)


def _feed_forward_outputs(fp32: Path) -> list[str]:
    import onnx

    graph = onnx.load(str(fp32), load_external_data=False).graph
    return [n.name for n in graph.node if n.op_type == "MatMul" and n.name.endswith("/output/dense/MatMul") and "attention" not in n.name]


def _quantize_mixed8(fp32: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The feed-forward output projection reads the activations with outliers (Bondarenko et al. 2021,
    # "Understanding and overcoming the challenges of efficient transformer quantization"): one int8
    # scale per tensor then flattens all the other values. Those 6 of 36 products stay fp32.
    quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True, nodes_to_exclude=_feed_forward_outputs(fp32))


def _export_transformer(path: Path, out: Path) -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import torch
    from transformers import AutoModel

    # eager attention: the SDPA path's mask handling does not trace into a shape-generic graph.
    model = AutoModel.from_pretrained(str(path), local_files_only=True, attn_implementation="eager")
    model.eval()

    class Wrapper(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    ids = torch.tensor([[101, 7592, 2088, 102, 0], [101, 2023, 2003, 1037, 102]], dtype=torch.long)
    mask = (ids != 0).long()
    types = torch.zeros_like(ids)
    with torch.no_grad():
        torch.onnx.export(
            Wrapper(model),
            (ids, mask, types),
            str(out),
            dynamo=False,
            opset_version=OPSET,
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "token_type_ids": {0: "batch", 1: "sequence"},
                "last_hidden_state": {0: "batch", 1: "sequence"},
            },
            do_constant_folding=True,
        )


def _max_seq_length(path: Path, default: int = 256) -> int:
    f = path / "sentence_bert_config.json"
    if f.exists():
        return int(json.loads(f.read_text()).get("max_seq_length", default))
    return default


def _dim(path: Path) -> int:
    """The output dimension, from the pooling config in either the sentence-transformers < 5 format
    (``word_embedding_dimension``, ``pooling_mode_mean_tokens``) or the one it writes since
    (``embedding_dimension``, ``pooling_mode: "mean"``)."""
    pooling = path / "1_Pooling" / "config.json"
    if pooling.exists():
        cfg = json.loads(pooling.read_text())
        mode = cfg.get("pooling_mode")
        old_modes = (
            "pooling_mode_cls_token",
            "pooling_mode_max_tokens",
            "pooling_mode_mean_sqrt_len_tokens",
            "pooling_mode_weightedmean_tokens",
            "pooling_mode_lasttoken",
        )
        if (mode is not None and mode != "mean") or not cfg.get("pooling_mode_mean_tokens", True) or any(cfg.get(k) for k in old_modes):
            raise ModelNotFoundError(
                f"the ONNX backend only does mean pooling, and {pooling} asks for something else; set RAG_BACKEND=torch for this model"
            )
        dim = cfg.get("word_embedding_dimension", cfg.get("embedding_dimension"))
        if dim is not None:
            return int(dim)
    return int(json.loads((path / "config.json").read_text())["hidden_size"])


class OnnxEmbedder:
    """Same interface as ``SentenceTransformerEmbedder``, on ONNX Runtime (CPU)."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        query_prefix: str = "",
        query_threads: int = 1,
        cache_size: int = 1024,
        quantized: bool = False,
        query_weights: str = "fp32",
        document_weights: str = "fp32",
    ):
        """``quantized``: int8 for everything. ``query_weights``: "fp32", or a quantized format for
        questions ("mixed8", "int8"; see QUANT_FILES). ``document_weights``: the same for documents; an
        index built with other document weights holds other vectors, so they are part of the fingerprint."""
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.path = resolve_model_path(model)
        self.model_id = model
        weights = model_fingerprint(self.path)
        if document_weights != "fp32" and document_weights not in QUANT_FILES:
            raise ValueError(f"unknown document weights {document_weights!r} (expected 'fp32' or one of {', '.join(QUANT_FILES)})")
        self.fingerprint = weights if document_weights == "fp32" or quantized else f"{weights}+documents-{document_weights}"
        self.quantized = quantized
        self.dim = _dim(self.path)
        self.max_seq_length = _max_seq_length(self.path)
        self.query_prefix = query_prefix
        self.query_threads = max(1, query_threads)
        self.onnx_path = export_onnx(self.path, weights, quantized=quantized)
        query_path = self.onnx_path if quantized or query_weights == "fp32" else export_onnx(self.path, weights, quantized=query_weights)
        document_path = (
            self.onnx_path if quantized or document_weights == "fp32" else export_onnx(self.path, weights, quantized=document_weights)
        )

        tok = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        tok.enable_truncation(max_length=self.max_seq_length)
        pad_id = tok.token_to_id("[PAD]")
        tok.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token="[PAD]")  # pads to the longest in the batch
        self._tok = tok
        # Documents are tokenised once, unpadded, to be ordered by their token count and padded per batch.
        self._doc_tok = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        self._doc_tok.enable_truncation(max_length=self.max_seq_length)
        self._doc_tok.no_padding()
        self._tokens = Tokens(self.path)
        self._cache = QueryCache(cache_size)

        def session(threads: int, path: Path = self.onnx_path):
            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])

        self._query_session = session(self.query_threads, query_path)
        # Indexing runs one single-threaded session from one thread per core, each thread on its own
        # batch (a session runs calls side by side and shares its weights). Measured against one
        # session on every core: less CPU for the same texts (no intra-op hand-offs on small matrices),
        # and a busy neighbour holds back one batch, not every one.
        self._batch_threads = os.cpu_count() or 1
        same = self.query_threads == 1 and query_path == document_path
        self._batch_session = self._query_session if same else None
        self._session_factory = lambda threads: session(threads, document_path)
        self._documents_quantized = document_path != self.onnx_path or quantized
        self._input_names = {i.name for i in self._query_session.get_inputs()}

    def _indexing_session(self):
        # Created on first embed_batch: a query-only process never pays for it.
        if self._batch_session is None:
            self._batch_session = self._session_factory(1)
        return self._batch_session

    def count_tokens(self, text: str) -> int:
        return self._tokens.count(text)

    def _encode(self, session, texts: list[str]) -> np.ndarray:
        # One text (a question) is tokenized on this thread: encode_batch hands work to the
        # tokenizers thread pool, which waits for a core when others are busy (0.7 vs 0.1 ms).
        encs = [self._tok.encode(texts[0])] if len(texts) == 1 else self._tok.encode_batch(texts)
        ids = np.array([e.ids for e in encs], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.array([e.type_ids for e in encs], dtype=np.int64)
        return self._mean_pool(session.run(None, feeds)[0], mask)  # token states (n, seq, dim)

    def _batches(self, encs: list, batch_size: int, batch_tokens: int) -> list[np.ndarray]:
        """Rows of ``encs`` in batches, longest first: a batch holds texts of nearly one length (little
        padding), at most ``batch_size`` of them and about ``batch_tokens`` tokens with its padding."""
        order = np.argsort([-len(e.ids) for e in encs], kind="stable")
        out: list[np.ndarray] = []
        s = 0
        while s < len(order):
            width = len(encs[order[s]].ids)  # the longest of the batch: its first
            n = max(1, min(batch_size, batch_tokens // max(width, 1)))
            out.append(order[s : s + n])
            s += n
        return out

    def _run_batch(self, batch: list):
        """Token states (n, seq, dim) and the attention mask of one batch of encodings."""
        width = max(len(e.ids) for e in batch)
        ids = np.zeros((len(batch), width), np.int64)
        mask = np.zeros((len(batch), width), np.int64)
        types = np.zeros((len(batch), width), np.int64)
        for r, e in enumerate(batch):
            ids[r, : len(e.ids)] = e.ids
            mask[r, : len(e.ids)] = 1
            types[r, : len(e.ids)] = e.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = types
        return self._indexing_session().run(None, feeds)[0], mask

    def _map_batches(self, texts: list[str], work, batch_size: int, batch_tokens: int, show_progress: bool = False) -> None:
        """``work(rows, encodings, states, mask)`` for every batch of ``texts``, one thread per core."""
        from concurrent.futures import ThreadPoolExecutor

        self._indexing_session()  # once, before the threads share it
        encs = self._doc_tok.encode_batch(texts)
        if self._documents_quantized:
            # Dynamic int8 takes its scale from the whole batch: batched, a text's vector would move with
            # its neighbours (cosine 0.987), and a document added later would not get the vectors a
            # rebuild gives it. Alone, each text has one vector, and int8 is still faster than fp32 batched.
            batch_size = 1
        batches = self._batches(encs, batch_size, batch_tokens)

        def one(rows: np.ndarray) -> None:
            batch = [encs[i] for i in rows]
            work(rows, batch, *self._run_batch(batch))

        bar = None
        if show_progress:
            try:
                from tqdm import tqdm

                bar = tqdm(total=len(batches), desc="Batches")
            except ImportError:
                pass
        threads = min(self._batch_threads, len(batches))
        with ThreadPoolExecutor(threads, thread_name_prefix="rag-embed") as pool:
            for _ in pool.map(one, batches):
                if bar is not None:
                    bar.update()
        if bar is not None:
            bar.close()

    @staticmethod
    def _mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        m = mask[:, :, None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    def embed_batch(self, texts: list[str], batch_size: int = 64, show_progress: bool = False, batch_tokens: int = 2048) -> np.ndarray:
        out = np.empty((len(texts), self.dim), np.float32)

        def work(rows, _encs, hidden, mask) -> None:
            out[rows] = self._mean_pool(hidden, mask)

        if texts:
            self._map_batches(texts, work, batch_size, batch_tokens, show_progress)
        return out

    def embed_with_spans(
        self, texts: list[str], spans: list[list[Spans]], batch_size: int = 64, batch_tokens: int = 2048
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Each text's vector (as ``embed_batch``), and for each text one vector per group of its character
        ranges, pooled from the token states of the same encoder pass (``pool_spans``): the parts of a text
        cost no pass of their own."""
        out = np.empty((len(texts), self.dim), np.float32)
        parts: list[np.ndarray] = [np.zeros((0, self.dim), np.float32)] * len(texts)

        def work(rows, encs, hidden, mask) -> None:
            out[rows] = self._mean_pool(hidden, mask)
            for r, i in enumerate(rows):
                if spans[i]:
                    parts[i] = pool_spans(hidden[r], encs[r].offsets, encs[r].special_tokens_mask, spans[i])

        if texts:
            self._map_batches(texts, work, batch_size, batch_tokens)
        return out, parts

    def embed_query(self, text: str) -> np.ndarray:
        key = self.query_prefix + text
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        vec = np.ascontiguousarray(self._encode(self._query_session, [key])[0], dtype=np.float32)
        self._cache.put(key, vec)
        return vec
