"""Answers from a table: the row a question describes and the cell it asks for.

A question about a table does two things: it *names* some cells of one row, which identify the row
("... of Kiwi", "Which fruit costs $0.80?"), and it *asks* for another column ("the origin", "how much",
"which fruit"). A row is chosen by the cells the question names, each word weighted by how few rows
of the table hold it, a cell counting more the more of it is named ("Kiwi" in full beats one word of
a long description). The asked column is scored by:

- its header's words among the question's (stemmed), most for the header mentioned first after the
  question word ("What is the *price* of the fruit whose *origin* is ...?");
- when it mentions no header: how close the column (its header and a few values) is in meaning to
  what the question asks, through a text-similarity function passed in (the embedder's cosine in
  production): "how often" and "Frequency: Weekly, Daily";
- the question's expected answer type against the cell ("how much" wants an amount);
- what the question already says: a named cell identifies the row, it is not the answer.

The first column is the row's key. A question that names another cell of the row, not the key, and
asks for no other column asks for the key ("Which fruit comes from New Zealand?"); one that names
the key asks for something else. An empty cell is no answer; an empty header (the key column of a
comparison table) names nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rag.kinds import CHECKED_TYPES, QUANTITY, expected_type, type_match
from rag.text import terms, words
from rag.types import Candidate, Cell

# The cosine similarity of a text to each of several texts.
Similarity = Callable[[str, Sequence[str]], Sequence[float]]

# A cell this much named (the weighted share of its words in the question) identifies the row.
NAMED = 0.5
# Column signals, in units of a header named in full; set on bench/tables.py.
HEADER_WEIGHT = 2.0
FIRST_WEIGHT = 1.5
SIMILARITY_WEIGHT = 2.0  # times a cosine's difference from the columns' mean
TYPE_WEIGHT = 1.0
NAMED_WEIGHT = 2.0
KEY_WEIGHT = 1.0
QUANTITY_WEIGHT = 0.5
# Naming a row: the key names it more than another cell with the same words, and a value quoted
# whole more than its words scattered.
KEY_NAMES = 1.5
QUOTED = 2.0
# A column's text for the similarity: its header and this many of its values, each cut to this many words.
COLUMN_VALUES = 3
COLUMN_WORDS = 6

_WH = frozenset("what which who whom whose when where why how".split())


def _same(a: str, b: str) -> bool:
    """Two stems of one word: equal, or one a short extension of the other ("attend", "attende")."""
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) >= 4 and len(long_) - len(short) <= 2 and long_.startswith(short)


def _found(term: str, have: set[str] | frozenset[str]) -> bool:
    if term in have:
        return True
    if len(term) < 4:
        return False
    stem = term[:4]
    return any(h.startswith(stem) and _same(term, h) for h in have)


def _quotes(question: str, value: str) -> bool:
    """Whether the question holds the value whole, as written ("1.0.1", not only its digits)."""
    pattern = r"(?<!\w)" + re.escape(" ".join(value.split())) + r"(?!\w)"
    return re.search(pattern, " ".join(question.split()), re.I) is not None


@lru_cache(maxsize=65536)
def _terms(text: str) -> frozenset[str]:
    """A text's terms, once per text: every row of a table is scored for every question."""
    return frozenset(terms(text))


def _idf(groups: Sequence[set[str]]) -> dict[str, float]:
    df: dict[str, int] = {}
    for g in groups:
        for t in g:
            df[t] = df.get(t, 0) + 1
    return {t: math.log((len(groups) + 1) / d) for t, d in df.items()}


@dataclass
class Table:
    """The rows of one table, with the weight of each word of its cells (how few rows hold it) and of
    each word of its headers (how few headers hold it: "timesheet" in "Tock timesheet" and "HRLinks
    timesheet" tells neither column)."""

    rows: Sequence[Candidate]

    def __post_init__(self) -> None:
        self._weight = _idf([{t for c in r.cells for t in _terms(c.value)} for r in self.rows])
        self._unseen = math.log(len(self.rows) + 1)
        widest = max(self.rows, key=lambda r: len(r.cells))
        self.headers = [c.header for c in widest.cells]
        self._head_terms = [set(_terms(h)) for h in self.headers]
        self._head_weight = _idf(self._head_terms)
        self._asked: dict[frozenset[str], set[str]] = {}

    def weight(self, term: str) -> float:
        return self._weight.get(term, self._unseen)

    def asked(self, question_terms: set[str]) -> set[str]:
        """The question's words that name a column: they ask, they do not name a row."""
        key = frozenset(question_terms)
        if key not in self._asked:
            heads = set(self._head_weight)
            self._asked[key] = {q for q in question_terms if _found(q, heads)}
        return self._asked[key]

    def header_share(self, k: int, question_terms: set[str]) -> float:
        """The weighted share of column ``k``'s header words that the question uses."""
        h = self._head_terms[k] if k < len(self._head_terms) else set()
        total = sum(self._head_weight[t] for t in h)
        return sum(self._head_weight[t] for t in h if _found(t, question_terms)) / total if total else 0.0

    def header_match(self, k: int, question_terms: set[str]) -> float:
        """How much the question names column ``k``: three quarters for the weighted share of its
        header's words the question uses, a quarter for the share of the question's header words it
        covers (of "int keys (ms)" and "int keys sorted (ms)", "the int keys sorted" asks for the second)."""
        h = self._head_terms[k] if k < len(self._head_terms) else set()
        if not h:
            return 0.0
        share = self.header_share(k, question_terms)
        asked = self.asked(question_terms)
        covered = sum(any(_same(a, t) for t in h) for a in asked) / len(asked) if asked else share
        return 0.75 * share + 0.25 * covered

    def column_text(self, k: int) -> str:
        """A column as its meaning is compared with a question's: its header and a few of its values
        ("Cadence: Weekly, Daily, Quarterly" says "how often" better than "Cadence" alone)."""
        values = list(
            dict.fromkeys(" ".join(r.cells[k].value.split()[:COLUMN_WORDS]) for r in self.rows if k < len(r.cells) and r.cells[k].value)
        )
        return f"{self.headers[k]}: {', '.join(values[:COLUMN_VALUES])}" if values else self.headers[k]

    def first_asked(self, question: str) -> set[int]:
        """The columns whose header the question mentions first after its question word: the one it
        asks for ("What is the *time* of the step whose *owner* is ...?"). Empty when it mentions none."""
        ws = words(question)
        start = next((i for i, w in enumerate(ws) if w in _WH), 0)
        for w in ws[start:]:
            for t in terms(w):
                hit = {k for k, ht in enumerate(self._head_terms) if any(_same(t, h) for h in ht)}
                if hit:
                    return hit
        return set()

    def naming(self, row: Candidate, question: str) -> list[tuple[float, float]]:
        """For each cell of ``row``: (its evidence that the question names it, the weighted share of its
        words the question uses). Words that name columns name no cell. A word names one cell only:
        the cell named most claims it first, so a cell whose words all lie inside a longer named cell
        ("Ann" in "Ann reviews requests") is not named by them. The key names its row more than
        another cell, and a value the question quotes whole (not as part of a longer value it quotes)
        more than one whose words are scattered."""
        q = set(_terms(question))
        left = q - self.asked(q)
        out = [(0.0, 0.0)] * len(row.cells)
        cell_terms = [_terms(c.value) for c in row.cells]
        pending = [k for k, ts in enumerate(cell_terms) if any(_found(t, left) for t in ts)]
        if not pending:
            return out
        values = [c.value.casefold() for c in row.cells]
        quoted = [k in pending and _quotes(question, values[k]) for k in range(len(values))]
        quoted = [
            quoted[k] and not any(quoted[j] and len(values[j]) > len(values[k]) and values[k] in values[j] for j in range(len(values)))
            for k in range(len(values))
        ]
        while pending and left:
            scores = {}
            for k in pending:
                total = sum(self.weight(t) for t in cell_terms[k])
                found = sum(self.weight(t) for t in cell_terms[k] if _found(t, left))
                share = found / total
                bonus = (KEY_NAMES if k == 0 else 1.0) * (QUOTED if quoted[k] and share == 1.0 else 1.0)
                scores[k] = (found * (0.5 + 0.5 * share) * bonus, share)
            best = max(pending, key=lambda k: scores[k][0])
            if scores[best][0] <= 0:
                break
            out[best] = scores[best]
            left = {t for t in left if not _found(t, cell_terms[best])}
            pending.remove(best)
        return out

    def row_score(self, row: Candidate, question: str) -> float:
        """How much the question names this row."""
        return sum(score for score, _share in self.naming(row, question))


@lru_cache(maxsize=256)
def _table(rows: tuple[Candidate, ...]) -> Table:
    return Table(rows)


def table_of(row: Candidate, rows: Sequence[Candidate] = ()) -> Table:
    """The table of ``rows`` (with ``row`` among them), built once for the questions that ask it."""
    rows = tuple(rows)
    return _table(rows if row in rows else (*rows, row))


def choose_row(question: str, row: Candidate, rows: Sequence[Candidate] = ()) -> Candidate:
    """The row of ``rows`` (its table) that the question describes: ``row`` (the one found for the
    question) unless another is named more."""
    if len(rows) < 2:
        return row
    table = table_of(row, rows)
    scores = [table.row_score(r, question) for r in rows]
    own = table.row_score(row, question)
    best = max(range(len(rows)), key=lambda i: scores[i])
    return rows[best] if scores[best] > own else row


def named_row(question: str, rows: Sequence[Candidate]) -> Candidate | None:
    """The row the question names more than any other, or None."""
    if not rows:
        return None
    table = table_of(rows[0], rows)
    scores = [table.row_score(r, question) for r in rows]
    best = max(scores)
    return rows[scores.index(best)] if best > 0 and scores.count(best) == 1 else None


def names_row(question: str, row: Candidate, rows: Sequence[Candidate] = ()) -> bool:
    """Whether the question names a cell of ``row`` (its key, or any other cell) as a row of ``rows``."""
    table = table_of(row, rows)
    return any(share >= NAMED for _score, share in table.naming(row, question))


def _unnamed_words(question: str, named: set[str]) -> str:
    """The question without the words that name cells: what it asks ("How often is held?")."""
    return " ".join(w for w in re.findall(r"[\w'’-]+", question) if not (terms(w) and all(_found(t, named) for t in terms(w))))


def cell_scores(
    question: str, row: Candidate, rows: Sequence[Candidate] = (), similar: Similarity | None = None
) -> list[tuple[float, Cell]]:
    """The non-empty cells of ``row`` that may answer ``question``, each with its score (higher is
    better); the cells the question names are left out unless nothing else is left."""
    table = table_of(row, rows)
    q = set(terms(question))
    kind = expected_type(question)
    named = [share for _score, share in table.naming(row, question)]
    options = [k for k, c in enumerate(row.cells) if c.value]
    mentioned = table.first_asked(question)
    if not options or (mentioned and all(k >= len(row.cells) or not row.cells[k].value for k in mentioned)):
        return []  # the column asked for is empty in this row: the table does not say
    asked = [k for k in options if named[k] < NAMED] or options
    others_named = any(named[k] >= NAMED for k in options if k != 0)
    # the column mentioned first is asked, unless its cell is named ("Which plan has Ann as its owner?")
    first = {k for k in mentioned if k < len(named) and named[k] < NAMED}
    # what the question asks in other words than a header's (none of which it mentions): the question
    # without its words that name cells (and the headers of the cells it names), against each column
    sims = [0.0] * len(row.cells)
    headed = [k for k in asked if row.cells[k].header]
    if similar is not None and len(headed) > 1 and not first:
        said = {t for k, c in enumerate(row.cells) if named[k] > 0 for t in _terms(c.value)}
        said |= {t for k, c in enumerate(row.cells) if named[k] >= NAMED for t in _terms(c.header)}
        text = _unnamed_words(question, said)
        got = list(similar(text, [table.column_text(k) for k in headed])) if text else [0.0] * len(headed)
        mean = sum(got) / len(got)
        for k, s in zip(headed, got):
            sims[k] = s - mean
    out = []
    for k in asked:
        c = row.cells[k]
        s = HEADER_WEIGHT * table.header_match(k, q) + (FIRST_WEIGHT if k in first else 0.0)
        s += SIMILARITY_WEIGHT * sims[k] - NAMED_WEIGHT * named[k]
        if kind in CHECKED_TYPES:
            s += TYPE_WEIGHT if type_match(kind, c.value) else -TYPE_WEIGHT
        elif QUANTITY.match(c.value.strip()):
            s -= QUANTITY_WEIGHT  # an amount answers "how much", rarely "what" or "where"
        if k == 0:
            # the row's name is asked when the question names the row by another cell and asks for
            # no other column first; otherwise it is how the row is looked up, not what it gives
            s += KEY_WEIGHT if others_named and (not first or 0 in first) else -KEY_WEIGHT
        out.append((s, c))
    return out


def pick_cell(row: Candidate, question: str, rows: Sequence[Candidate] = (), similar: Similarity | None = None) -> Cell | None:
    """The cell of ``row`` the question asks for (the leftmost best)."""
    scored = cell_scores(question, row, rows, similar)
    return max(scored, key=lambda x: x[0])[1] if scored else None


def answer_cell(
    question: str, row: Candidate, rows: Sequence[Candidate] = (), similar: Similarity | None = None
) -> tuple[Candidate, Cell] | None:
    """The row of ``rows`` the question describes (``row`` unless another is named more) and the cell
    of it the question asks for."""
    chosen = choose_row(question, row, rows)
    cell = pick_cell(chosen, question, rows, similar)
    return (chosen, cell) if cell is not None else None
