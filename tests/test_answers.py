"""Integration: the real model, real FAISS and BM25 on the real corpus."""

import json
import os
import subprocess
import sys

import pytest

from rag.ask import ask
from rag.compose import shorten, with_antecedent
from rag.errors import EmptyQueryError, InvalidInputError
from rag.kinds import expected_type, type_match
from rag.scoring import _ANAPHOR, _META
from rag.tables import pick_cell
from rag.types import Candidate, Cell

from .conftest import ROOT

pytestmark = pytest.mark.slow


def test_belgium_focus_area_from_the_table(real_index, embedder, answering):
    a = ask(real_index, embedder, "what is Belgium's focus area?", answering=answering)
    assert a.answer == "Enhancement of Rapid Response forces"
    first = a.citations[0]
    assert first.doc_id == "hegseth-europe-visit"
    assert "Country | Focus Area |" in first.text and "Belgium | Enhancement of Rapid Response forces |" in first.text
    assert first.section == "Recommendations for Enhanced Military Cooperation Amidst Regional Security Challenges"
    doc = real_index.documents[first.doc_id].text
    assert doc[first.start : first.end] == first.text
    assert doc[a.answer_span.start : a.answer_span.end] == a.answer


def test_belgium_collaboration_area(real_index, embedder, answering):
    a = ask(real_index, embedder, "What is Belgium's proposed collaboration area?", answering=answering)
    assert a.answer == "Cyber Defense Initiatives"
    assert "Proposed Collaboration Area" in a.citations[0].text


@pytest.mark.parametrize(
    "question",
    [
        "What is the boiling point of mercury?",
        "What is the population of Vietnam?",
        # the example: a table row names Belgium, but no column holds a person
        "Who is Belgium's defense minister?",
    ],
)
def test_abstains_when_the_corpus_does_not_say(real_index, embedder, answering, question):
    a = ask(real_index, embedder, question, answering=answering)
    assert a.answer is None and a.abstained
    assert a.citations  # the closest passages are still listed
    d = a.to_dict()
    assert d["answer"] is None and d["abstained"] is True


@pytest.mark.parametrize("question", ["hello", "what?", "asdfgh qwerty", "Who won the 2022 FIFA World Cup?"])
def test_no_shared_word_means_no_answer(real_index, embedder, answering, question):
    # The reader alone was confident on these (0.2-0.3): not one of their content words is in the passage.
    a = ask(real_index, embedder, question, answering=answering)
    assert a.answer is None and a.abstained and a.confidence == 0.0


def test_every_citation_round_trips(real_index, embedder, answering):
    for q in ["How many Patriot batteries has the Netherlands deployed to Poland?", "What are the key diplomatic tools?"]:
        a = ask(real_index, embedder, q, k=5, answering=answering)
        assert len(a.citations) == 5
        for c in a.citations:
            assert real_index.documents[c.doc_id].text[c.start : c.end] == c.text


def test_bad_questions(real_index, embedder, answering):
    with pytest.raises(EmptyQueryError):
        ask(real_index, embedder, "  ", answering=answering)
    with pytest.raises(InvalidInputError, match="2000"):
        ask(real_index, embedder, "x" * 2001, answering=answering)
    with pytest.raises(InvalidInputError, match="k must be"):
        ask(real_index, embedder, "Belgium?", k=0, answering=answering)


def test_answer_helpers():
    assert expected_type("How many troops were sent?") == "number"
    assert expected_type("When did the talks begin?") == "date"
    assert expected_type("Who chairs the council?") == "person"
    assert expected_type("In which year was the alliance formed?") == "calendar"
    assert expected_type("What is India's annual defense budget?") == "money"
    assert expected_type("How long did the siege last?") == "duration"
    # a leading when-clause sets the scene; the question is what follows the comma
    assert expected_type("When the talks failed, what did the minister propose?") == "other"


@pytest.mark.parametrize(
    "text, meta",
    [
        ("In this article, we will explore the key components of engagement.", True),
        ("This report examines the budget.", True),
        ("We will discuss the treaty below.", True),
        ("The article was published in 2020.", False),
        ("In this region, piracy is a threat.", False),
    ],
)
def test_meta_discourse_is_not_an_answer_candidate(text, meta):
    assert bool(_META.match(text)) is meta


@pytest.mark.parametrize(
    "kind, text, ok",
    [
        ("date", "The Wars of Religion were fought from 1562 to 1598.", True),  # years before 1800 count
        ("date", "The troops arrived after the ceasefire.", True),
        ("date", "The Netherlands has deployed 2 of 3 Patriot batteries.", False),  # small numbers are not dates
        ("calendar", "The assault came during the talks.", False),  # "what date" needs a calendar date
        ("calendar", "The assault came on 14 March.", True),
        ("money", "The ships cost 5,000 francs each.", True),
        ("money", "Countries face budget constraints.", False),
        ("money", "The project develops the F-35 Lightning II.", False),  # a model number is not an amount
        ("number", "Only a few biomolecules contain no oxygen.", True),
        ("duration", "The outcome is known in seconds.", True),
    ],
)
def test_answer_type_check(kind, text, ok):
    assert bool(type_match(kind, text)) is ok
    row = Candidate("c", "d", "row", 0, 10, "", "", (Cell("Country", "Poland", 0, 6), Cell("Focus Area", "Defense", 7, 14)))
    assert pick_cell(row, "What is Poland's focus area?").value == "Defense"
    assert pick_cell(row, "Which country focuses on Defense?").value == "Poland"
    collab = Candidate(
        "c",
        "d",
        "row",
        0,
        10,
        "",
        "",
        (Cell("Country", "Belgium", 0, 7), Cell("Proposed Collaboration Area", "Cyber Defense Initiatives", 8, 33)),
    )
    # the question names the cell (and its column's words): it asks for the other one
    assert pick_cell(collab, "Which nation is tied to cyber defense initiatives in the proposed collaborations?").value == "Belgium"
    assert pick_cell(collab, "What is Belgium's proposed collaboration area?").value == "Cyber Defense Initiatives"
    fruit = Candidate(
        "c", "d", "row", 0, 10, "", "", (Cell("Fruit", "Kiwi", 0, 4), Cell("Price", "$0.80", 5, 10), Cell("Origin", "New Zealand", 11, 22))
    )
    assert pick_cell(fruit, "Where do kiwis come from?").value == "New Zealand"  # not a price
    assert pick_cell(fruit, "How much does a kiwi cost?").value == "$0.80"
    assert pick_cell(fruit, "What is the origin of kiwi?").value == "New Zealand"
    s, e = shorten("a" * 50 + ", the budget was raised by the council, " + "b" * 400, "How was the budget changed?")
    assert e - s <= 300
    # The clauses that match the question are kept, and the window grows by whole clauses after them:
    # the answer is what the question does not repeat.
    long = (
        "Of particular concern with online pharmacies is the ease with which people, youth in particular, "
        "can obtain controlled substances (e.g., Vicodin, generically known as hydrocodone) via the Internet "
        "without a prescription issued by a doctor who has an established doctor-patient relationship with them."
    )
    s, e = shorten(long, "What is one problem with online pharmacies?")
    assert s == 0 and "can obtain controlled substances" in long[s:e] and e - s <= 300
    assert long[e - 1] not in " ,;:"


def _rag(*args, stdin=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "rag", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_cli_json_batch_and_errors(tmp_path):
    env = {"RAG_INDEX": str(tmp_path / "index")}
    r = _rag(
        "ask",
        "--batch",
        "-",
        stdin='{"question": "what is Belgium\'s focus area?", "id": "b1"}\n{"question": "What is the boiling point of mercury?"}\n',
        env=env,
    )
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["answer"] for x in lines] == ["Enhancement of Rapid Response forces", None]
    assert lines[0]["id"] == "b1" and "id" not in lines[1]  # an input id comes back, to match results to questions
    assert set(lines[0]) >= {"question", "answer", "abstained", "citations"}
    assert set(lines[0]["citations"][0]) == {"doc_id", "title", "section", "start", "end", "text", "score", "page"}
    r = _rag("ask", "What is Belgium's proposed collaboration area?", "--json", env=env)
    assert json.loads(r.stdout)["answer"] == "Cyber Defense Initiatives"
    r = _rag("search", "Patriot batteries", "-k", "2", "--json", env=env)
    found = json.loads(r.stdout)  # the /search shape
    assert found["query"] == "Patriot batteries" and [p["rank"] for p in found["passages"]] == [1, 2]
    assert set(found["passages"][0]) == {"rank", "doc_id", "title", "section", "start", "end", "text", "score", "page"}
    for args in (
        ["ask", ""],
        ["ask", "q", "--bogus"],
        ["ask", "q", "--corpus", str(tmp_path / "none"), "--index", str(tmp_path / "none")],
        ["ask", "q", "-k", "99"],
    ):
        r = _rag(*args, env=env)
        assert r.returncode != 0, args
        assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("error:"), (args, r.stderr)
        assert "Traceback" not in r.stderr
    # A corpus that is not there, beside a built index: the index answers, and stderr says so.
    r = _rag("ask", "What is Belgium's proposed collaboration area?", "--json", env={**env, "RAG_CORPUS": str(tmp_path / "gone")})
    assert r.returncode == 0 and json.loads(r.stdout)["answer"] == "Cyber Defense Initiatives"
    assert r.stderr.strip() == f"note: corpus '{tmp_path / 'gone'}' not found; using the index at '{tmp_path / 'index'}' as it was built"
    r = _rag("ask", "--batch", "-", stdin='{"question": "fine"}\n\n\n{"question": ""}\n', env=env)
    assert r.stderr.startswith("error: -:4: the question is empty"), r.stderr  # the file's line, blank lines counted
    for stdin in ('{"q": "x"}\n', '{"question": "fine"}\n{"question": ""}\n'):  # no question / an empty one, on line 1 / 2
        r = _rag("ask", "--batch", "-", stdin=stdin, env=env)
        assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("error: -:"), r.stderr
    r = _rag("ask", "q", env={**env, "RAG_BACKEND": "bogus"})
    assert r.returncode == 1 and r.stderr.startswith("error: RAG_BACKEND='bogus': Input should be")
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.parametrize(
    "args, says",
    [
        (["index", "--corpus", "no-such-folder"], "corpus not found: no-such-folder"),
        (["index", "--index", "tests"], "tests is a folder that is not a rag index (no manifest.json) and is not empty"),
        (["ask", "q", "--index", "corpus"], "corpus is a folder that is not a rag index"),
        (["index", "--index", "README.md"], "README.md is a file, not an index folder"),
        (
            ["eval", "eval/sets/seed-dev.jsonl", "--split", "eval/sets/squad2_split.json:bogus"],
            "has no part 'bogus'; its parts are train, calibration, test",
        ),
        (["eval", "eval/sets/seed-dev.jsonl", "--split", "eval/sets/squad2_split.json"], "--split wants SPLIT_FILE:PART"),
        (["eval", "eval/sets/seed-dev.jsonl", "--split", "pyproject.toml:test"], "pyproject.toml is not a JSON split file"),
        (["eval", "eval/sets/seed-dev.jsonl", "--limit", "0"], "--limit"),
        (["serve", "--port", "70000"], "--port 70000: Input should be less than or equal to 65535"),
        (["search", " "], "the query is empty"),
        (["ask"], "give a question, or --batch FILE"),
        (["ask", "q", "--batch", "-"], "give a question or --batch FILE, not both"),
        (["ask", "q", "--mode", "foo"], "--mode 'foo'"),
        (["ask", "--batch", "no-such.jsonl"], "--batch no-such.jsonl: No such file or directory"),
        (["ask", "--batch", "corpus"], "--batch corpus: Is a directory"),
        # a server that cannot load would come up and answer 503 forever: it fails as the CLI does
        (
            ["serve", "--corpus", "no-such-folder", "--index", "no-such-index"],
            "corpus not found: no-such-folder (and no index at no-such-index)",
        ),
        (["serve", "--corpus", "api"], "no documents (.txt, .md, .markdown, .html, .htm, .pdf) or .jsonl records in api"),
    ],
)
def test_bad_options_are_one_line_errors(args, says):
    r = _rag(*args)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    assert says in " ".join(r.stderr.split()), r.stderr


@pytest.mark.parametrize(
    "model, says",
    [
        ("/no/such/model", "embedding model folder '/no/such/model' not found"),  # a path: nothing to pip install
        ("no-such-model-pkg", "install it with `pip install no-such-model-pkg`"),
    ],
)
def test_a_missing_model_says_what_to_do(model, says):
    r = _rag("ask", "q", env={"RAG_MODEL": model})
    assert r.returncode == 1 and says in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_a_bad_setting_from_the_environment_names_the_variable():
    r = _rag("ask", "q", env={"RAG_MODE": "foo"})
    assert r.returncode != 0 and "RAG_MODE='foo'" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_serve_on_a_taken_port_says_so_before_serving():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        r = _rag("serve", "--port", str(s.getsockname()[1]))
    assert r.returncode == 1 and r.stderr.startswith("error: cannot listen on 127.0.0.1:"), r.stderr
    assert "serving on" not in r.stderr


def test_rag_index_says_why_it_embeds_everything_again(tmp_path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "ferries.md").write_text("# Ferries\n\n| Port | Boats |\n|---|---|\n| Ostia | 4 |\n")
    env = {"RAG_CORPUS": str(tmp_path / "corpus"), "RAG_INDEX": str(tmp_path / "index")}
    first = _rag("index", env=env)
    assert first.returncode == 0 and "1 new" in first.stderr and "embedded again" not in first.stderr, first.stderr
    # Without a terminal: a line per stage instead of a bar (no empty line left by it), then one line per fact, unwrapped.
    lines = first.stderr.splitlines()
    assert lines[:3] == ["indexing: chunking 1 document", "indexing: embedding 2 texts", "indexing: writing"], first.stderr
    assert lines[3].startswith("indexed into ") and len(lines) == 5, first.stderr
    # A chunker setting changed: no vector can be reused, and the summary's "0 changed" needs the reason.
    again = _rag("index", env={**env, "RAG_TABLES": "false"})
    said = " ".join(again.stderr.split())  # rich wraps long lines
    assert again.returncode == 0, said
    assert "note: index was built with chunker settings tables=True (now tables=False): every document is embedded again" in said
    assert said.index("every document is embedded again") < said.index("indexing: embedding")  # said before the work
    assert "0 new, 0 changed, 0 removed, 1 unchanged documents (1 of them embedded again)" in said
    assert "rebuild it" not in said
    forced = _rag("index", "--rebuild", env={**env, "RAG_TABLES": "false"})
    assert "0 new, 0 changed, 0 removed, 1 unchanged documents (1 of them embedded again)" in " ".join(forced.stderr.split()), forced.stderr
    # A file of web boilerplate only is indexed as a document with no passages: say so, by name.
    (tmp_path / "corpus" / "menu.txt").write_text("Skip to content\nLatest\n")
    menu = _rag("index", env={**env, "RAG_TABLES": "false"})
    assert menu.returncode == 0 and "1 new" in menu.stderr, menu.stderr
    assert "note: 1 document with nothing to index (empty, or only web boilerplate): menu" in menu.stderr
    assert "subfolders" not in menu.stderr
    (tmp_path / "corpus" / "drafts").mkdir()
    (tmp_path / "corpus" / "drafts" / "x.md").write_text("# X\n\nA draft.\n")
    nested = _rag("index", env={**env, "RAG_TABLES": "false"})
    assert f"note: subfolders are not indexed, only the files directly in {tmp_path / 'corpus'}: drafts/" in " ".join(nested.stderr.split())
    # A file that is not UTF-8 is left out, by name and with the fix; the others are still indexed.
    (tmp_path / "corpus" / "legacy.txt").write_bytes("Caf\u00e9s\n\nOstia has caf\u00e9s.\n".encode("latin-1"))
    legacy = _rag("index", env={**env, "RAG_TABLES": "false"})
    said = " ".join(legacy.stderr.split())
    assert legacy.returncode == 0 and "Traceback" not in said, said
    assert f"note: skipped {tmp_path / 'corpus' / 'legacy.txt'}: not UTF-8 text" in said and "iconv" in said
    assert "is current: 2 documents" in said
    (tmp_path / "corpus" / "legacy.txt").unlink()
    # The flag lasts one build: say how to keep the next `rag ask` from rebuilding with the default.
    flag = _rag("index", "--tables", env={**env, "RAG_TABLES": "false"})
    assert flag.returncode == 0 and "set RAG_TABLES=true for rag ask" in " ".join(flag.stderr.split()), flag.stderr
    assert "RAG_TABLES" not in menu.stderr


def test_the_row_the_question_names_wins(real_index, embedder, answering):
    # "modernization" matches Germany's cell, but the question names Belgium's row.
    a = ask(real_index, embedder, "According to the modernization table, what is Belgium's focus area?", answering=answering)
    assert a.answer == "Enhancement of Rapid Response forces"


def test_a_question_naming_a_list_item_gets_that_item(real_index, embedder, answering):
    # The lead-in sentence shares more words with the question; the item the question names is the answer.
    a = ask(real_index, embedder, "What does Greater Intelligence Sharing involve?", answering=answering)
    assert a.answer is not None and "more robust intelligence collaboration" in a.answer


def test_a_description_out_of_the_items_order_does_not_name_it(real_index, embedder, answering):
    # "Intelligence Sharing: ..." is a list item; the question describes, in other order, what a sentence names.
    a = ask(
        real_index,
        embedder,
        "Which US network is cited for better sharing of intelligence and operational strategies among allied forces?",
        answering=answering,
    )
    assert a.answer is not None and "Intrepid Spirit Network" in a.answer


def test_a_sentence_that_points_back_is_read_with_the_one_before(real_index, embedder, answering):
    # "This project focuses on developing the F-35 Lightning II": the project is named one sentence before.
    a = ask(real_index, embedder, "Which jet does the Joint Strike Fighter program produce?", answering=answering)
    assert a.answer is not None and "F-35" in a.answer


def test_an_answer_that_points_back_starts_with_what_it_points_to(real_index, embedder, answering):
    # "This project focuses on developing the F-35 ..." alone does not say which project.
    a = ask(real_index, embedder, "Which program is building the F-35 Lightning II?", answering=answering)
    assert a.answer is not None and a.answer.startswith("A notable example of such collaboration is the Joint Strike Fighter program")
    assert "F-35" in a.answer and len(a.answer) <= 300
    doc = real_index.documents[a.answer_span.doc_id].text
    assert doc[a.answer_span.start : a.answer_span.end] == a.answer


def test_with_antecedent_only_when_it_points_back_and_fits(real_index):
    cands = real_index.candidates
    j = next(i for i, c in enumerate(cands) if c.text.startswith("This project focuses"))
    c = cands[j]
    text, s, _e = with_antecedent(real_index, j, c.text, c.start, c.end)
    assert s == cands[j - 1].start and text.endswith(c.text)
    # a window that starts inside the sentence does not open with the pointer: left alone
    assert with_antecedent(real_index, j, c.text[5:], c.start + 5, c.end) == (c.text[5:], c.start + 5, c.end)
    k = next(i for i, x in enumerate(cands) if x.kind == "sentence" and i > 0 and not _ANAPHOR.match(x.text))
    assert with_antecedent(real_index, k, cands[k].text, cands[k].start, cands[k].end)[1] == cands[k].start


def test_a_sentence_opening_with_a_noun_used_before_is_read_with_those_sentences(real_index, embedder, answering):
    # "... such collaboration is the Joint Strike Fighter program ... This project ... The collaboration
    # facilitates cost-sharing": the program is named two sentences before the answer.
    a = ask(
        real_index, embedder, "What does the Joint Strike Fighter partnership make easier for its partner nations?", answering=answering
    )
    assert a.answer is not None and "cost-sharing" in a.answer


def test_definite_back():
    from rag.scoring import _definite_back
    from rag.text import terms

    before = frozenset(terms("A notable example of such collaboration is the Joint Strike Fighter program."))
    assert _definite_back("The collaboration facilitates cost-sharing.", before)
    assert not _definite_back("The treaty was signed in 1954.", before)
    assert not _definite_back("Collaboration facilitates cost-sharing.", before)


def _answers_or_abstains(a, expected: str | None) -> None:
    """``expected`` in the answer, or (None) an abstention."""
    if expected is None:
        assert a.answer is None and a.abstained
    else:
        assert a.answer is not None and expected in a.answer


@pytest.mark.parametrize(
    "question, expected",
    [
        # the treaty's sentence names the treaty, not one signatory: nothing the question lacks
        ("Which nations took part in signing the Southeast Asia Collective Defense Treaty of 1954?", None),
        ("Which country opposes sending troops to Ukraine?", "Poland"),
        ("Which countries are part of the Quad?", "Japan"),
    ],
)
def test_a_question_asking_for_countries_needs_a_name_it_does_not_give(real_index, embedder, answering, question, expected):
    _answers_or_abstains(ask(real_index, embedder, question, answering=answering), expected)


def test_asks_for_names_and_the_corpus_names():
    from rag.rules import _asks_for_names, _new_name
    from rag.scoring import Scorer

    assert _asks_for_names("Which countries signed the treaty?") and _asks_for_names("What European city hosts it?")
    assert not _asks_for_names("What do nations gain by teaming up?") and not _asks_for_names("Who signed it?")

    class Cand:
        def __init__(self, text):
            self.text = text

    class Idx:  # an index without stored names: the scorer scans its candidates
        names = None
        candidates = [
            Cand("Troops went to Poland and then to Germany."),
            Cand("The plan adds Enhanced Military Cooperation."),
            Cand("Our military grows."),
            Cand("The military plan works."),
        ]

    scorer = Scorer.__new__(Scorer)
    scorer.index, scorer._names = Idx(), None
    assert {"poland", "germany", "enhanced", "cooperation"} <= scorer.names() and "military" not in scorer.names()
    assert _new_name(scorer, "poland", "Which country?") and not _new_name(scorer, "Poland is named.", "Which country but Poland?")
    # a city question is not answered by countries: "Which German city ...?" by "Germany and Poland"
    assert not _new_name(scorer, "Troops went to Poland and Germany.", "Which German city did troops go to?")
    assert _new_name(scorer, "Troops went to Poland and Germany.", "Which country did troops go to besides Germany?")


def test_a_list_item_is_not_outscored_for_being_an_item(real_index, embedder, answering):
    # The selector was fitted where list items are rare; the item that answers must still win.
    a = ask(real_index, embedder, "Which scarce resources might lead to conflicts as the climate changes?", answering=answering)
    assert a.answer is not None and "water and arable land" in a.answer


def test_a_rare_feature_is_capped():
    from rag.scoring import RARE_CAP, LinearModel

    m = LinearModel(("is_item", "sim"), (-1.0, 1.0), 0.0, (0.0002, 0.5), (0.014, 0.2))
    assert m.logit({"is_item": 1.0, "sim": 0.5}) == -RARE_CAP  # not -71
    assert m.logit({"is_item": 0.0, "sim": 0.9}) == pytest.approx(2.0 + 0.0002 / 0.014)  # a common feature is not capped


@pytest.mark.parametrize(
    "question, expected",
    [
        ("How many troops is Sweden sending to Ukraine?", None),  # "About 10 countries, including ... Sweden": countries, not troops
        ("How many nations are willing to send troops to Ukraine?", "10 countries"),
    ],
)
def test_a_number_must_count_what_how_many_asks(real_index, embedder, answering, question, expected):
    _answers_or_abstains(ask(real_index, embedder, question, answering=answering), expected)


def test_counts_other():
    from rag.rules import _counts_other

    assert _counts_other("How many soldiers has Denmark pledged?", "About 10 countries, including Denmark")
    assert not _counts_other("How many people live there?", "3.5 million inhabitants")
    assert not _counts_other("How many soldiers went?", "10,000 troops went")
    assert not _counts_other("How many troops?", "sent 2 of 3 Patriot batteries")
    assert not _counts_other("What is it?", "10 countries")
    # the counted phrase is read up to its verb: an adjective before the noun is not the noun
    assert not _counts_other("Approximately how many musical instruments were loaned?", "the loan of 35 instruments")
    assert not _counts_other("How many types of networks were there?", "There were two kinds of networks.")


def test_item_named():
    from rag.compose import _item_named
    from rag.types import Candidate

    text = "Intelligence Sharing: Establishing frameworks."
    item = Candidate(chunk_id="c", doc_id="d", kind="item", start=0, end=len(text), text=text, render=text)
    assert _item_named(item, "What does intelligence sharing involve?")
    assert _item_named(item, "What improves the sharing of intelligence?")
    assert not _item_named(item, "What is shared?")


def test_a_named_list_item_beats_a_table_row_the_question_does_not_name(real_index, embedder, answering):
    # A table row about supply chains scores close; the question names the "Resource Distribution" item.
    a = ask(real_index, embedder, "What is the Resource Distribution discussion topic meant to ensure?", answering=answering)
    assert a.answer is not None and "equitable sharing of defense responsibilities" in a.answer


def test_a_plural_question_gets_the_whole_list(real_index, embedder, answering):
    a = ask(real_index, embedder, "Which initiatives could the two countries pursue to expand defense diplomacy?", answering=answering)
    assert a.answer == "Increased Joint Exercises; Enhanced Training Programs; Greater Intelligence Sharing; Cultural Exchange Initiatives"


@pytest.mark.parametrize(
    "question, answer",
    [
        # the table's lead-in sentence was picked: the named row answers with its cell ...
        ("According to the article's table, what is Belgium's proposed collaboration area?", "Cyber Defense Initiatives"),
        # ... and a plural question with the asked column, never with raw "A | B |" lines
        (
            "According to the article's table, what are the proposed collaboration areas?",
            "Joint military Exercises; Cyber Defense Initiatives; Enhanced NATO Forward Presence",
        ),
        # two tables have a Poland row: the one whose column the question names wins
        ("Going by the tables in the Hegseth article, what is Poland's focus area?", "Defense Infrastructure Development"),
        # the question names a cell (or all but one of its four words) and asks for its row's key
        ("Which nation is tied to cyber defense initiatives in the proposed collaborations?", "Belgium"),
        ("Which nation will focus on rapid response forces?", "Belgium"),
    ],
)
def test_table_answers_come_from_the_named_row_and_column(real_index, embedder, answering, question, answer):
    a = ask(real_index, embedder, question, answering=answering)
    assert a.answer == answer
    first = a.citations[0]
    assert first.start <= a.answer_span.start and a.answer_span.end <= first.end and "|" in first.text


@pytest.mark.parametrize(
    "question, negated",
    [
        ("Which country opposes sending troops to Ukraine?", True),
        ("Which country is unwilling to send troops to Ukraine?", True),
        ("Which country doesn't want to send soldiers?", True),
        ("Which country is against sending troops?", True),
        ("What lies behind Warsaw's refusal to send soldiers?", True),  # the noun forms too
        ("What explains the reluctance of some allies to deploy?", True),
        ("Who was Tesla prejudiced against?", False),  # "against X" is not a refusal
        ("Which countries are willing to send troops to Ukraine?", False),
        # a contrast that says where to look, or a leading clause, is not what is asked
        ("In the table of modernization efforts (not the proposed collaboration areas table), what is Germany's focus area?", False),
        ("If Washington won't put its own soldiers in Ukraine, what other forms of backing could it offer?", False),
        ("What is expected from joint exercises in Vietnam, as opposed to the NATO talks?", False),
    ],
)
def test_negated_questions(question, negated):
    from rag.rules import _negated

    assert _negated(question) is negated


@pytest.mark.parametrize(
    "question",
    [
        "Which country opposes sending troops to Ukraine?",
        "Which country is unwilling to send troops to Ukraine?",
        "Which country is against sending troops?",
        # a paraphrase the selector ranks the refusal sixth for
        "Why is the Polish leadership reluctant to commit soldiers to a mission in Ukraine?",
    ],
)
def test_a_negated_question_is_not_answered_by_its_opposite(real_index, embedder, answering, question):
    # the willing countries were picked: the polarity of the answer must agree with the question's
    a = ask(real_index, embedder, question, answering=answering)
    assert a.answer and a.answer.startswith("Poland")
    willing = ask(real_index, embedder, "Which countries are willing to send troops to Ukraine?", answering=answering)
    assert "willingness" in willing.answer


def test_list_items_are_joined_without_their_own_full_stops(real_index, embedder, answering):
    a = ask(real_index, embedder, "What are the key benefits of public-private partnerships?", answering=answering)
    assert a.answer.startswith("Enhanced efficiency through shared resources; Accelerated development")


def test_a_list_answer_cites_the_list_not_only_its_lead_in(real_index, embedder, answering):
    # The lead-in ("Key topics of discussion are expected to include:") is one chunk and the items another; the
    # answer is taken from the items, so the first citation must hold them.
    a = ask(
        real_index,
        embedder,
        "What key topics are expected to be discussed as Hegseth's visits focus on reinforcing NATO alliances?",
        answering=answering,
    )
    assert a.answer and "Resource Distribution" in a.answer
    first = a.citations[0]
    assert first.doc_id == a.answer_span.doc_id and first.start <= a.answer_span.start and a.answer_span.end <= first.end
    assert "Resource Distribution" in first.text
    assert a.citations[1].text.endswith("expected to include:")


@pytest.mark.parametrize(
    "question",
    [
        "How much will the joint command center cost?",
        "When will the joint command center open?",
        # "involves several countries including ...": there are some, how many is not said
        "How many nations are part of the Joint Strike Fighter program?",
        # "hundreds of soldiers": some hundreds, the number is not given
        "How many soldiers will France station away from the front line?",
    ],
)
def test_no_number_or_date_means_no_answer(real_index, embedder, answering, question):
    # The command center is mentioned, but neither its cost nor a date: a close sentence without the
    # asked-for type of value must not be returned as the answer.
    a = ask(real_index, embedder, question, answering=answering)
    assert a.answer is None and a.abstained


def test_plural_questions():
    from rag.compose import _wants_list

    assert _wants_list("Which defense initiatives should the two countries expand?")
    assert _wants_list("What are the key tools?")
    assert not _wants_list("What is Belgium's focus area?")
    assert not _wants_list("What does the alliance focus on?")
    assert not _wants_list("Which process does the treaty set up?")


class _CountingReader:
    def __init__(self):
        self.seen: list[list[str]] = []

    def score(self, question, texts):
        import numpy as np

        self.seen.append(list(texts))
        return np.array([5.0 - i for i in range(len(texts))], dtype=np.float32)


@pytest.mark.parametrize(
    "scores, margin, read",
    [((3.0, 2.5, 0.1), 1.0, 2), ((3.0, 1.9, 0.1), 1.0, 1), ((3.0, 1.9, 0.1), float("inf"), 3), ((3.0, 2.9, 2.8), 1.0, 3)],
)
def test_the_reader_skips_candidates_far_behind_the_selectors_best(scores, margin, read):
    from types import SimpleNamespace

    from rag.answer import rerank
    from rag.scoring import _Scored

    cands = [SimpleNamespace(render=f"candidate {i}") for i in range(3)]
    scorer = SimpleNamespace(index=SimpleNamespace(candidates=cands), model=None)
    scored = [_Scored(i, None, s, {}) for i, s in enumerate(scores)]
    reader = _CountingReader()
    best = rerank(scorer, "q?", scored, reader, n=3, margin=margin)
    assert reader.seen == [[f"candidate {i}" for i in range(read)]]
    assert best is scored[0] and best.features["reader_max"] == 5.0


class _UnsureReader(_CountingReader):
    def __init__(self, first: float):
        super().__init__()
        self.first = first

    def score(self, question, texts):
        import numpy as np

        self.seen.append(list(texts))
        # unsure of the first reading; the first extra candidate is the one it believes
        return (
            np.full(len(texts), self.first, np.float32) if len(self.seen) == 1 else np.array([3.0] + [0.0] * (len(texts) - 1), np.float32)
        )


@pytest.mark.parametrize("first, reads", [(-1.0, 2), (1.0, 1)])
def test_an_unsure_reader_reads_more_candidates_but_keeps_its_first_confidence(first, reads):
    from types import SimpleNamespace

    from rag.answer import rerank
    from rag.scoring import _Scored

    cands = [SimpleNamespace(render=f"candidate {i}") for i in range(6)]
    scorer = SimpleNamespace(index=SimpleNamespace(candidates=cands), model=None)
    scored = [_Scored(i, None, s, {}) for i, s in enumerate((3.0, 2.5, 2.0, 1.5, 0.5, 0.0))]
    reader = _UnsureReader(first)
    best = rerank(scorer, "q?", scored, reader, n=2, margin=1.0, more=3, more_margin=2.0, more_below=0.5)
    assert len(reader.seen) == reads
    if reads == 2:  # the next three within 2 logits of the best (not candidate 4, 2.5 behind)
        assert reader.seen[1] == ["candidate 2", "candidate 3"]
        assert best is scored[2]
        assert best.features["reader_max"] == first  # the abstention threshold was calibrated on the first reading
    else:
        assert best is scored[0]


def test_the_reader_reads_the_best_candidates_within_the_margin():
    from rag.answer import reader_candidates
    from rag.scoring import _Scored

    scored = [_Scored(0, None, 3.0, {}), _Scored(1, None, 2.5, {}), _Scored(2, None, -1.0, {})]
    assert [c.j for c in reader_candidates(scored, n=2, margin=1.0)] == [0, 1]
    assert [c.j for c in reader_candidates(scored, n=3, margin=1.0)] == [0, 1]  # the third trails by 4 logits
    assert [c.j for c in reader_candidates(scored, n=3)] == [0, 1, 2]


def test_citation_heading_names_the_section_once():
    from rag.cli.output import where as _where

    assert _where("Hegseth to Visit Europe", "Focus Areas") == "Hegseth to Visit Europe — Focus Areas"
    assert _where("Hegseth to Visit Europe", "hegseth to visit europe ") == "Hegseth to Visit Europe"
    assert _where("Hegseth to Visit Europe", "") == "Hegseth to Visit Europe"


def test_a_year_or_number_the_passage_does_not_state_is_not_answered():
    from rag.constraints import constraints, unmet

    assert [c.text for c in constraints("What was the salary cap in 2025 for lane 4?")] == ["2025", "4"]
    assert [c.text for c in constraints("Which code do 18F staff use for F-35 work?")] == []  # parts of names
    passage = "The salary cap was 191,900 dollars as of 2024."
    assert [c.text for c in unmet("What was the salary cap in 2025?", passage)] == ["2025"]
    assert unmet("What was the salary cap in 2024?", passage) == []
    assert unmet("How many hours for employees with 3 years of service?", "Fewer than three years: 4 hours") == []
    assert [c.text for c in unmet("What is the toll for 19 axles?", "A truck with 190 axles pays more.")] == ["19"]


def test_an_ordinal_the_passage_does_not_state_is_not_answered():
    from rag.constraints import constraints, unmet

    assert [(c.kind, c.text) for c in constraints("Which firm was the harbour's third tenant?")] == [("ordinal", "third")]
    passage = "In 2019 the harbour also signed its second tenant, a ferry company."
    assert [c.text for c in unmet("Which firm was the harbour's third tenant?", passage)] == ["third"]
    assert unmet("Which firm was the harbour's second tenant?", passage) == []
    assert unmet("Which firm was the harbour's third tenant?", "Its 3rd tenant was a bakery.") == []
    # a list item or a table row states its place by where it stands
    assert unmet("What is the third step on the list?", "Paint the hull.", positional=True) == []
    # not ordinals: a name ("the Second Ferry Act"), the unit of time, "first"
    assert constraints("What did the Second Ferry Act change?") == []
    assert constraints("How far does the ferry move in a second?") == []
    assert constraints("Which firm was the harbour's first tenant?") == []


def test_the_polarity_rule_picks_the_candidate_that_refuses():
    # synthetic: the selector's best agrees, the second refuses; a question about a refusal takes the second
    from types import SimpleNamespace

    from rag.rules import RULES, Context, _Scored

    texts = ["Norway will send troops to the exercise.", "Chile refuses to send troops to the exercise."]
    cands = [SimpleNamespace(text=t) for t in texts]
    scored = [_Scored(0, None, 2.0, {"ctx": 1.0}), _Scored(1, None, 1.0, {"ctx": 1.0})]
    ctx = Context(SimpleNamespace(index=SimpleNamespace(candidates=cands)), "Which country refuses to send troops?", scored, (), "other")
    pick, conf = RULES["polarity"].fn(ctx, scored[0], 0.7)
    assert pick is scored[1] and conf == 0.7
    agreeing = Context(ctx.scorer, "Which country will send troops?", scored, (), "other")
    assert RULES["polarity"].fn(agreeing, scored[0], 0.7) == (scored[0], 0.7)


def test_rates_fees_and_phone_numbers_ask_for_an_amount_or_digits():
    assert expected_type("What is the parking fee per day?") == "money"
    assert expected_type("What is the weekly shuttle fare?") == "money"
    assert expected_type("What is the daily meal allowance rate for the capital?") == "money"
    assert expected_type("What is the rate of erosion of the cliffs?") == "other"  # may be "slow"
    assert expected_type("What is the phone number of the front desk?") == "number"
    assert not type_match("money", "The parking fee is set by the building office.")
    assert type_match("money", "Parking costs $12 a day.")


def test_a_time_span_is_not_an_amount():
    assert expected_type("How much does the bus cost per hour?") == "money"
    assert not type_match("money", "Book it at least 72 hours before; 2-3 business days is better.")
    assert type_match("money", "It costs 5,000 francs.")
    assert expected_type("How much time did the crew spend at sea?") == "duration"


def test_a_question_for_a_name_asks_for_names():
    from rag.rules import _asks_for_names

    assert _asks_for_names("What is the name of the harbour's pilot?")
    assert _asks_for_names("What was its official name?") and _asks_for_names("What are the names of the two ferries?")
    assert not _asks_for_names("What is the namesake of the bridge?") and not _asks_for_names("What does the pilot name first?")


def test_a_when_clause_that_sets_the_scene_asks_no_date():
    assert expected_type("When did the night ferry start running?") == "date"
    assert expected_type("When the ferry is late, what should passengers do?") == "other"
    assert expected_type("When booking a cabin, do I need to show a ticket?") == "other"  # a yes/no question
    assert expected_type("When booking a cabin, how many berths can I take?") == "number"
