"""Typed records passed between the stages of the pipeline."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Document:
    """One article (or one JSONL record) of the corpus.

    ``text`` is what is indexed and answered from. For markdown it is a clean view of the file
    (``original``), and ``offsets`` maps each of its characters back into the file, so citations point
    into what the user wrote; for extracted formats (HTML, PDF) ``text`` itself is the document."""

    id: str
    title: str
    text: str
    sha256: str  # of the source text: a changed file is a changed document
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)  # front matter, page metadata; JSON values
    original: str | None = None
    offsets: tuple[int, ...] | None = None  # offsets[i] = position in ``original`` of text[i]
    pages: tuple[int, ...] = ()  # PDF: where each page starts in ``text``

    @property
    def source_text(self) -> str:
        """The text citations point into: the file for markdown, else ``text``."""
        return self.original if self.original is not None else self.text

    def to_source(self, start: int, end: int) -> tuple[int, int]:
        """The span of ``source_text`` that ``text[start:end]`` shows."""
        if self.offsets is None:
            return start, end
        if start >= end:
            at = self.offsets[start] if start < len(self.offsets) else len(self.source_text)
            return at, at
        return self.offsets[start], self.offsets[end - 1] + 1

    def page_at(self, start: int) -> int | None:
        """The 1-based page a position of ``text`` is on (PDF only)."""
        if not self.pages:
            return None
        return bisect_right(self.pages, start) or 1


@dataclass(frozen=True)
class Chunk:
    """A retrieval unit. ``text`` is exactly ``document.text[start:end]``;
    ``index_text`` is what gets embedded and BM25-indexed (title/section context, cleaned)."""

    id: str
    doc_id: str
    title: str
    section: str
    kind: str  # "text" | "list" | "table"
    start: int
    end: int
    text: str
    index_text: str


@dataclass(frozen=True)
class Cell:
    header: str
    value: str
    start: int
    end: int


@dataclass(frozen=True)
class Candidate:
    """An answer unit inside a chunk: a sentence, a list item or a table row.

    ``text`` is the original span; ``render`` is what is scored (a row rendered with its
    header, an item with its lead-in)."""

    chunk_id: str
    doc_id: str
    kind: str  # "sentence" | "item" | "row"
    start: int
    end: int
    text: str
    render: str
    cells: tuple[Cell, ...] = ()


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float
    rank: int
    dense_score: float | None = None
    bm25_score: float | None = None
    page: int | None = None  # PDF: the page the passage starts on (set when it is shown)

    def to_dict(self) -> dict:
        """A passage as ``rag search --json`` and ``/search`` return it."""
        c = self.chunk
        return {
            "rank": self.rank,
            "doc_id": c.doc_id,
            "title": c.title,
            "section": c.section,
            "start": c.start,
            "end": c.end,
            "text": c.text,
            "score": round(float(self.score), 6),
            "page": self.page,
        }


@dataclass(frozen=True)
class Citation:
    doc_id: str
    title: str
    section: str
    start: int
    end: int
    text: str
    score: float
    page: int | None = None  # PDF: the page the passage starts on


@dataclass(frozen=True)
class Span:
    doc_id: str
    start: int
    end: int


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str | None
    citations: tuple[Citation, ...]
    confidence: float = 0.0
    answer_span: Span | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def abstained(self) -> bool:
        return self.answer is None

    def to_dict(self) -> dict:
        """The stable JSON shape shared by ``rag ask --json`` and the HTTP API."""
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "confidence": round(self.confidence, 4),
            "answer_span": None
            if self.answer_span is None
            else {"doc_id": self.answer_span.doc_id, "start": self.answer_span.start, "end": self.answer_span.end},
            "citations": [
                {
                    "doc_id": c.doc_id,
                    "title": c.title,
                    "section": c.section,
                    "start": c.start,
                    "end": c.end,
                    "text": c.text,
                    "score": round(c.score, 6),
                    "page": c.page,
                }
                for c in self.citations
            ],
        }
