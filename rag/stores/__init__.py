"""Vector stores: where an index lives. The interface is ``rag.stores.base``; each store is one module,
registered here by the name ``RAG_VECTOR_STORE`` gives it. Adding one is adding a module and a line.

Modules are imported when their store is asked for: pymilvus is needed only with Milvus.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from rag.stores.base import Kind, Part, Store, Update, Vectors, Within

STORES: dict[str, str] = {
    "faiss": "rag.stores.faiss:FaissStore",
    "milvus": "rag.stores.milvus:MilvusStore",
}


def store_class(name: str) -> type[Store]:
    if name not in STORES:
        raise ValueError(f"vector store must be one of {', '.join(STORES)}, not {name!r}")
    module, _, cls = STORES[name].partition(":")
    return getattr(import_module(module), cls)


def as_store(where: str | Path | Store) -> Store:
    """A store as given, or the FAISS store of a folder."""
    if isinstance(where, Store):
        return where
    return store_class("faiss")(where)  # type: ignore[call-arg]


__all__ = ["STORES", "Kind", "Part", "Store", "Update", "Vectors", "Within", "as_store", "store_class"]
