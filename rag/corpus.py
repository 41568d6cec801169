"""Load a corpus folder (``.txt``/``.md`` files) or a JSONL file into ``Document`` records."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from rag.errors import CorpusNotFoundError, EmptyCorpusError, InvalidInputError
from rag.formats import SUFFIXES, parse
from rag.types import Document

# Navigation residue of scraped web pages: whole lines that carry no content.
_BOILERPLATE = re.compile(
    r"^(skip to (main )?content|read (also|more)|latest( news)?|related( articles| posts)?|"
    r"share( this)?( article)?|advertisement|subscribe|menu|search|home|"
    r"previous( article)?|next( article)?)\s*:?\s*$",
    re.IGNORECASE,
)

# A missing space after punctuation ("stability,the", "Chile.The") hurts tokenisation.
# Digits are excluded so "1,000" and "2.5" stay intact.
_MISSING_SPACE = re.compile(r"(?<=[a-z\u2019)])([,.;:])(?=[A-Za-z])|(?<=\d)([.;:])(?=[A-Z][a-z])|(?<=\.[A-Z])\.(?=[a-z])")


def is_boilerplate(line: str) -> bool:
    return bool(_BOILERPLATE.match(line.strip()))


def clean_for_index(text: str) -> str:
    """Text fixes for embedding and BM25 only; citations always use the original text."""
    text = _MISSING_SPACE.sub(lambda m: m.group(0) + " ", text)
    return re.sub(r"\s+", " ", text).strip()


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def looks_like_heading(line: str) -> bool:
    """A short line that is not a sentence, list item or table row."""
    s = line.strip()
    if not s or s.startswith(("-", "*", "•")) or "|" in s or is_boilerplate(s):
        return False
    if s.startswith("#"):
        return True
    words = s.split()
    if len(words) > 22 or len(s) > 180:
        return False
    if s.endswith(("...", "…")):
        return True  # a truncated headline
    if s.endswith("?"):
        return len(words) <= 12
    return not s.endswith((".", ":", ";", ",", "!"))


def _title_of(text: str, fallback: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not is_boilerplate(ln)]
    for ln in lines[:6]:
        if looks_like_heading(ln):
            return ln.lstrip("#").strip()
    if lines:
        first = lines[0].lstrip("#").strip()
        return first if len(first) <= 100 else first[:97].rsplit(" ", 1)[0] + "..."
    return fallback


def document_from(doc_id: str, name: str, data: bytes, source: str = "", metadata: dict | None = None) -> Document:
    """A document from a file's bytes, read by the format its name's suffix names (``rag.formats``)."""
    parsed = parse(name, data)
    source_text = parsed.source_text if parsed.source_text is not None else parsed.text
    title = parsed.title or _title_of(parsed.text, doc_id)
    meta = {**parsed.metadata, **(metadata or {})}
    return Document(
        id=doc_id,
        title=title,
        text=parsed.text,
        sha256=content_hash(source_text),
        source=source,
        metadata=meta,
        original=parsed.source_text,
        offsets=parsed.offsets,
        pages=parsed.pages,
    )


def load_document(path: Path) -> Document:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        return document_from(path.stem, str(path), data, source=str(path))
    except InvalidInputError as exc:
        hint = "; convert it (iconv -f latin1 -t utf-8) or move it out of the corpus" if "not UTF-8" in str(exc) else ""
        raise InvalidInputError(f"{exc}{hint}") from None


def _load_jsonl(path: Path) -> list[Document]:
    docs: list[Document] = []
    with path.open(encoding="utf-8-sig") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"{path}:{lineno}: not JSON ({exc.msg})") from None
            expected = f"{path}:{lineno}: expected a JSON object with 'id' and 'text'"
            if not isinstance(rec, dict):
                raise InvalidInputError(f"{expected}, got a JSON {type(rec).__name__}")
            missing = [repr(k) for k in ("id", "text") if k not in rec]
            if missing:
                raise InvalidInputError(f"{expected}, got no {' or '.join(missing)}")
            if not isinstance(rec["id"], (str, int)) or isinstance(rec["id"], bool) or not str(rec["id"]).strip():
                raise InvalidInputError(f"{path}:{lineno}: 'id' must be a non-empty string or a number")
            doc_id, text = str(rec["id"]), rec["text"]
            if not isinstance(text, str):
                raise InvalidInputError(f"{path}:{lineno}: 'text' must be a string")
            # a one-line record without a title would be titled by its whole text: its id reads better
            title = str(rec.get("title") or (_title_of(text, doc_id) if "\n" in text.strip() else doc_id))
            docs.append(Document(id=doc_id, title=title, text=text, sha256=content_hash(text), source=f"{path}#{lineno}"))
    return docs


def skipped_folders(path: str | Path) -> list[str]:
    """The subfolders of a corpus folder: not read (a corpus is flat), so worth a note."""
    p = Path(path)
    if not p.is_dir():
        return []
    return sorted(f.name for f in p.iterdir() if f.is_dir() and not f.name.startswith("."))


def _folder_files(folder: Path, allow_links: bool, notes: list[str]) -> list[Path]:
    """The documents of a folder, by name; what is left out is described in ``notes``."""
    files = []
    root = folder.resolve()
    for f in sorted(folder.iterdir()):
        if f.is_symlink():
            # A corpus copied from an archive or a checkout may hold a link to any file the server
            # can read: a link is followed only when allowed, and never out of the folder.
            target = f.resolve()
            if not allow_links or root not in target.parents or not target.is_file():
                notes.append(
                    f"{f}: a symbolic link" + ("" if allow_links else " (RAG_CORPUS_LINKS=true reads links that stay in the folder)")
                    if not allow_links
                    else f"{f}: a symbolic link out of the corpus folder, or not to a file"
                )
                continue
        if not f.is_file():
            continue  # subfolders: the CLI names them
        if f.name.startswith("."):
            notes.append(f"{f}: a hidden file")  # editor backups, macOS "._" forks and the like
        elif f.suffix.lower() == ".jsonl":
            notes.append(f"{f}: a JSONL file is a corpus of its own (--corpus {f})")
        elif f.suffix.lower() not in SUFFIXES:
            notes.append(f"{f}: unsupported file type (supported: {', '.join(SUFFIXES)})")
        else:
            files.append(f)
    return files


def load_corpus(path: str | Path, skipped: list[str] | None = None, allow_links: bool = False) -> list[Document]:
    """Every document of a folder (sorted by name; see ``rag.formats`` for the types read), or every
    record of a JSONL file.

    A folder's file that cannot be read is an error, unless ``skipped`` is given: then it is left out
    and described there, with every other file left out (links, hidden files, unsupported types), and
    the rest of the folder loads (one stray file should not keep a thousand others from being served;
    the caller says which file and how to fix it)."""
    p = Path(path)
    if not p.exists():
        raise CorpusNotFoundError(f"corpus not found: {p}")
    if p.is_file():
        if p.suffix.lower() == ".jsonl":
            docs = _load_jsonl(p)
        elif p.suffix.lower() in SUFFIXES:
            docs = [load_document(p)]
        else:
            raise InvalidInputError(f"{p}: a corpus is a folder of documents ({', '.join(SUFFIXES)}) or a .jsonl file")
    else:
        notes: list[str] = []
        files = _folder_files(p, allow_links, notes)
        docs = []
        unreadable: list[str] = []
        for f in files:
            try:
                docs.append(load_document(f))
            except InvalidInputError as exc:
                if skipped is None:
                    raise
                unreadable.append(str(exc))
        if skipped is not None:
            skipped.extend(unreadable + notes)
        if not docs and unreadable:
            more = f" (and {len(unreadable) - 1} more)" if len(unreadable) > 1 else ""
            raise EmptyCorpusError(f"no readable documents in {p}: {unreadable[0]}{more}")
        if not docs:
            jsonl = sorted(f.name for f in p.iterdir() if f.suffix.lower() == ".jsonl" and f.is_file() and not f.is_symlink())
            if jsonl:
                raise EmptyCorpusError(f"no documents in {p}; a JSONL corpus is given as the file itself: --corpus {p / jsonl[0]}")
    if not docs:
        raise EmptyCorpusError(f"no documents ({', '.join(SUFFIXES)}) or .jsonl records in {p}")
    seen: dict[str, str] = {}
    for d in docs:
        if d.id in seen:
            raise InvalidInputError(f"duplicate document id {d.id!r}: {seen[d.id]} and {d.source}")
        seen[d.id] = d.source
    return docs
