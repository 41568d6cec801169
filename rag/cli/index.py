"""``rag index``: build or update the index."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from rag.cli.loading import load, settings_from
from rag.cli.output import err, note, plural
from rag.errors import CorpusNotFoundError
from rag.settings import Settings


def _note_skipped_folders(corpus: Path) -> None:
    from rag.corpus import skipped_folders

    folders = skipped_folders(corpus)
    if folders:
        names = ", ".join(f + "/" for f in folders[:5]) + (f" and {len(folders) - 5} more" if len(folders) > 5 else "")
        note(f"subfolders are not indexed, only the files directly in {corpus}: {names}")


def index(
    corpus: Path | None = typer.Option(None, "--corpus", help="folder of .txt/.md files or a .jsonl file [env RAG_CORPUS]"),
    index_dir: Path | None = typer.Option(None, "--index", help="index folder [env RAG_INDEX]"),
    rebuild: bool = typer.Option(False, "--rebuild", help="re-embed everything"),
    tables: bool | None = typer.Option(None, "--tables/--no-tables", help="table-aware chunking [env RAG_TABLES]"),
) -> None:
    """Build or update the index (only changed documents are re-embedded)."""
    settings = settings_from(corpus=corpus, index=index_dir, tables=tables)
    if not settings.corpus.exists():
        # Asking may fall back on the index alone; indexing a corpus that is not there cannot succeed.
        raise CorpusNotFoundError(f"corpus not found: {settings.corpus}")
    idx, _ = load(settings, rebuild=rebuild, quiet=False)
    m = idx.manifest
    err.print(f"index {escape(str(idx.store))} is current: {plural(m['counts']['documents'], 'document')}, "
              f"{plural(m['counts']['chunks'], 'chunk')}, model {m['embedding_model']}", soft_wrap=True)
    _note_skipped_folders(settings.corpus)
    if tables is not None and tables != Settings().tables:
        # Settings are not stored anywhere but the environment: without this, the next `rag ask` sees
        # an index built with other settings and rebuilds it with the defaults.
        note(f"built with --{'' if tables else 'no-'}tables; set RAG_TABLES={str(tables).lower()} "
             "for rag ask, search and serve to use this index (with the default they rebuild it)")
