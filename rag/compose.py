"""Turning the chosen candidate into the answer a user reads: a table row's cell, a list after its
lead-in, the clauses of a long sentence that answer, a sentence that points back with the one before."""

from __future__ import annotations

import re

from rag.limits import MAX_ANSWER_CHARS
from rag.scoring import _ANAPHOR, Scorer, _Scored
from rag.store import Index
from rag.tables import Similarity, choose_row, named_row, names_row, pick_cell
from rag.text import terms
from rag.types import Candidate, Cell


def shorten(text: str, question: str, limit: int = MAX_ANSWER_CHARS) -> tuple[int, int]:
    """The span of ``text`` to return: all of it if short, else the best clause window under ``limit``."""
    if len(text) <= limit:
        return 0, len(text)
    q = set(terms(question))
    parts = [(m.start(), m.end()) for m in re.finditer(r"[^,;:—–()]+[,;:—–()]?", text)]
    best, best_ab = -1.0, None
    for a in range(len(parts)):
        for b in range(a, len(parts)):
            s, e = parts[a][0], parts[b][1]
            if e - s > limit:
                break
            seg = text[s:e]
            score = len(q & set(terms(seg))) - 0.001 * (e - s)
            if score > best:
                best, best_ab = score, (a, b)
    if best_ab is None:
        s, e = 0, limit
    else:
        # The window that best covers the question's words is where the question is, not its answer:
        # that is the part the question does not repeat, most often the clauses after it ("... is the
        # ease with which people" + ", youth in particular, can obtain controlled substances"). So the
        # window grows by whole clauses, rightward first, while it fits.
        a, b = best_ab
        while b + 1 < len(parts) and parts[b + 1][1] - parts[a][0] <= limit:
            b += 1
        while a > 0 and parts[b][1] - parts[a - 1][0] <= limit:
            a -= 1
        s, e = parts[a][0], parts[b][1]
    while s < e and text[s] in " ,;:":
        s += 1
    while e > s and text[e - 1] in " ,;:":
        e -= 1
    return s, e


_AUX = r"(are|were|include|does|do|did|should|could|would|can|will|may|might|must|have|has|had)"


def _wants_list(question: str) -> bool:
    """A plural question: "what are ...", "list ...", "which (adjective) initiatives should ..."."""
    q = question.lower()
    if re.match(r"^(what|which) (are|were)\b|^(list|name)\b", q) or " include" in q:
        return True
    # "what/which" + up to three modifiers + a plural noun + an auxiliary verb.
    return bool(re.match(rf"^(what|which)(?: [\w-]+){{0,3}}? [a-z-]+[^s']s {_AUX}\b", q))


def _fitting(parts: list[str], whole: bool) -> int:
    """How many of a list's first parts, joined by "; ", fit an answer; with ``whole``, all or none."""
    n, length = 0, -2
    for p in parts:
        length += len(p) + 2
        if length > MAX_ANSWER_CHARS:
            break
        n += 1
    return n if n == len(parts) or not whole else 0


def _list_after(index: Index, cand: Candidate) -> list[Candidate] | None:
    """The items of a list or the rows of a table introduced by ``cand`` ("... include:")."""
    row = index.chunk_row[cand.chunk_id] + 1
    if row < len(index.chunks):
        nxt = index.chunks[row]
        gap = index.documents[cand.doc_id].text[cand.end : nxt.start] if cand.doc_id in index.documents else "x"
        if nxt.doc_id == cand.doc_id and nxt.kind in ("list", "table") and not gap.strip(" \t\r\n|-"):
            return [index.candidates[j] for j in index.candidates_of[row]]
    return None


def _head_terms(cand: Candidate) -> list[str]:
    """A list item's head ("Intelligence Sharing" of "Intelligence Sharing: ..."), as terms."""
    return terms(re.split(r":\s", cand.text, maxsplit=1)[0])


def _table_rows(index: Index, cand: Candidate) -> list[Candidate]:
    """The rows of the table ``cand`` is a row of: its passage's rows, and those of the passages
    before and after it that continue the same table (a long table is cut into several passages,
    with nothing between them)."""
    row = index.chunk_row[cand.chunk_id]
    doc = index.documents.get(cand.doc_id)

    def rows_of(r: int) -> list[Candidate]:
        return [index.candidates[j] for j in index.candidates_of[r] if index.candidates[j].kind == "row"]

    def heads(r: int) -> list[str]:
        rows = rows_of(r)
        return [c.header for c in rows[0].cells] if rows else []

    def continued(a: int, b: int) -> bool:
        """Whether passage ``b`` continues the table of passage ``a`` just before it."""
        x, y = index.chunks[a], index.chunks[b]
        if doc is None or not (x.doc_id == y.doc_id == cand.doc_id and x.kind == y.kind == "table"):
            return False
        return not doc.text[x.end : y.start].strip() and heads(a) == heads(b)

    first, last = row, row
    while first > 0 and continued(first - 1, first):
        first -= 1
    while last + 1 < len(index.chunks) and continued(last, last + 1):
        last += 1
    return [c for r in range(first, last + 1) for c in rows_of(r)]


def _table_answer(index: Index, cand: Candidate, question: str, similar: Similarity | None) -> tuple[Candidate, Cell | None]:
    """The row of ``cand``'s table the question names (``cand`` unless another is named more) and
    the cell of it the question asks for."""
    rows = _table_rows(index, cand)
    row = choose_row(question, cand, rows)
    return row, pick_cell(row, question, rows, similar)


def _item_named(cand: Candidate, question: str) -> bool:
    """The question names this item's head ("what do rapid response capabilities ..."): answer the
    item, not its whole list."""
    head = _head_terms(cand)
    qset = set(terms(question))
    return len(head) >= 2 and sum(t in qset for t in head) / len(head) >= 0.75


def with_antecedent(index: Index, j: int, text: str, s: int, e: int) -> tuple[str, int, int]:
    """An answer that opens by pointing back (``_ANAPHOR``: "It includes large public works ...") does
    not say what it is about: the sentence before it in the same passage does, so it goes first when
    both fit the answer's length. After the checks: the abstention rules judge the picked sentence alone."""
    cand = index.candidates[j]
    doc = index.documents.get(cand.doc_id)
    if cand.kind != "sentence" or s != cand.start or not _ANAPHOR.match(text) or j == 0 or doc is None:
        return text, s, e
    prev = index.candidates[j - 1]
    if prev.chunk_id != cand.chunk_id or prev.kind != "sentence" or e - prev.start > MAX_ANSWER_CHARS:
        return text, s, e
    return doc.text[prev.start : e], prev.start, e


def compose(scorer: Scorer, best: _Scored, question: str, similar: Similarity | None = None) -> tuple[str, int, int]:
    """The answer text and its span in the document; ``similar`` tells a table's column asked in other
    words than its header's (see ``rag.tables``)."""
    index = scorer.index
    cand = index.candidates[best.j]
    if cand.kind == "row":
        cand, cell = _table_answer(index, cand, question, similar)
        if cell is not None:
            return cell.value, cell.start, cell.end
    items = None
    # A sentence introducing a list ("... in the following situations:") says nothing by itself: a list
    # too long to give whole answers with its first items. (An item introducing sub-items may say much:
    # "Send an email at least 12 hours before ... with the following:".)
    lead_in = cand.kind == "sentence" and cand.text.rstrip().endswith(":")
    if cand.kind == "item" and _wants_list(question) and not _item_named(cand, question):
        row = index.chunk_row[cand.chunk_id]
        items = [index.candidates[j] for j in index.candidates_of[row]]
    elif cand.kind == "sentence" and (cand.text.rstrip().endswith(":") or _wants_list(question)):
        # A lead-in ("... include:") or a paragraph followed by the list a plural question asks for.
        last = index.candidates_of[index.chunk_row[cand.chunk_id]][-1]
        lead = index.candidates[last]
        if cand.text.rstrip().endswith(":") or lead.text.rstrip().endswith(":"):
            items = _list_after(index, lead)
    if items and items[0].kind == "row":
        # A table after its lead-in: the row the question names answers with its cell; otherwise the
        # asked column, one cell per row (never the raw "A | B |" lines).
        named = named_row(question, items)
        if named is not None and names_row(question, named, items) and (cell := pick_cell(named, question, items, similar)) is not None:
            return cell.value, cell.start, cell.end
        picked = [pick_cell(it, question, items, similar) for it in items]
        cells = [c for c in picked if c is not None]
        if cells and len(cells) == len(picked):
            n = _fitting([c.value for c in cells], whole=not lead_in)
            if n:
                return "; ".join(c.value for c in cells[:n]), cells[0].start, cells[n - 1].end
    elif items:
        # "; " separates the items: an item's own full stop before it would read ".;"
        heads = [re.split(r":\s", it.text, maxsplit=1)[0].rstrip(" .;") for it in items]
        n = _fitting(heads, whole=not lead_in)
        if n:
            return "; ".join(heads[:n]), items[0].start, items[n - 1].end
    s, e = shorten(cand.text, question)
    return cand.text[s:e], cand.start + s, cand.start + e
