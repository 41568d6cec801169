"""One typed settings object, read from ``RAG_*`` environment variables at the edges (CLI, API)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.embedding import DEFAULT_MODEL


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    corpus: Path = Path("corpus")
    index: Path = Path("index")
    model: str = Field(DEFAULT_MODEL, description="a local sentence-transformers folder or an installed model package")
    # ONNX Runtime: same vectors as torch (cosine 1.0000), ~2.6x faster per query; exported once on first use.
    # Documents are always encoded in fp32, so the index is the same whichever is chosen; for questions:
    # onnx-mixed8: int8 but for the feed-forward outputs: cosine 0.997 to fp32, 2x faster, same answers (README);
    # onnx-int8: all int8, 3x faster, cosine 0.994 and measurably worse answers.
    backend: Literal["torch", "onnx", "onnx-mixed8", "onnx-int8"] = "onnx-mixed8"
    query_prefix: str = ""
    threads: int = Field(1, ge=1, description="intra-op threads per query (encoder and FAISS)")
    top_k: int = Field(5, ge=1, le=50)
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    fusion: Literal["rrf", "convex"] = "convex"
    rrf_k: int = Field(60, ge=1)
    dense_weight: float = Field(1.0, ge=0)
    bm25_weight: float = Field(1.0, ge=0)
    sentence_weight: float = Field(0.5, ge=0)
    depth: int = Field(50, ge=1)
    # Calibrated on eval/questions.jsonl for at most 5% false abstention (see README); None uses the
    # threshold the answer model chose on the SQuAD 2.0 calibration articles.
    min_confidence: float | None = Field(0.06, ge=0, le=1, description="abstain below this confidence")
    reader_min_confidence: float | None = Field(0.08, ge=0, le=1, description="the same, when the reader is on")
    reader: Path = Field(Path(__file__).resolve().parent.parent / "models" / "reader",
                         description="trained cross-encoder reader folder; answers use the selector alone when absent")
    use_reader: bool = True
    # The reader re-scores the selector's best N candidates (~3 ms each). 2 measured as good as 5 on
    # our questions and on SQuAD (README), at 40% of the cost.
    rerank: int = Field(2, ge=1, le=20)
    # ... skipping those the selector puts more than this many logits behind its best: the reader
    # almost never overturns such a lead (1 of 458 SQuAD 2.0 calibration picks), and each read is ~4 ms.
    rerank_margin: float = Field(1.0, ge=0)
    # Reader sessions that read a question's candidates side by side (one core each); 1 reads them
    # one after another. The logits are the same either way.
    reader_parallel: int = Field(2, ge=1, le=8, description="reader sessions run side by side")
    # ... and the candidate closest to the question in embedding space, which the selector's
    # word-overlap features rank low when the question paraphrases. Off: on our four question sets
    # together it answered 2 more of 229 right, on held-out 3 two fewer, and it costs ~0.8 ms (README).
    rerank_dense: bool = False
    # A second look when the first reading is unsure (below rerank_more_below): the selector's next 2
    # candidates within rerank_more_margin logits. Measured (session 17): SQuAD 2.0 calibration answers
    # 0.768 -> 0.775, one false abstention more; our eleven sets +2 answers, none lost; p50 +~1 ms, p95 +~8 ms.
    rerank_more: int = Field(2, ge=0, le=20)
    rerank_more_margin: float = Field(2.0, ge=0)
    rerank_more_below: float = Field(0.5, ge=0, le=1)
    answer_model: Path = Field(Path(__file__).resolve().parent.parent / "models" / "answer_model.json",
                               description="trained selector/verifier; the hand-set fallback is used when absent")
    tables: bool = True
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # HTTP server processes, each with its own copy of the model and index: for machines with more
    # cores. On this 2-core one a second worker measured the same throughput (101 vs 102 requests/s).
    workers: int = Field(1, ge=1, le=64)

    def retrieval(self):
        from rag.retrieval import RetrievalConfig

        return RetrievalConfig(mode=self.mode, fusion=self.fusion, depth=self.depth, rrf_k=self.rrf_k,
                               dense_weight=self.dense_weight, bm25_weight=self.bm25_weight,
                               sentence_weight=self.sentence_weight)

    def answering(self):
        from rag.answer import AnswerConfig, load_answer_model
        from rag.reader import load_reader

        reader = load_reader(self.reader, self.threads, self.reader_parallel) if self.use_reader else None
        threshold = self.reader_min_confidence if reader is not None else self.min_confidence
        return AnswerConfig(min_confidence=threshold, model=load_answer_model(self.answer_model), reader=reader, rerank=self.rerank,
                            rerank_margin=self.rerank_margin, rerank_dense=self.rerank_dense,
                            rerank_more=self.rerank_more, rerank_more_margin=self.rerank_more_margin,
                            rerank_more_below=self.rerank_more_below)

    def chunker(self):
        from rag.chunking import ChunkerConfig

        return ChunkerConfig(tables=self.tables)
