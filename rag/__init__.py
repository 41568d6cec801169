"""rag: retrieval question answering with exact citations.

Importing ``rag`` loads no model and reads no file; models are loaded by ``load_embedder`` and
``Settings.answering()`` and passed in.
"""

__version__ = "0.1.0"

from rag.ask import ask, search  # noqa: E402
from rag.corpus import load_corpus  # noqa: E402
from rag.embedding import load_embedder  # noqa: E402
from rag.retrieval import retrieve  # noqa: E402
from rag.store import Index, build_index  # noqa: E402
from rag.types import Answer  # noqa: E402

__all__ = ["Answer", "Index", "ask", "build_index", "load_corpus", "load_embedder", "retrieve", "search"]
