from pathlib import Path

import pytest

from rag.chunking import Chunker, ChunkerConfig
from rag.corpus import clean_for_index, load_corpus
from rag.errors import CorpusNotFoundError, EmptyCorpusError, InvalidInputError

from .conftest import CORPUS, FakeEmbedder


def _chunk_all(corpus, config=ChunkerConfig(max_tokens=60)):
    ch = Chunker(FakeEmbedder().count_tokens, config)
    return {d.id: (d, *ch.chunk(d)) for d in load_corpus(corpus)}


def test_documents_have_ids_titles_and_hashes(small_corpus):
    docs = {d.id: d for d in load_corpus(small_corpus)}
    assert set(docs) == {"alpha", "beta"}
    assert docs["alpha"].title == "Harbour Cooperation Between Norland and Sudmark"
    assert docs["beta"].title == "Mountain Rescue in Ostia"
    assert len(docs["alpha"].sha256) == 64


def test_boilerplate_is_not_indexed(small_corpus):
    _doc, chunks, _cands = _chunk_all(small_corpus)["alpha"]
    indexed = " ".join(c.index_text for c in chunks)
    assert "Skip to content" not in indexed and "Read also" not in indexed and "Latest" not in indexed


def test_table_rows_keep_their_header_and_intro(small_corpus):
    doc, chunks, cands = _chunk_all(small_corpus)["alpha"]
    table = [c for c in chunks if c.kind == "table"]
    assert len(table) == 1
    assert "Partner: Sudmark; Annual Budget: 25 million crowns" in table[0].index_text
    assert "The budget of each partner is outlined below:" in table[0].index_text
    rows = [c for c in cands if c.kind == "row"]
    assert [r.render for r in rows] == [
        "Partner: Norland; Annual Budget: 40 million crowns",
        "Partner: Sudmark; Annual Budget: 25 million crowns",
    ]
    assert [(c.header, c.value) for c in rows[1].cells] == [("Partner", "Sudmark"), ("Annual Budget", "25 million crowns")]
    assert all(doc.text[c.start : c.end] == c.value for r in rows for c in r.cells)


def test_rows_of_a_long_table_are_never_separated_from_their_header(tmp_path):
    rows = "\n".join(f"Region {i} | Value number {i} with several words |" for i in range(40))
    (tmp_path / "t.txt").write_text(f"Big Table\nThe values are listed here:\nRegion | Value |\n---|---|\n{rows}\n")
    _doc, chunks, _cands = _chunk_all(tmp_path, ChunkerConfig(max_tokens=80))["t"]
    tables = [c for c in chunks if c.kind == "table"]
    assert len(tables) > 1
    for t in tables:
        assert t.index_text.count("Region:") == t.index_text.count("Value:") >= 1
        assert "The values are listed here:" in t.index_text


def test_lists_keep_their_lead_in_and_sections_are_carried(small_corpus):
    _doc, chunks, cands = _chunk_all(small_corpus)["alpha"]
    lst = [c for c in chunks if c.kind == "list"][0]
    assert lst.section == "Key Terms of the Agreement"
    assert lst.index_text.startswith("Harbour Cooperation Between Norland and Sudmark — Key Terms of the Agreement\n")
    assert "The agreement lists the following commitments:" in lst.index_text
    items = [c for c in cands if c.kind == "item"]
    assert items[0].text == "Shared Radar: Both ports exchange radar images every minute."
    beta = _chunk_all(small_corpus)["beta"]
    assert [c.section for c in beta[1]] == ["Mountain Rescue in Ostia", "Equipment"]


def test_index_text_fixes_do_not_move_offsets(small_corpus):
    _doc, chunks, _cands = _chunk_all(small_corpus)["alpha"]
    first = [c for c in chunks if "2021" in c.text][0]
    assert "2021.The" in first.text  # citations show the original text
    assert "2021. The" in first.index_text  # what is indexed is fixed
    assert clean_for_index("stability,the U.S.pledge of 1,000") == "stability, the U.S. pledge of 1,000"


@pytest.mark.parametrize("config", [ChunkerConfig(), ChunkerConfig(max_tokens=40), ChunkerConfig(tables=False)])
def test_offsets_round_trip_for_every_chunk_and_candidate_of_the_corpus(config):
    for doc, chunks, cands in _chunk_all(CORPUS, config).values():
        assert chunks
        for c in chunks:
            assert doc.text[c.start : c.end] == c.text
        for c in cands:
            assert doc.text[c.start : c.end] == c.text
        ids = [c.id for c in chunks]
        assert len(ids) == len(set(ids))


def test_chunk_ids_are_deterministic():
    a = _chunk_all(CORPUS)
    b = _chunk_all(CORPUS)
    assert [c.id for v in a.values() for c in v[1]] == [c.id for v in b.values() for c in v[1]]


@pytest.mark.slow
def test_no_chunk_exceeds_the_models_sequence_length(embedder):
    """Counted with the model's own tokenizer, special tokens included: nothing is silently truncated."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(embedder.path))  # the encoder's own tokenizer, independent of ours
    limit = embedder.max_seq_length
    for max_tokens in (ChunkerConfig().max_tokens, 120):
        ch = Chunker(embedder.count_tokens, ChunkerConfig(max_tokens=max_tokens))
        for doc in load_corpus(CORPUS):
            chunks, _cands = ch.chunk(doc)
            for c in chunks:
                n = len(tok(c.index_text, truncation=False)["input_ids"])
                assert n <= min(limit, max_tokens + 2), (c.id, n)
    # and a paragraph far over the limit is split, not truncated
    long_doc = load_corpus(CORPUS)[0]
    big = long_doc.__class__(id="big", title="Big", text="Big\n" + " ".join(["The alliance met again."] * 400), sha256="x")
    chunks, _ = Chunker(embedder.count_tokens).chunk(big)
    assert len(chunks) > 1
    assert all(len(tok(c.index_text, truncation=False)["input_ids"]) <= limit for c in chunks)


def test_jsonl_corpus_and_errors(tmp_path):
    f = tmp_path / "c.jsonl"
    f.write_text('{"id": "a#0", "title": "A", "text": "Alpha text."}\n{"id": "a#1", "title": "A", "text": "Beta text."}\n')
    docs = load_corpus(f)
    assert [d.id for d in docs] == ["a#0", "a#1"] and docs[1].title == "A"
    (tmp_path / "untitled.jsonl").write_text(
        '{"id": "n1", "text": "no title here: beta is second."}\n{"id": "n2", "text": "Heading\\n\\nBody text follows."}\n'
    )
    assert [d.title for d in load_corpus(tmp_path / "untitled.jsonl")] == ["n1", "Heading"]  # not the whole one-line text
    with pytest.raises(CorpusNotFoundError):
        load_corpus(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmptyCorpusError):
        load_corpus(tmp_path / "empty")
    bad = tmp_path / "bad.jsonl"
    for line, says in (('{"id": "x"}', "bad.jsonl:1: .* got no 'text'"), ('["x"]', "got a JSON list"), ("{oops", "bad.jsonl:1: not JSON")):
        bad.write_text(line + "\n")
        with pytest.raises(InvalidInputError, match=says):
            load_corpus(bad)
    (tmp_path / "caps").mkdir()
    (tmp_path / "caps" / "NOTES.TXT").write_text("Notes\n\nSome text.\n")
    assert [d.id for d in load_corpus(tmp_path / "caps")] == ["NOTES"]  # suffixes in any case
    (tmp_path / "bin").mkdir()
    Path(tmp_path / "bin" / "x.txt").write_bytes(b"\xff\xfe bad")
    with pytest.raises(InvalidInputError, match="not UTF-8"):
        load_corpus(tmp_path / "bin")
    # with somewhere to say so, an unreadable file is left out and the rest loads
    with pytest.raises(EmptyCorpusError, match=r"no readable documents in .*bin: .*x\.txt: not UTF-8"):
        load_corpus(tmp_path / "bin", skipped=[])
    (tmp_path / "bin" / "y.txt").write_text("Notes\n\nSome text.\n")
    skipped: list[str] = []
    assert [d.id for d in load_corpus(tmp_path / "bin", skipped=skipped)] == ["y"]
    assert len(skipped) == 1 and "x.txt: not UTF-8" in skipped[0] and "iconv" in skipped[0]


def test_what_a_folder_holds_that_is_not_an_article(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "a.txt").write_bytes("\ufeffBelgium plan\n\nBelgium leads the cyber effort.\n".encode())
    (folder / ".a.txt.swp.txt").write_text("editor backup\n")
    (folder / "._a.txt").write_text("resource fork\n")
    docs = load_corpus(folder)
    assert [d.id for d in docs] == ["a"]  # hidden files are not articles
    assert docs[0].title == "Belgium plan" and not docs[0].text.startswith("\ufeff")  # a byte-order mark is not text
    (folder / "a.md").write_text("Other\n\nText.\n")
    with pytest.raises(InvalidInputError, match=r"duplicate document id 'a': .*a\.md and .*a\.txt"):
        load_corpus(folder)
    jsonl_only = tmp_path / "j"
    jsonl_only.mkdir()
    (jsonl_only / "data.jsonl").write_bytes(b'\xef\xbb\xbf{"id": "x", "text": "Some text."}\n')
    with pytest.raises(EmptyCorpusError, match=r"JSONL corpus is given as the file itself: --corpus .*data\.jsonl"):
        load_corpus(jsonl_only)
    assert [d.id for d in load_corpus(jsonl_only / "data.jsonl")] == ["x"]  # a BOM before the first record
    for rid in ('""', "null", "true", '" "'):
        (tmp_path / "bad.jsonl").write_text(f'{{"id": {rid}, "text": "t"}}\n')
        with pytest.raises(InvalidInputError, match="'id' must be a non-empty string"):
            load_corpus(tmp_path / "bad.jsonl")


def test_unpunctuated_lines_with_no_text_after_them_are_text_not_headings(tmp_path):
    # Notes without full stops, and one-line records, used to be all "headings": nothing indexed.
    (tmp_path / "notes.txt").write_text("Cats are small carnivorous mammals that are often kept as pets\nThey sleep about 15 hours a day\n")
    (tmp_path / "owls.jsonl").write_text('{"id": "o1", "title": "Owls", "text": "ok text about owls"}\n')
    (tmp_path / "article.txt").write_text("Ferries of Ostia\n\nTimetable\nBoats leave every hour.\n\n# Empty section\n")
    notes, chunks, cands = _chunk_all(tmp_path)["notes"]
    assert [notes.text[c.start : c.end] for c in chunks] == [
        "Cats are small carnivorous mammals that are often kept as pets",
        "They sleep about 15 hours a day",
    ]
    assert {notes.text[c.start : c.end] for c in cands} >= {"They sleep about 15 hours a day"}
    owl, chunks, _ = _chunk_all(tmp_path / "owls.jsonl")["o1"]
    assert [owl.text[c.start : c.end] for c in chunks] == ["ok text about owls"]
    # Lines with text after them are still headings, carried by the chunks under them.
    art, chunks, _ = _chunk_all(tmp_path)["article"]
    assert [(art.text[c.start : c.end], c.section) for c in chunks] == [("Boats leave every hour.", "Timetable")]


def test_links_hidden_and_unsupported_files_are_left_out_with_a_note(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "kept.txt").write_text("A kept article about owls.\n")
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    (corpus / "passwd.txt").symlink_to(secret)  # out of the folder
    (corpus / "inside.txt").symlink_to(corpus / "kept.txt")  # stays inside
    (corpus / ".draft.txt").write_text("hidden\n")
    (corpus / "thesis.docx").write_bytes(b"PK\x03\x04")
    notes: list[str] = []
    docs = load_corpus(corpus, skipped=notes)
    assert [d.id for d in docs] == ["kept"]
    assert not any("root:x" in d.text for d in docs)
    said = "\n".join(notes)
    assert "passwd.txt: a symbolic link" in said and "inside.txt: a symbolic link" in said
    assert ".draft.txt: a hidden file" in said and "thesis.docx: unsupported file type" in said
    # allowed, a link that stays in the folder is read; one that leaves it never is
    notes.clear()
    docs = load_corpus(corpus, skipped=notes, allow_links=True)
    assert sorted(d.id for d in docs) == ["inside", "kept"]
    assert any("passwd.txt: a symbolic link out of the corpus folder" in n for n in notes)


def test_markdown_is_indexed_clean_and_cited_in_the_file(tmp_path, fake_embedder):
    from rag.ask import ask
    from rag.indexing import open_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    md = (
        "---\ntitle: Leave types\ndescription: What leave you can take\n---\n\n"
        "## Annual leave\n\nYou earn **annual leave** every pay period; see [the leave chart](https://example.org/chart).\n\n"
        "| Leave | Who approves |\n|---|---|\n| **Sick leave** | [Your supervisor](https://example.org/s) |\n"
    )
    (corpus / "leave.md").write_text(md)
    index, _ = open_index(corpus, tmp_path / "index", fake_embedder)
    doc = index.documents["leave"]
    assert doc.title == "Leave types" and doc.metadata["description"] == "What leave you can take"
    assert "title:" not in doc.text and "description" not in doc.text and "**" not in doc.text and "](" not in doc.text
    assert doc.source_text == md
    a = ask(index, fake_embedder, "Who approves sick leave?")
    for c in a.citations:
        assert c.text == md[c.start : c.end]  # a citation is a span of the file the user wrote
    if a.answer is not None:
        assert "**" not in a.answer and "](" not in a.answer
        assert a.answer_span is not None and md[a.answer_span.start : a.answer_span.end].strip("*[]")


def test_a_large_document_is_named_and_may_be_refused(tmp_path, fake_embedder):
    from rag.indexing import open_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "small.txt").write_text("A short note about herons.\n")
    (corpus / "huge.txt").write_text("Herons wade in shallow water. " * 200)
    said: list[str] = []
    index, _ = open_index(corpus, tmp_path / "i1", fake_embedder, notify=said.append, large_chars=1000)
    assert set(index.documents) == {"small", "huge"} and any("huge.txt" in s and "over RAG_LARGE_DOCUMENT_CHARS" in s for s in said)
    said.clear()
    index, _ = open_index(corpus, tmp_path / "i2", fake_embedder, notify=said.append, large_chars=1000, refuse_large=True)
    assert set(index.documents) == {"small"} and any(s.startswith("skipped") and "huge.txt" in s for s in said)


def test_an_exclamation_mark_before_a_lower_case_word_ends_no_sentence():
    from rag.text import sentence_spans

    text = "BookIt! is what you use to reserve a desk. Wow! That works. The hub opens. the plan follows."
    said = [text[s:e] for s, e in sentence_spans(text)]
    assert said == ["BookIt! is what you use to reserve a desk.", "Wow!", "That works.", "The hub opens.", "the plan follows."]
