"""Table answers on synthetic tables: cells by position, and each signal that picks the row and the column."""

from rag.chunking import Chunker
from rag.formats.markdown import clean
from rag.tables import answer_cell, pick_cell
from rag.types import Candidate, Cell, Document

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


def _row(headers, values, at=0):
    cells, pos = [], at
    for h, v in zip(headers, values):
        cells.append(Cell(h, v, pos, pos + len(v)))
        pos += len(v) + 3
    return Candidate("c", "d", "row", at, pos, " | ".join(values), "", tuple(cells))


HEADS = ("Gadget", "Maker", "Weight", "Released")
GADGETS = [
    _row(HEADS, ("Zephyr lamp", "Orla Works", "2 kg", "March 2019"), 0),
    _row(HEADS, ("Quill pump", "Bastide", "14 kg", "June 2021"), 100),
    _row(HEADS, ("Marlow fan", "Orla Works", "5 kg", "May 2017"), 200),
]


def _cell(question, start=0, rows=GADGETS, similar=None):
    got = answer_cell(question, rows[start], rows, similar)
    return got[1].value if got else None


def test_the_header_the_question_names_is_the_column_asked_for():
    assert _cell("What is the weight of the Quill pump?", start=1) == "14 kg"
    assert _cell("Who is the maker of the Marlow fan?", start=2) == "Orla Works"
    # the header mentioned first after the question word is asked; a later one describes the row
    assert _cell("What is the weight of the gadget whose maker is Bastide?", start=1) == "14 kg"


def test_the_answer_type_picks_a_column_no_header_names():
    assert _cell("When did the Zephyr lamp come out?") == "March 2019"
    assert _cell("How many kg does the Marlow fan weigh?", start=2) == "5 kg"


def test_a_similar_header_is_the_column_asked_for():
    # no header word in the question and no answer type: only the similarity tells the column
    def similar(text, options):
        return [1.0 if o.startswith("Weight") and "heavy" in text else 0.0 for o in options]

    assert _cell("How heavy is the Quill pump?", start=1, similar=similar) == "14 kg"
    assert _cell("How heavy is the Quill pump?", start=1) == "Bastide"  # without it: the leftmost


def test_the_cells_a_question_names_are_not_its_answer():
    # the key is named: it identifies the row, the answer is another cell
    assert _cell("What is the Zephyr lamp's maker?") == "Orla Works"
    # a value is named: it identifies the row, and the key is asked for
    assert _cell("Which gadget weighs 14 kg?", start=0) == "Quill pump"
    assert _cell("Which gadget was released in May 2017?", start=0) == "Marlow fan"


def test_the_row_is_the_one_the_question_names_wherever_the_search_landed():
    for start in range(3):
        assert _cell("What is the weight of the Marlow fan?", start=start) == "5 kg"
        assert _cell("What was released in June 2021?", start=start) == "Quill pump"


def test_a_word_names_the_cell_it_names_most():
    # "Bastide" lies inside the key: the key is named, the maker is not, so the maker is the answer
    heads = ("Step", "Owner", "Time")
    rows = [_row(heads, ("Bastide reviews the plan", "Bastide", "2 days")), _row(heads, ("Orla signs", "Orla", "1 day"), 50)]
    assert _cell("Who is the owner of Bastide reviews the plan?", rows=rows) == "Bastide"
    assert _cell("Which step has Orla as its owner?", rows=rows) == "Orla signs"


def test_pick_cell_without_the_table():
    row = GADGETS[0]
    assert pick_cell(row, "What is the maker of the Zephyr lamp?").value == "Orla Works"


def test_the_empty_header_comparison_table():
    _doc, rows = _rows(COMPARISON)
    assert _cell("What is the owner of the South plan?", start=2, rows=rows) == "Bellwether"
    assert _cell("What is the budget of the North plan?", rows=rows) == "3 units"
    # the row label (under the empty header) is asked for by a value of the row
    assert _cell("What has Daily as its North plan?", start=2, rows=rows) == "Rhythm"
    # the South plan's rhythm is an empty cell: no answer, not the North plan's
    assert _cell("What is the rhythm of the South plan?", start=1, rows=rows) is None


def test_the_rows_of_a_table_cut_into_passages_are_one_table():
    from types import SimpleNamespace

    from rag.chunking import ChunkerConfig
    from rag.compose import _table_rows

    body = "\n".join(f"| Item {i} | {i} units |" for i in range(30))
    md = f"# Stock\n\n| Item | Count |\n| --- | --- |\n{body}\n\n## Other shelf\n\n| Item | Count |\n| --- | --- |\n| Spare | 1 unit |\n"
    _front, text, _offsets, _title = clean(md, site=False)
    doc = Document("t", "T", text, "0")
    chunks, cands = Chunker(FakeEmbedder().count_tokens, ChunkerConfig(max_tokens=40)).chunk(doc)
    assert sum(c.kind == "table" for c in chunks) > 2
    chunk_row = {c.id: i for i, c in enumerate(chunks)}
    candidates_of: list[list[int]] = [[] for _ in chunks]
    for j, c in enumerate(cands):
        candidates_of[chunk_row[c.chunk_id]].append(j)
    index = SimpleNamespace(chunks=chunks, candidates=cands, candidates_of=candidates_of, chunk_row=chunk_row, documents={"t": doc})
    rows = [c for c in cands if c.kind == "row"]
    # every passage of the long table gives its 30 rows; the table under the next heading is another
    assert [r.cells[0].value for r in _table_rows(index, rows[17])] == [f"Item {i}" for i in range(30)]
    assert [r.cells[0].value for r in _table_rows(index, rows[-1])] == ["Spare"]
