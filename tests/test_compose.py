"""How an answer is shaped from the candidate the selector picked (synthetic documents, no model)."""

from types import SimpleNamespace

from rag.chunking import Chunker
from rag.compose import compose
from rag.formats.markdown import clean
from rag.limits import MAX_ANSWER_CHARS
from rag.scoring import _Scored
from rag.types import Document

from .conftest import FakeEmbedder


def _index(markdown: str):
    _front, text, _offsets, _title = clean(markdown, site=False)
    doc = Document("d", "D", text, "0")
    chunks, cands = Chunker(FakeEmbedder().count_tokens).chunk(doc)
    chunk_row = {c.id: i for i, c in enumerate(chunks)}
    candidates_of: list[list[int]] = [[] for _ in chunks]
    for j, c in enumerate(cands):
        candidates_of[chunk_row[c.chunk_id]].append(j)
    return SimpleNamespace(chunks=chunks, candidates=cands, candidates_of=candidates_of, chunk_row=chunk_row, documents={"d": doc})


def _compose(index, text: str, question: str) -> str:
    j = next(j for j, c in enumerate(index.candidates) if c.text == text)
    answer, _start, _end = compose(SimpleNamespace(index=index), _Scored(j, None, 0.0, {}), question)
    return answer


LONG_ITEMS = [
    "From the station to the office or the hotel where the traveller stays for the trip",
    "Between a place of lodging and a place of business, or between two or more places of business",
    "To obtain meals only when the nature and location of the work is such that meals cannot be had nearby",
    "To reach a hospital or clinic when the traveller falls ill and no other way of getting there exists",
]


def test_a_lead_in_to_a_list_too_long_to_give_whole_answers_with_its_first_items():
    lead = "Local transit costs may be authorised in the following situations:"
    index = _index("# Travel\n\n" + lead + "\n\n" + "\n".join(f"- {i}" for i in LONG_ITEMS) + "\n")
    answer = _compose(index, lead, "When can local transit costs be authorised?")
    assert len("; ".join(LONG_ITEMS)) > MAX_ANSWER_CHARS
    assert answer == "; ".join(LONG_ITEMS[:3]) and len(answer) <= MAX_ANSWER_CHARS


def test_a_short_list_after_its_lead_in_is_given_whole():
    lead = "Local transit costs may be authorised in the following situations:"
    index = _index("# Travel\n\n" + lead + "\n\n- To the airport\n- To a meeting\n")
    assert _compose(index, lead, "When can local transit costs be authorised?") == "To the airport; To a meeting"


def test_a_sentence_before_a_long_list_is_not_cut_into_its_first_items():
    # The picked sentence says something itself: a list too long to give whole leaves it as it is.
    said = "Travellers may claim transit costs."
    index = _index("# Travel\n\n" + said + " These are the cases:\n\n" + "\n".join(f"- {i}" for i in LONG_ITEMS) + "\n")
    assert _compose(index, said, "What are the cases for transit costs?") == said
