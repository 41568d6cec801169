"""Metadata filters: which documents a question may be answered from, applied before ranking.

A filter is a JSON object of field -> value or list of values; a document matches when every field
matches (a list: any of its values). Fields are the document's metadata (front matter, what a
client sent with it) and ``doc_id``, ``title``. ``{"source": "x", "doc_id": ["a", "b"]}``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rag.errors import InvalidInputError
from rag.types import Document

Filter = Mapping[str, Any]


def check_filter(flt: object) -> dict[str, list[Any]]:
    """The filter with every value a list; a clear error for anything else."""
    if not isinstance(flt, Mapping) or not flt:
        raise InvalidInputError("filter must be a non-empty JSON object of field -> value or list of values", field="filter")
    out: dict[str, list[Any]] = {}
    for key, value in flt.items():
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, (str, int, float, bool)) for v in values):
            raise InvalidInputError(f"filter {key!r}: a value or a non-empty list of strings, numbers or booleans", field="filter")
        out[str(key)] = values
    return out


def _fields(doc: Document) -> dict[str, Any]:
    return {**doc.metadata, "doc_id": doc.id, "title": doc.title}


def _matches(have: Any, wanted: list[Any]) -> bool:
    if isinstance(have, list):  # a list field (keywords, tags) matches when it holds a wanted value
        return any(h in wanted for h in have)
    return have in wanted


def matching_documents(documents: Mapping[str, Document], flt: Filter) -> frozenset[str]:
    checked = check_filter(flt)
    return frozenset(d.id for d in documents.values() if all(k in (f := _fields(d)) and _matches(f[k], v) for k, v in checked.items()))
