"""PDF: the text layer of each page (pypdf), hard-wrapped lines re-flowed into one line per paragraph.

The extracted text is itself the document (citations point into it); ``pages`` says where each page
starts in it.
"""

from __future__ import annotations

import io
import re

from rag.errors import InvalidInputError
from rag.formats import Parsed

_SENTENCE_END = (".", "!", "?", ":", ";")
_BULLET = re.compile(r"^(?:[-*•▪◦‣–]|\d{1,2}[.)])\s")
# Typesetting ligatures: "ﬁnance" would not match "finance" in the index.
_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})


def parse(name: str, data: bytes) -> Parsed:
    from pypdf import PasswordType, PdfReader

    if b"%PDF-" not in data[:1024]:  # pypdf allows some junk before the header, not a missing one
        raise InvalidInputError(f"{name}: not a PDF (no %PDF- header)")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:  # many PDFs are encrypted only against editing, with an empty password to open them
                opened = reader.decrypt("") != PasswordType.NOT_DECRYPTED
            except Exception:  # an unsupported cipher, or no crypto library for AES
                opened = False
            if not opened:
                raise InvalidInputError(f"{name}: an encrypted PDF that needs a password; save a decrypted copy first")
        pages = [_reflow(page.extract_text() or "") for page in reader.pages]
        info = reader.metadata
    except InvalidInputError:
        raise
    except Exception as exc:  # pypdf reports a broken file with many exception types
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise InvalidInputError(f"{name}: not a readable PDF ({reason})") from None
    if not any(p.strip() for p in pages):
        raise InvalidInputError(f"{name}: no text layer: a scanned PDF needs OCR first")
    starts, pos = [], 0
    for text in pages:
        starts.append(pos)
        pos += len(text) + 2  # the "\n\n" between pages
    title, metadata = _info(info, len(pages))
    return Parsed(text="\n\n".join(pages), title=title, metadata=metadata, source_text=None, offsets=None, pages=tuple(starts))


def _reflow(page: str) -> str:
    """One line per paragraph: a line that does not end a sentence joins the next when that one goes
    on in lower case (or the line ends with a comma); a word hyphenated at a line end is rejoined.
    Blank-line breaks, bullets and lines that start with a capital (headings, new sentences) stay."""
    paragraphs = []
    for block in re.split(r"\n[ \t]*\n", page.translate(_LIGATURES)):
        lines: list[str] = []
        for line in block.splitlines():
            line = " ".join(line.split())
            if not line:
                continue
            if lines and _continues(lines[-1], line):
                prev = lines[-1]
                if prev.endswith("-") and len(prev) > 1 and prev[-2].isalpha() and line[0].islower():
                    lines[-1] = prev[:-1] + line
                else:
                    lines[-1] = prev + " " + line
            else:
                lines.append(line)
        if lines:
            paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


def _continues(prev: str, line: str) -> bool:
    if prev.endswith(_SENTENCE_END) or _BULLET.match(line):
        return False
    return line[0].islower() or prev.endswith(",")


def _info(info, page_count: int) -> tuple[str | None, dict]:
    metadata: dict = {"page_count": page_count}
    if info is None:
        return None, metadata
    title = None
    for key, value in info.items():
        name = key.lstrip("/")
        text = " ".join(str(value).split()) if value is not None else ""
        if not text:
            continue
        if name == "Title":
            title = text
        elif name in ("Author", "Subject", "Keywords", "Creator", "Producer"):
            metadata[name.lower()] = text
        elif name in ("CreationDate", "ModDate"):
            metadata["created" if name == "CreationDate" else "modified"] = _date(info, name, text)
    return title, metadata


def _date(info, name: str, raw: str) -> str:
    """ISO 8601 when pypdf can read the PDF date ("D:20240131..."), else the raw string."""
    try:
        when = info.creation_date if name == "CreationDate" else info.modification_date
    except Exception:  # a malformed date string
        return raw
    return when.isoformat() if when is not None else raw
