"""Structure-aware, token-bounded chunking of a ``Document`` into ``Chunk``s and answer ``Candidate``s.

The document is read line by line into blocks: headings, paragraphs, bulleted lists and pipe tables.
Every chunk carries the heading above it; its ``index_text`` (what is embedded and BM25-indexed)
starts with "title — section", a list carries its lead-in sentence, and a table row is always
rendered with its header ("Country: Norway; Focus Area: ..."). Offsets always point into the
original text, so ``doc.text[chunk.start:chunk.end] == chunk.text``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache

from langchain_text_splitters import RecursiveCharacterTextSplitter

from rag.corpus import clean_for_index, is_boilerplate, looks_like_heading
from rag.text import sentence_spans
from rag.types import Candidate, Cell, Chunk, Document

TokenCounter = Callable[[str], int]

_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")
CANDIDATE_VECTORS = ("separate", "pooled")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


@dataclass(frozen=True)
class ChunkerConfig:
    """Settings recorded in the index manifest: changing any of them means re-indexing."""

    max_tokens: int = 254  # the encoder's 256 minus [CLS] and [SEP]
    tables: bool = True  # table-aware rows with headers; off only for the ablation
    version: int = 5  # 5: a "!" before a lower-case word ends no sentence ("BookIt! is ...")
    # How answer candidates get their vectors: "separate", each encoded on its own (a second pass over
    # nearly every token of the corpus), or "pooled" from its chunk's token states (one pass).
    candidate_vectors: str = "separate"

    def __post_init__(self) -> None:
        if self.candidate_vectors not in CANDIDATE_VECTORS:
            raise ValueError(f"candidate_vectors must be one of {CANDIDATE_VECTORS}, not {self.candidate_vectors!r}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Line:
    text: str
    start: int
    end: int

    @property
    def stripped(self) -> str:
        return self.text.strip()


def _lines(text: str) -> list[_Line]:
    out: list[_Line] = []
    pos = 0
    for raw in text.splitlines(keepends=True):
        body = raw.rstrip("\r\n")
        lead = len(body) - len(body.lstrip())
        out.append(_Line(body.strip(), pos + lead, pos + lead + len(body.strip())))
        pos += len(raw)
    return out


def _cells(line: _Line) -> list[tuple[str, int, int]]:
    """Cells of a pipe-table row, by position, with their spans in the document. An empty cell is
    kept as an empty value (an empty span where its text would be), so every cell stays under its
    column's header; the pipes that open and close the row delimit no cell."""
    parts = line.text.split("|")
    pos = 0
    cells = []
    for k, part in enumerate(parts):
        outer = (k == 0 and not part.strip()) or (k == len(parts) - 1 and not part.strip() and k > 0)
        if not outer:
            lead = len(part) - len(part.lstrip())
            val = part.strip()
            at = line.start + pos + lead
            cells.append((val, at, at + len(val)))
        pos += len(part) + 1
    return cells


def _is_table_start(lines: list[_Line], i: int) -> bool:
    return "|" in lines[i].text and i + 1 < len(lines) and bool(_TABLE_SEP.match(lines[i + 1].text))


def _last_sentence(line: _Line | None) -> tuple[str, int, int] | None:
    if line is None or not line.text:
        return None
    spans = sentence_spans(line.text, line.start)
    if not spans:
        return None
    s, e = spans[-1]
    return line.text[s - line.start : e - line.start], s, e


class Chunker:
    """Splits documents; ``count_tokens`` must be the embedding model's tokenizer in production."""

    def __init__(self, count_tokens: TokenCounter, config: ChunkerConfig = ChunkerConfig()):
        # A paragraph is counted as it is and again as its chunk's index_text (most often the same
        # text), and a list or table once per item tried: counting is a third of a build's own work.
        self.count = lru_cache(maxsize=4096)(count_tokens)
        self.config = config

    def _fits(self, text: str) -> bool:
        return self.count(text) <= self.config.max_tokens

    def _splitter(self, budget: int) -> RecursiveCharacterTextSplitter:
        return RecursiveCharacterTextSplitter(
            chunk_size=max(budget, 16),
            chunk_overlap=0,
            length_function=self.count,
            separators=["\n\n", "\n", ". ", "; ", ", ", " ", ""],
            keep_separator="end",
        )

    # -- public -----------------------------------------------------------------------------
    def chunk(self, doc: Document) -> tuple[list[Chunk], list[Candidate]]:
        chunks: list[Chunk] = []
        cands: list[Candidate] = []
        lines = _lines(doc.text)
        section = ""
        prev_para: _Line | None = None
        # A short unpunctuated line is a heading only if text follows it: otherwise notes written
        # without full stops, or a one-line record, would be all headings and nothing indexed.
        last_body = max(
            (k for k, x in enumerate(lines) if x.text and not is_boilerplate(x.text) and not looks_like_heading(x.text)), default=-1
        )
        i = 0
        while i < len(lines):
            ln = lines[i]
            if not ln.text or is_boilerplate(ln.text):
                i += 1
                continue
            if self.config.tables and _is_table_start(lines, i):
                j = i + 2
                while j < len(lines) and "|" in lines[j].text and lines[j].text:
                    j += 1
                self._table(doc, section, lines[i], lines[i + 2 : j], _last_sentence(prev_para), chunks, cands)
                prev_para = None
                i = j
                continue
            if _BULLET.match(ln.text):
                j = i
                while j < len(lines) and _BULLET.match(lines[j].text):
                    j += 1
                self._list(doc, section, lines[i:j], _last_sentence(prev_para), chunks, cands)
                prev_para = None
                i = j
                continue
            if looks_like_heading(ln.text) and (ln.text.startswith("#") or i < last_body):
                section = ln.text.lstrip("#").strip()
                prev_para = None
                i += 1
                continue
            self._paragraph(doc, section, ln, chunks, cands)
            prev_para = ln
            i += 1
        return chunks, cands

    # -- blocks -----------------------------------------------------------------------------
    def _prefix(self, doc: Document, section: str) -> str:
        if section and section != doc.title:
            return f"{doc.title} — {section}\n"
        return f"{doc.title}\n"

    def _make_chunk(self, doc: Document, section: str, kind: str, start: int, end: int, body: str) -> Chunk:
        return Chunk(
            id=f"{doc.id}@{start}:{end}",
            doc_id=doc.id,
            title=doc.title,
            section=section,
            kind=kind,
            start=start,
            end=end,
            text=doc.text[start:end],
            index_text=self._prefix(doc, section) + body,
        )

    def _paragraph(self, doc: Document, section: str, ln: _Line, chunks: list[Chunk], cands: list[Candidate]) -> None:
        prefix = self._prefix(doc, section)
        pieces: list[tuple[int, int]]
        if self._fits(prefix + clean_for_index(ln.text)):
            pieces = [(ln.start, ln.end)]
        else:
            budget = self.config.max_tokens - self.count(prefix) - 8  # slack for cleaning changes
            pieces = []
            cursor = 0
            for piece in self._splitter(budget).split_text(ln.text):
                at = ln.text.find(piece, cursor)
                pieces.append((ln.start + at, ln.start + at + len(piece)))
                cursor = at + len(piece)
        for s, e in pieces:
            chunk = self._make_chunk(doc, section, "text", s, e, clean_for_index(doc.text[s:e]))
            if not self._fits(chunk.index_text):  # cleaning added spaces: split once more, finer
                for sub in self._hard_split(doc, section, s, e):
                    self._add_text_chunk(doc, sub, chunks, cands)
                continue
            self._add_text_chunk(doc, chunk, chunks, cands)

    def _hard_split(self, doc: Document, section: str, s: int, e: int) -> list[Chunk]:
        out = []
        budget = (self.config.max_tokens - self.count(self._prefix(doc, section))) // 2
        cursor = 0
        text = doc.text[s:e]
        for piece in self._splitter(budget).split_text(text):
            at = text.find(piece, cursor)
            cursor = at + len(piece)
            out.append(self._make_chunk(doc, section, "text", s + at, s + at + len(piece), clean_for_index(piece)))
        return out

    def _add_text_chunk(self, doc: Document, chunk: Chunk, chunks: list[Chunk], cands: list[Candidate]) -> None:
        chunks.append(chunk)
        for s, e in sentence_spans(chunk.text, chunk.start):
            sent = doc.text[s:e]
            cands.append(Candidate(chunk.id, doc.id, "sentence", s, e, sent, clean_for_index(sent)))

    def _list(self, doc, section, items: list[_Line], lead, chunks, cands) -> None:
        lead_text = clean_for_index(lead[0]) if lead else ""
        prefix = self._prefix(doc, section) + (lead_text + "\n" if lead_text else "")
        group: list[_Line] = []

        def flush() -> None:
            if not group:
                return
            body = (lead_text + "\n" if lead_text else "") + "\n".join(clean_for_index(g.text) for g in group)
            chunk = self._make_chunk(doc, section, "list", group[0].start, group[-1].end, body)
            chunks.append(chunk)
            for g in group:
                m = _BULLET.match(g.text)
                s = g.start + (m.end() if m else 0)
                item = doc.text[s : g.end]
                render = (lead_text + " " if lead_text else "") + clean_for_index(item)
                cands.append(Candidate(chunk.id, doc.id, "item", s, g.end, item, render))
            group.clear()

        for it in items:
            trial = prefix + "\n".join(clean_for_index(g.text) for g in [*group, it])
            if group and not self._fits(trial):
                flush()
            group.append(it)
        flush()

    def _table(self, doc, section, header: _Line, rows: list[_Line], intro, chunks, cands) -> None:
        heads = [c[0] for c in _cells(header)]
        intro_text = clean_for_index(intro[0]) if intro else ""
        prefix = self._prefix(doc, section) + (intro_text + "\n" if intro_text else "")

        def render(row: _Line) -> tuple[str, tuple[Cell, ...]]:
            cells = tuple(Cell(heads[k] if k < len(heads) else f"Column {k + 1}", v, s, e) for k, (v, s, e) in enumerate(_cells(row)))
            # an empty cell says nothing; a cell under an empty header (a row label) stands alone
            shown = [f"{c.header}: {clean_for_index(c.value)}" if c.header else clean_for_index(c.value) for c in cells if c.value]
            return "; ".join(shown), cells

        group: list[_Line] = []

        def flush(first: bool) -> None:
            if not group:
                return
            rendered = [render(r) for r in group]
            body = (intro_text + "\n" if intro_text else "") + "\n".join(r for r, _ in rendered)
            start = header.start if first else group[0].start  # the first group cites the header too
            chunk = self._make_chunk(doc, section, "table", start, group[-1].end, body)
            chunks.append(chunk)
            for row, (text, cells) in zip(group, rendered):
                cands.append(Candidate(chunk.id, doc.id, "row", row.start, row.end, doc.text[row.start : row.end], text, cells))
            group.clear()

        first = True
        for row in rows:
            trial = prefix + "\n".join(render(r)[0] for r in [*group, row])
            if group and not self._fits(trial):
                flush(first)
                first = False
            group.append(row)
        flush(first)


def render_spans(index_text: str, render: str, start: int = 0) -> tuple[tuple[int, int], ...] | None:
    """Where a candidate's ``render`` is in its chunk's ``index_text`` (at or after ``start``): one range
    when it is a substring; two when it is two pieces of the text joined by a space (a list item rendered
    with its lead-in: "lead item", where the chunk has "lead\\nitem 1\\nitem 2"); None otherwise."""
    at = index_text.find(render, start)
    if at < 0 and start:
        at = index_text.find(render)
    if at >= 0:
        return ((at, at + len(render)),)
    cut = render.find(" ")
    while cut > 0:
        head, tail = render[:cut], render[cut + 1 :]
        h = index_text.find(head)
        t = index_text.find(tail, h + len(head) + 1) if h >= 0 and tail else -1
        if t >= 0:
            return ((h, h + len(head)), (t, t + len(tail)))
        cut = render.find(" ", cut + 1)
    return None
