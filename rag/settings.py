"""One typed settings object, read from ``RAG_*`` environment variables at the edges (CLI, API)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.model_files import DEFAULT_MODEL

if TYPE_CHECKING:
    from rag.stores import Store

_MODELS = Path(__file__).resolve().parent.parent / "models"


class Settings(BaseSettings):
    """Every setting, with its default; ``RAG_<NAME>`` in the environment overrides it."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    corpus: Path = Field(Path("corpus"), description="folder of documents, or a JSONL file of {id, title, text}")
    corpus_links: bool = Field(False, description="read symbolic links in the corpus folder that point to files inside it")
    documents: Path = Field(Path("documents"), description="where documents written over the API are kept, as uploaded")
    index: Path = Field(Path("index"), description="where the index is kept (built on first use)")
    vector_store: Literal["faiss", "milvus"] = Field(
        "faiss", description="where the index lives: the RAG_INDEX folder (FAISS), or a Milvus collection that several servers share"
    )
    milvus_uri: str = Field("http://127.0.0.1:19530", description="the Milvus server (with RAG_VECTOR_STORE=milvus)")
    milvus_token: str = Field("", description="its token: user:password or an API key; empty when it needs none")
    milvus_collection: str = Field("rag", description="the collection holding the index (and <name>_documents beside it)")
    milvus_index: Literal["HNSW", "FLAT"] = Field(
        "HNSW", description="vector index of a collection when it is built: HNSW (M 16, ef 128), or exact FLAT"
    )
    model: str = Field(DEFAULT_MODEL, description="embedding model: a local sentence-transformers folder or an installed model package")
    backend: Literal["torch", "onnx", "onnx-mixed8", "onnx-int8"] = Field(
        "onnx-mixed8", description="question encoder: int8 ONNX but for the feed-forward outputs; onnx (fp32), onnx-int8, torch"
    )
    # Part of the index's fingerprint: an index encoded with other document weights is rebuilt.
    document_weights: Literal["fp32", "mixed8", "int8"] = Field(
        "int8", description="weights documents are encoded with when indexing (ONNX backends): fp32, mixed8 or int8 (fastest)"
    )
    query_prefix: str = Field("", description="text put before every question before it is embedded (for models trained with one)")
    threads: int = Field(1, ge=1, description="intra-op threads per query (encoder, reader)")
    query_cache: int = Field(1024, ge=0, description="question vectors kept for questions asked again (0: none)")
    top_k: int = Field(5, ge=1, le=50, description="passages cited per answer when a request does not say")
    mode: Literal["hybrid", "dense", "bm25"] = Field("hybrid", description="retrieval: dense + BM25 + best sentence, or one of them")
    fusion: Literal["rrf", "convex"] = Field(
        "convex", description="how hybrid rankings combine: weighted min-max scores, or reciprocal ranks"
    )
    rrf_k: int = Field(60, ge=1, description="the k of reciprocal rank fusion")
    dense_weight: float = Field(1.0, ge=0, description="weight of the dense ranking in the fusion")
    bm25_weight: float = Field(1.0, ge=0, description="weight of the BM25 ranking")
    sentence_weight: float = Field(0.5, ge=0, description="weight of the ranking of passages by their best sentence")
    depth: int = Field(50, ge=1, description="candidates taken from each ranking before fusion")
    min_confidence: float | None = Field(0.06, ge=0, le=1, description="abstain below this confidence (reader off)")
    reader_min_confidence: float | None = Field(0.08, ge=0, le=1, description="abstain below this confidence (reader on)")
    reader: Path = Field(_MODELS / "reader", description="the cross-encoder reader's folder; the selector answers alone without it")
    use_reader: bool = Field(True, description="re-score the best candidates with the reader")
    rerank: int = Field(2, ge=1, le=20, description="candidates the reader re-scores")
    # The reader almost never overturns a lead of more than a logit, and each read costs ~4 ms.
    rerank_margin: float = Field(1.0, ge=0, description="... only those within this many selector logits of the best")
    reader_parallel: int = Field(2, ge=1, le=8, description="reader sessions reading a question's candidates side by side (one core each)")
    rerank_more: int = Field(2, ge=0, le=20, description="more candidates read when the first reading is unsure (0: never)")
    rerank_more_margin: float = Field(2.0, ge=0, description="... within this many selector logits of the best")
    rerank_more_below: float = Field(0.5, ge=0, le=1, description="... when the best reader probability is below this")
    answer_model: Path = Field(_MODELS / "answer_model.json", description="trained selector and verifiers; hand-set weights without it")
    tables: bool = Field(True, description="table-aware chunking: each row with its header")
    candidate_vectors: Literal["separate", "pooled"] = Field(
        "separate", description="answer candidates' vectors: encoded each on its own, or pooled from their passage's encoding (one pass)"
    )
    admin_keys: str = Field("", description="comma-separated keys that may write documents (and read); none: no key needed")
    read_keys: str = Field("", description="comma-separated keys that may ask, search and read documents")
    keys_file: Path | None = Field(None, description="a file of keys, one per line: 'admin KEY' or 'read KEY' (KEY may be sha256:HEX)")
    large_document_chars: int = Field(
        2_000_000, ge=1, description="a document with more text than this is indexed with a warning naming it"
    )
    refuse_large_documents: bool = Field(False, description="... or left out (a file of the folder) or refused (a write)")
    max_document_bytes: int = Field(20_000_000, ge=1, description="the largest document a write accepts, in bytes")
    host: str = Field("127.0.0.1", description="address rag serve listens on")
    port: int = Field(8000, ge=1, le=65535, description="port rag serve listens on")
    workers: int = Field(1, ge=1, le=64, description="server processes, each with its own model and index (for machines with more cores)")
    # A browser on this machine can be pointed at a hostile name that resolves to 127.0.0.1 (DNS
    # rebinding): only a Host header naming this server lets a request through.
    allowed_hosts: str = Field(
        "localhost,127.0.0.1,[::1]",
        description="comma-separated names requests may be addressed to (Host header); RAG_HOST is added unless a wildcard; * allows any",
    )
    cors_origins: str = Field("", description="comma-separated origins allowed to call the API from a browser (CORS); empty: none")
    max_in_flight: int = Field(32, ge=1, description="answering requests served at once; more are refused at once with 503 and Retry-After")
    reader_max_in_flight: int = Field(
        16,
        ge=0,
        description="a request that arrives while this many answering requests are in flight is answered without the reader "
        "(half the work, a little less accurate), so that a full server keeps its latency; 0: always read",
    )
    log_questions: bool = Field(False, description="put the question text in the access log (off: questions may be private)")

    def host_names(self) -> list[str]:
        """The Host names a request may carry: the allow-list plus the address served on, unless that is a wildcard."""
        names = [h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip()]
        host = self.host.strip().lower()
        if host and host not in ("0.0.0.0", "::", "[::]", "*"):
            host = f"[{host}]" if ":" in host and not host.startswith("[") else host
            if host not in names:
                names.append(host)
        return names

    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    def retrieval(self):
        from rag.retrieval import RetrievalConfig

        return RetrievalConfig(
            mode=self.mode,
            fusion=self.fusion,
            depth=self.depth,
            rrf_k=self.rrf_k,
            dense_weight=self.dense_weight,
            bm25_weight=self.bm25_weight,
            sentence_weight=self.sentence_weight,
        )

    def embedder(self, cache_size: int | None = None):
        """The embedder these settings name, loaded (the slow part: once per process)."""
        from rag.embedding import load_embedder

        return load_embedder(
            self.model,
            backend=self.backend,
            query_prefix=self.query_prefix,
            query_threads=self.threads,
            cache_size=self.query_cache if cache_size is None else cache_size,
            document_weights=self.document_weights,
        )

    def answering(self):
        from rag.answer import AnswerConfig
        from rag.reader import load_reader
        from rag.scoring import load_answer_model

        reader = load_reader(self.reader, self.threads, self.reader_parallel) if self.use_reader else None
        threshold = self.reader_min_confidence if reader is not None else self.min_confidence
        return AnswerConfig(
            min_confidence=threshold,
            model=load_answer_model(self.answer_model),
            reader=reader,
            rerank=self.rerank,
            rerank_margin=self.rerank_margin,
            rerank_more=self.rerank_more,
            rerank_more_margin=self.rerank_more_margin,
            rerank_more_below=self.rerank_more_below,
        )

    def store(self, index: Path | None = None, collection: str | None = None) -> Store:
        """Where the index lives: the ``index`` folder (default RAG_INDEX), or the Milvus ``collection``."""
        from rag.stores import store_class

        if self.vector_store == "milvus":
            milvus = store_class("milvus")
            return milvus(  # type: ignore[call-arg]
                self.milvus_uri, collection or self.milvus_collection, token=self.milvus_token or None, index=self.milvus_index
            )
        return store_class("faiss")(index or self.index)  # type: ignore[call-arg]

    def chunker(self):
        from rag.chunking import ChunkerConfig

        return ChunkerConfig(tables=self.tables, candidate_vectors=self.candidate_vectors)
