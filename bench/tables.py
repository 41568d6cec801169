"""Table answers measured on many real tables (a script, not a test).

Tables come from markdown found offline: the long descriptions (METADATA) and markdown files of the
installed Python packages, the handbook corpus, and any folders given with --extra. Each is read as
the service reads it (rag.formats.markdown, then the chunker), and questions are generated from
templates with the cell each must be answered with:

    attribute  What is the <header> of <key>?
    have       What <header> does <key> have?
    listed     For <key>, what is listed under <header>?
    key        Which <key header> has <value> as its <header>?      (asks for the key)
    via        What is the <header> of the <key header> whose <other header> is <value>?
               (names a cell other than the key, asks for a third column)
    typed      How long is <key>? / When is <key>? / How many ... for <key>?   (no header named: the one
               column whose every value is of the kind the question word asks for)

    python bench/tables.py cells [--extra DIR ...] [--no-embedder]
        the cell chosen, given the row found for the question: the replaced logic against rag.tables,
        from the right row and from another row of the same table
    python bench/tables.py cases --out FILE
        the handbook's cases as JSONL, for `ask` (generated once, so every version is asked the same)
    python bench/tables.py ask --cases FILE --index DIR
        end to end through rag.ask on an index of the handbook; runs on older versions of rag too
"""

from __future__ import annotations

import argparse
import email
import hashlib
import json
import random
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HANDBOOK = ROOT / "eval" / "corpora" / "tts-handbook"
MAX_WORDS = 8  # a value a question would quote whole
PER_TABLE = 24  # cases per template and table at most: a long table does not outweigh the rest
TEMPLATES = {
    "attribute": "What is the {header} of {key}?",
    "have": "What {header} does {key} have?",
    "listed": "For {key}, what is listed under {header}?",
    "key": "Which {key_header} has {value} as its {header}?",
    "via": "What is the {header} of the {key_header} whose {other} is {value}?",
    "typed": "",
}
TYPED = {"duration": "How long is {key}?", "date": "When is {key}?", "number": "How many are there for {key}?"}


@dataclass(frozen=True)
class Case:
    template: str
    question: str
    table: str  # id of the table: its source and position
    row: int  # the row the question is about
    answer: str  # the value of the cell that answers


# -- tables ------------------------------------------------------------------------------------
def _package_sources() -> Iterator[tuple[str, str]]:
    """(name, markdown) of every installed package's markdown description and markdown files."""
    seen = set()
    for sp in sorted({Path(p) for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()}):
        for meta in sorted(sp.glob("*.dist-info/METADATA")):
            msg = email.message_from_string(meta.read_text(errors="replace"))
            if "markdown" in (msg.get("Description-Content-Type") or "") and msg.get_payload():
                yield meta.parent.name, str(msg.get_payload())
        for f in sorted(sp.rglob("*.md")):
            if ".dist-info" not in str(f) and f not in seen:
                seen.add(f)
                yield str(f.relative_to(sp)), f.read_text(errors="replace")


def _folder_sources(folder: Path) -> Iterator[tuple[str, str]]:
    for f in sorted(folder.rglob("*.md")):
        if f.is_file():
            yield str(f), f.read_text(errors="replace")


def _documents(extra: list[Path], packages: bool = True, handbook: bool = True):
    from rag.corpus import load_corpus
    from rag.formats.markdown import clean
    from rag.types import Document

    if handbook:
        for d in load_corpus(HANDBOOK, skipped=[]):
            yield "handbook", d
    sources = [
        *(("packages", s) for s in (_package_sources() if packages else ())),
        *(("extra", s) for f in extra for s in _folder_sources(f)),
    ]
    for origin, (name, body) in sources:
        try:
            _front, text, _offsets, _title = clean(body, name, site=False)
        except Exception:  # a file the parser refuses holds no table
            continue
        yield origin, Document(name, name, text, "0")


def _words(s: str) -> int:
    return len(s.split())


def collect(extra: list[Path], packages: bool = True, handbook: bool = True) -> dict[str, tuple[str, list]]:
    """id -> (origin, row candidates) of every table worth asking about: two columns and two rows at
    least, most cells filled, every row with a distinct key, and one named column besides the key.
    Identical tables (two packages' copies of one README) count once."""
    from rag.chunking import Chunker, ChunkerConfig

    chunker = Chunker(_words, ChunkerConfig(max_tokens=10**9))  # one chunk per table
    tables: dict[str, tuple[str, list]] = {}
    seen: set[str] = set()
    for origin, doc in _documents(extra, packages, handbook):
        chunks, cands = chunker.chunk(doc)
        for n, chunk in enumerate(c for c in chunks if c.kind == "table"):
            rows = [c for c in cands if c.chunk_id == chunk.id]
            if not _usable(rows):
                continue
            digest = hashlib.sha1(
                json.dumps([[c.header for c in rows[0].cells], *[[c.value for c in r.cells] for r in rows]]).encode()
            ).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            tables[f"{doc.id}#{n}"] = (origin, rows)
    return tables


def _usable(rows: list) -> bool:
    from rag.text import terms

    if len(rows) < 2:
        return False
    width = len(rows[0].cells)
    if width < 2 or any(len(r.cells) != width for r in rows):
        return False
    filled = sum(bool(c.value) for r in rows for c in r.cells)
    if filled < 0.8 * width * len(rows):
        return False
    keys = [_norm(r.cells[0].value) for r in rows]
    if not all(keys) or len(set(keys)) < len(keys) or not all(terms(r.cells[0].value) for r in rows):
        return False
    return bool(_columns(rows))


def _norm(s: str) -> str:
    return " ".join(s.casefold().split())


def _columns(rows: list) -> list[int]:
    """Columns a question can name: a header of its own (not empty, not a stand-in, not repeated)."""
    heads = [c.header for c in rows[0].cells]
    counts = Counter(_norm(h) for h in heads)
    return [k for k, h in enumerate(heads) if k > 0 and h and not re.fullmatch(r"Column \d+", h) and counts[_norm(h)] == 1]


def _key_phrase(rows: list, i: int) -> str | None:
    """How a question names row ``i``: its key, or the first words of a long key when no other key starts so."""
    key = rows[i].cells[0].value
    if _words(key) <= MAX_WORDS:
        return key
    head = " ".join(key.split()[:4])
    others = [r.cells[0].value for k, r in enumerate(rows) if k != i]
    return None if any(_norm(o).startswith(_norm(head)) for o in others) else head


def generate(tables: dict[str, tuple[str, list]], seed: int = 0) -> list[Case]:
    from rag.text import terms

    rng = random.Random(seed)
    cases: list[Case] = []
    for tid, (_origin, rows) in tables.items():
        key_header = rows[0].cells[0].header
        per: dict[str, list[Case]] = defaultdict(list)
        for k in _columns(rows):
            header = rows[0].cells[k].header
            if _norm(header) == _norm(key_header):
                continue
            column = Counter(_norm(r.cells[k].value) for r in rows)
            for i, r in enumerate(rows):
                value = r.cells[k].value
                key = _key_phrase(rows, i)
                if not value:
                    continue
                if key is not None:
                    for name in ("attribute", "have", "listed"):
                        per[name].append(Case(name, TEMPLATES[name].format(header=header, key=key), tid, i, value))
                # the key asked for by a value that names one row only
                if column[_norm(value)] == 1 and _words(value) <= MAX_WORDS and terms(value):
                    q = TEMPLATES["key"].format(key_header=key_header, value=value, header=header)
                    if not key_header:
                        q = q.replace("Which  has", "What has")
                    per["key"].append(Case("key", q, tid, i, r.cells[0].value))
        # a third column asked through a cell that names one row only
        named = _columns(rows)
        for k in named:
            column = Counter(_norm(r.cells[k].value) for r in rows)
            for j in named:
                if j == k or _norm(rows[0].cells[j].header) == _norm(key_header):
                    continue
                for i, r in enumerate(rows):
                    value, answer = r.cells[k].value, r.cells[j].value
                    if answer and column[_norm(value)] == 1 and _words(value) <= MAX_WORDS and terms(value):
                        q = TEMPLATES["via"].format(
                            header=rows[0].cells[j].header, key_header=key_header or "row", other=rows[0].cells[k].header, value=value
                        )
                        per["via"].append(Case("via", q, tid, i, answer))
        # a column asked by the kind of its values alone
        from rag.kinds import type_match

        for kind, template in TYPED.items():
            fits = [k for k in range(1, len(rows[0].cells)) if all(r.cells[k].value and type_match(kind, r.cells[k].value) for r in rows)]
            if len(fits) == 1:
                for i, r in enumerate(rows):
                    key = _key_phrase(rows, i)
                    if key is not None and not type_match(kind, key):
                        per["typed"].append(Case("typed", template.format(key=key), tid, i, r.cells[fits[0]].value))
        for name in TEMPLATES:
            picked = per[name] if len(per[name]) <= PER_TABLE else rng.sample(per[name], PER_TABLE)
            cases.extend(picked)
    return cases


# -- the replaced logic, kept here as the baseline -----------------------------------------------
def _old_cells(row, heads: list[str]) -> tuple:
    """Cells as the chunker gave them before: empty cells dropped, the rest under the headers in order."""
    from rag.types import Cell

    named = [h for h in heads if h]
    values = [c for c in row.cells if c.value]
    return tuple(Cell(named[k] if k < len(named) else f"Column {k + 1}", c.value, c.start, c.end) for k, c in enumerate(values))


def _old_header_match(question: str, header: str) -> float:
    from rag.text import terms

    q = set(terms(question))
    h = terms(header)
    return sum(t in q for t in h) / len(h) if h else 0.0


def _old_said(value: str, qwords: set[str]) -> bool:
    from rag.text import terms

    vt = set(terms(value))
    return bool(vt) and len(vt & qwords) >= (len(vt) if len(vt) < 4 else len(vt) - 1)


def _old_pick_cell(cells: tuple, question: str):
    from rag.kinds import CHECKED_TYPES, QUANTITY, expected_type, type_match
    from rag.text import terms

    if not cells:
        return None
    if len(cells) == 1:
        return cells[0]
    qwords = set(terms(question))
    scored = [(_old_header_match(question, c.header), -i, c) for i, c in enumerate(cells)]
    key_named = any(t in qwords for t in terms(cells[0].value))
    options = scored[1:] if key_named else scored
    options = [o for o in options if not _old_said(o[2].value, qwords)] or options
    best = max(options, key=lambda x: (x[0], x[1]))
    if best[0] > 0:
        return best[2]
    kind = expected_type(question)
    for _, _, c in options:
        if (type_match(kind, c.value) > 0) if kind in CHECKED_TYPES else not QUANTITY.match(c.value.strip()):
            return c
    return options[0][2]


def _old_answer(question: str, start: int, rows: list):
    """The row whose key the question names in full (when one only does), then its cell."""
    from rag.text import terms

    heads = [c.header for c in rows[0].cells]
    cells = [_old_cells(r, heads) for r in rows]
    q = set(terms(question))

    def key_named(cs: tuple) -> float:
        key = terms(cs[0].value) if cs else []
        return sum(t in q for t in key) / len(key) if key else 0.0

    chosen = start
    if key_named(cells[start]) < 1.0:
        named = [i for i, cs in enumerate(cells) if key_named(cs) == 1.0]
        chosen = named[0] if len(named) == 1 else start
    return _old_pick_cell(cells[chosen], question)


# -- measuring ---------------------------------------------------------------------------------
def _similarity(embedder):
    import numpy as np

    def similar(text: str, options) -> list[float]:
        q = embedder.embed_query(text)
        return [float(np.dot(embedder.embed_query(o), q)) for o in options]

    return similar


def cells_command(args) -> None:
    t0 = time.perf_counter()
    tables = collect(args.extra, packages=not args.no_packages)
    cases = generate(tables)
    origins = Counter(o for o, _ in tables.values())
    print(
        f"{len(tables)} tables ({', '.join(f'{n} {o}' for o, n in sorted(origins.items()))}), {len(cases)} cases ({time.perf_counter() - t0:.1f}s)"
    )
    print("cases per template: " + ", ".join(f"{t} {n}" for t, n in Counter(c.template for c in cases).items()))
    from rag import tables as new

    similar = None
    if not args.no_embedder:
        from rag.embedding import load_embedder

        similar = _similarity(load_embedder(backend="onnx-mixed8"))
    systems = {"old": lambda q, s, rows: _old_answer(q, s, rows), "new, no similarity": lambda q, s, rows: _new(new, q, s, rows, None)}
    if similar is not None:
        systems["new"] = lambda q, s, rows: _new(new, q, s, rows, similar)
    results: dict[tuple[str, str, str, str], list[bool]] = defaultdict(list)
    misses: list[str] = []
    for case in cases:
        origin, rows = tables[case.table]
        for start_name, start in (("right row", case.row), ("other row", (case.row + 1) % len(rows))):
            for name, fn in systems.items():
                cell = fn(case.question, start, rows)
                ok = cell is not None and _norm(cell.value) == _norm(case.answer)
                for o in (origin, "all"):
                    results[(name, start_name, o, case.template)].append(ok)
                    results[(name, start_name, o, "all")].append(ok)
                if name == list(systems)[-1] and not ok and args.show:
                    misses.append(
                        f"{start_name} | {case.table} | {case.question} | want {case.answer!r} | got {cell.value if cell else None!r}"
                    )
    print()
    for start_name in ("right row", "other row"):
        for o in ["all", *sorted(origins)]:
            print(f"## {start_name} given, {o} tables")
            print(f"| system | {' | '.join([*TEMPLATES, 'all'])} |")
            print("|---|" + "---:|" * (len(TEMPLATES) + 1))
            for name in systems:
                row = []
                for t in [*TEMPLATES, "all"]:
                    r = results.get((name, start_name, o, t), [])
                    row.append(f"{sum(r) / len(r):.3f} ({len(r)})" if r else "-")
                print(f"| {name} | {' | '.join(row)} |")
            print()
    for m in misses[: args.show]:
        print(m)


def _new(module, question: str, start: int, rows: list, similar):
    got = module.answer_cell(question, rows[start], rows, similar)
    return got[1] if got else None


def cases_command(args) -> None:
    tables = collect([], packages=False)
    cases = generate(tables)
    with open(args.out, "w") as f:
        for c in cases:
            f.write(json.dumps(asdict(c)) + "\n")
    print(f"{len(tables)} handbook tables, {len(cases)} cases -> {args.out}")


def ask_command(args) -> None:
    from rag.ask import ask
    from rag.embedding import load_embedder
    from rag.indexing import open_index
    from rag.settings import Settings

    with open(args.cases) as f:
        cases = [Case(**json.loads(line)) for line in f]
    settings = Settings()
    embedder = load_embedder(backend="onnx-mixed8")
    index, _ = open_index(HANDBOOK, args.index, embedder, settings.chunker())
    retrieval, answering = settings.retrieval(), settings.answering()
    stats: dict[str, Counter] = defaultdict(Counter)
    misses: list[str] = []
    t0 = time.perf_counter()
    for c in cases:
        a = ask(index, embedder, c.question, retrieval=retrieval, answering=answering)
        got = a.answer or ""
        if _norm(got) != _norm(c.answer):
            cited = a.citations[0].doc_id if a.citations else None
            misses.append(f"{c.table} | {c.question} | want {c.answer!r} | got {a.answer!r} (first cited: {cited})")
        for t in (c.template, "all"):
            s = stats[t]
            s["n"] += 1
            s["exact"] += _norm(got) == _norm(c.answer)
            s["contains"] += bool(got) and _norm(c.answer) in _norm(got)
            s["abstained"] += a.answer is None
    print(f"{len(cases)} cases, {time.perf_counter() - t0:.0f}s")
    print("| template | n | answer is the cell | answer contains the cell | abstained |")
    print("|---|---:|---:|---:|---:|")
    for t in [*TEMPLATES, "all"]:
        s = stats[t]
        if s["n"]:
            print(f"| {t} | {s['n']} | {s['exact'] / s['n']:.3f} | {s['contains'] / s['n']:.3f} | {s['abstained'] / s['n']:.3f} |")
    for m in misses[: args.show]:
        print(m)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("cells")
    c.add_argument("--extra", type=Path, action="append", default=[], help="a folder of markdown files to take tables from too")
    c.add_argument("--no-packages", action="store_true", help="leave out the installed packages' tables")
    c.add_argument("--no-embedder", action="store_true", help="without the similarity signal (no model loaded)")
    c.add_argument("--show", type=int, default=0, help="print this many of the new logic's misses")
    g = sub.add_parser("cases")
    g.add_argument("--out", required=True)
    a = sub.add_parser("ask")
    a.add_argument("--cases", required=True)
    a.add_argument("--index", required=True)
    a.add_argument("--show", type=int, default=0, help="print this many of the misses")
    args = p.parse_args()
    {"cells": cells_command, "cases": cases_command, "ask": ask_command}[args.command](args)


if __name__ == "__main__":
    main()
