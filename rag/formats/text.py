"""Plain text: the decoded file is the document (the corpus loader picks its title)."""

from __future__ import annotations

from rag.formats import Parsed, decode_utf8


def parse(name: str, data: bytes) -> Parsed:
    return Parsed(text=decode_utf8(name, data), title=None, metadata={}, source_text=None, offsets=None)
