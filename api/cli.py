"""``rag serve``: the HTTP service. Registered with the ``rag`` command through the ``rag.commands``
entry point, so the library's CLI never imports the HTTP layer."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import typer

from api.auth import keys_from
from rag.cli.loading import load, settings_from
from rag.cli.output import err
from rag.errors import RagError


def _check_can_listen(host: str, port: int) -> None:
    """Fail in one line, before saying "serving", when the address is taken or not ours."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            s.bind(infos[0][4])
    except OSError as exc:
        raise RagError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def serve(
    host: str | None = typer.Option(None, "--host", help="[env RAG_HOST]"),
    port: int | None = typer.Option(None, "--port", help="[env RAG_PORT]"),
    corpus: Path | None = typer.Option(None, "--corpus", help="folder of .txt/.md files or a .jsonl file [env RAG_CORPUS]"),
    index_dir: Path | None = typer.Option(None, "--index", help="index folder [env RAG_INDEX]"),
    workers: int | None = typer.Option(None, "--workers", min=1, help="server processes, each with its own model copy [env RAG_WORKERS]"),
    insecure: bool = typer.Option(False, "--insecure", help="serve beyond loopback without API keys (anyone who reaches it may write)"),
) -> None:
    """Run the HTTP service (chat page at /, API docs at /docs)."""
    import uvicorn

    from api.app import create_app
    from api.server import NoDelayHTTPProtocol, prepare_process
    from rag.indexing import preflight

    settings = settings_from(host=host, port=port, corpus=corpus, index=index_dir, workers=workers)
    keys = keys_from(settings)
    if not keys.configured and not _loopback(settings.host) and not insecure:
        raise RagError(
            f"no API keys are configured, so anyone who reaches {settings.host} could read and write the documents: "
            "set RAG_ADMIN_KEYS / RAG_READ_KEYS (or RAG_KEYS_FILE), bind 127.0.0.1, or pass --insecure"
        )
    n = settings.workers
    preflight(settings.corpus, settings.store())  # its note, if any, the server logs once it loads
    _check_can_listen(settings.host, settings.port)
    if not keys.configured:
        where = "loopback only" if _loopback(settings.host) else "--insecure"
        err.print(f"no API keys configured ({where}): every request may read and write documents")
    err.print(f"serving on http://{settings.host}:{settings.port} (index {settings.store()}, {n} worker{'s' * (n > 1)})")
    prepare_process()  # one JSON line per request on stderr (uvicorn's own access log stays off)
    if n == 1:
        uvicorn.run(
            create_app(settings), host=settings.host, port=settings.port, log_level="warning", access_log=False, http=NoDelayHTTPProtocol
        )
        return
    # Several processes: build the index once, here, so the workers only open it (never race to
    # write it); they read their settings from the environment, as a factory without arguments.
    load(settings, noted=True)  # the parent keeps no copy: the references are dropped here
    os.environ.update(
        {f"RAG_{k.upper()}": str(v) for k, v in (("corpus", settings.corpus), ("index", settings.index), ("host", settings.host))}
    )
    uvicorn.run(
        "api.app:create_worker_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=n,
        log_level="warning",
        access_log=False,
        http=NoDelayHTTPProtocol,
    )
