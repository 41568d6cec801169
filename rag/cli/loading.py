"""Settings from options and the environment, and the model and index a command works on."""

from __future__ import annotations

from typing import Any

from rag.cli.output import err, note, print_report, progress_bar
from rag.embedding import Embedder
from rag.errors import InvalidInputError
from rag.settings import Settings
from rag.store import Index


def settings_from(**overrides: Any) -> Settings:
    """Settings from the environment, with the options the user gave on top."""
    from pydantic import ValidationError

    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        # pydantic's report spans several lines; the CLI promises one: name the setting the user
        # gave (the option when it came from one, else the environment variable) and the rule.
        first = exc.errors()[0]
        field = "_".join(str(p) for p in first["loc"])
        name = f"--{field} " if field in given else f"RAG_{field.upper()}="
        raise InvalidInputError(f"{name}{first.get('input')!r}: {first['msg']}") from None


def load(settings: Settings, rebuild: bool = False, quiet: bool = False, noted: bool = False) -> tuple[Index, Embedder]:
    """The embedder and the index for ``settings``, built or updated first when it is missing or stale."""
    from rag.indexing import open_index, preflight

    store = settings.store()
    message = preflight(settings.corpus, store, read_documents=False)  # open_index reads them below
    if message and not rebuild and not noted:
        note(message)
    embedder = settings.embedder()
    bar, update = progress_bar()
    try:
        index, report = open_index(
            settings.corpus,
            store,
            embedder,
            settings.chunker(),
            rebuild=rebuild,
            progress=update,
            notify=note,
            allow_links=settings.corpus_links,
            uploads=settings.documents,
            large_chars=settings.large_document_chars,
            refuse_large=settings.refuse_large_documents,
        )
    finally:
        if bar.live.is_started:
            bar.stop()
    if report is not None and not quiet:
        print_report(report, store)
    return index, embedder


__all__ = ["err", "load", "settings_from"]
