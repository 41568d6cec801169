"""rag: retrieval question answering with exact citations.

Importing ``rag`` loads no model and reads no file; models are loaded by ``load_embedder`` and
``Settings.answering()`` and passed in.
"""

from rag.ask import ask, search
from rag.corpus import load_corpus
from rag.embedding import load_embedder
from rag.retrieval import retrieve
from rag.store import Index, build_index
from rag.types import Answer
from rag.version import __version__

__all__ = ["Answer", "Index", "__version__", "ask", "build_index", "load_corpus", "load_embedder", "retrieve", "search"]
