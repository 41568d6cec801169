"""Document formats: a file suffix picks a parser that turns raw bytes into a ``Parsed`` record.

Parsers import their libraries (markdown-it, trafilatura, pypdf) when called, so importing this
package stays cheap for commands that never read a document.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from rag.errors import InvalidInputError


@dataclass(frozen=True)
class Parsed:
    text: str  # what the pipeline indexes and answers from: clean, one block per line
    title: str | None
    metadata: dict[str, Any]  # JSON-serialisable values only
    # The original text when ``text`` is a cleaned view of it (markdown); None when ``text`` itself is
    # the document (txt, and extracted html/pdf text, where citations point into ``text``).
    source_text: str | None
    offsets: tuple[int, ...] | None  # offsets[i] = position in source_text of text[i]
    pages: tuple[int, ...] = ()  # pdf only: pages[n] = offset in ``text`` where page n+1 starts


# suffix -> module of this package with a ``parse(name, data)`` function
_PARSERS = {
    ".txt": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}
SUFFIXES: tuple[str, ...] = tuple(_PARSERS)


def _suffix(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).suffix.lower()


def parse(name: str, data: bytes) -> Parsed:
    """Parse a file's bytes with the parser its suffix (any case) names."""
    module = _PARSERS.get(_suffix(name))
    if module is None:
        raise InvalidInputError(f"{name}: unsupported file type; supported: {', '.join(SUFFIXES)}")
    return importlib.import_module(f"{__name__}.{module}").parse(name, data)


def to_source(parsed: Parsed, start: int, end: int) -> tuple[int, int]:
    """The span of ``source_text`` that ``text[start:end]`` came from (the span itself when ``text``
    is the document)."""
    if parsed.offsets is None:
        return start, end
    offsets = parsed.offsets
    if start >= end:  # an empty span: a point, where its text would have been
        at = offsets[start] if start < len(offsets) else len(parsed.source_text or "")
        return at, at
    return offsets[start], offsets[end - 1] + 1


def decode_utf8(name: str, data: bytes) -> str:
    """UTF-8 text without a byte-order mark (encoding, not text); "\\r\\n" kept so offsets match the file."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
