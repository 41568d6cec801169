"""Table answers on synthetic tables: cells by position, and each signal that picks the row and the column."""

from rag.chunking import Chunker
from rag.formats.markdown import clean
from rag.types import Document

from .conftest import FakeEmbedder


def _rows(markdown: str):
    _front, text, _offsets, _title = clean(markdown, site=False)
    doc = Document("t", "T", text, "0")
    _chunks, cands = Chunker(FakeEmbedder().count_tokens).chunk(doc)
    return doc, [c for c in cands if c.kind == "row"]


COMPARISON = """
| | North plan | South plan |
| --- | --- | --- |
| Owner | Ardent | Bellwether |
| Rhythm | Daily | |
| Budget | 3 units | 5 units |
"""


def test_cells_are_matched_to_headers_by_position():
    doc, rows = _rows(COMPARISON)
    first = rows[0]
    assert [(c.header, c.value) for c in first.cells] == [("", "Owner"), ("North plan", "Ardent"), ("South plan", "Bellwether")]
    assert first.render == "Owner; North plan: Ardent; South plan: Bellwether"
    # an empty cell is an empty value in its place, not the next cell moved left
    assert [(c.header, c.value) for c in rows[1].cells] == [("", "Rhythm"), ("North plan", "Daily"), ("South plan", "")]
    assert rows[1].render == "Rhythm; North plan: Daily"
    assert all(doc.text[c.start : c.end] == c.value for r in rows for c in r.cells)
