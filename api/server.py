"""Running the app under uvicorn: the one place that knows about sockets and server processes."""

from __future__ import annotations

import socket
import sys
from contextlib import suppress

from uvicorn.protocols.http.auto import AutoHTTPProtocol


class NoDelayHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's HTTP protocol with TCP_NODELAY on every connection.

    With ``--workers`` > 1 uvicorn binds the listening socket itself without a protocol number, so
    asyncio does not recognise accepted connections as TCP and leaves Nagle's algorithm on: each
    response then waits ~40 ms for the client's delayed ACK (measured: 62 ms instead of 17 ms
    per request at concurrency 1). Setting the option here fixes it in every mode."""

    def connection_made(self, transport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


def prepare_process() -> None:
    """Set-up of a server process (``rag serve``, and each of its workers): the access log on stderr,
    and a 1 ms GIL switch interval instead of 5. The event loop takes the GIL back after every socket
    call, and while the model threads run Python it waits up to the interval each time: under
    overload every refusal queued behind those waits."""
    from api.observability import configure_logging

    configure_logging()
    sys.setswitchinterval(0.001)
