"""Every request gets an id and one JSON line on the ``rag.access`` logger; an exception no handler
took becomes a 500 that names the id, with the detail in the server log only."""

from __future__ import annotations

import atexit
import json
import logging
import queue
import re
import sys
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from logging.handlers import QueueHandler, QueueListener

from api.errors import error_response

access_log = logging.getLogger("rag.access")
log = logging.getLogger("rag.api")

# What a client may name its request by: echoed in a header and written to the log, so nothing that
# could split a header or a log line, and short.
_SANE_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")

ANSWERING = frozenset({"/ask", "/search", "/chat", "/v1/chat/completions"})


@dataclass
class RequestRecord:
    """What the access log says about one request beyond its HTTP facts; the answering routes fill it in."""

    request_id: str
    abstained: bool | None = None
    question: str | None = None


_current: ContextVar[RequestRecord | None] = ContextVar("rag_request", default=None)


def note_answer(abstained: bool, question: str) -> None:
    """Called where an answer is made: the access log (and the metrics) say whether the service answered."""
    record = _current.get()
    if record is not None:
        record.abstained, record.question = abstained, question


def incoming_request_id(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name.lower() == b"x-request-id":
            return value.decode("ascii") if _SANE_ID.fullmatch(value) else None
    return None


class RequestLog:
    """Pure ASGI middleware, the outermost but for the security headers: the request id, the access line,
    and the last word on unexpected errors (which then never reach uvicorn's plain-text 500)."""

    def __init__(self, app, log_questions: bool = False, on_done=None):
        self.app = app
        self.log_questions = log_questions
        self.on_done = on_done  # (scope, status, seconds, record) -> None: the metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = incoming_request_id(scope.get("headers", [])) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid  # in place: the error handlers read the same scope
        record = RequestRecord(rid)
        token = _current.set(record)
        status, started, t0 = 500, False, time.perf_counter()

        async def send_with_id(message):
            nonlocal status, started
            if message["type"] == "http.response.start":
                started, status = True, message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unexpected error in request %s (%s %s)", rid, scope.get("method"), scope.get("path"))
            if started:  # too late for a 500: the connection is cut, the client sees an incomplete response
                raise
            response = error_response(scope, 500, "internal error; the server log has the detail under this request id")
            await response(scope, receive, send_with_id)
        finally:
            _current.reset(token)
            seconds = time.perf_counter() - t0
            if self.on_done is not None:
                self.on_done(scope, status, seconds, record)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(self._line(scope, status, seconds, record))

    def _line(self, scope, status: int, seconds: float, record: RequestRecord) -> str:
        client = scope.get("client")
        line = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "method": scope.get("method"),
            "path": scope.get("path"),
            "status": status,
            "latency_ms": round(seconds * 1e3, 2),
            "request_id": record.request_id,
            "client": client[0] if client else None,
        }
        if scope.get("path") in ANSWERING:
            line["abstained"] = record.abstained
            if self.log_questions and record.question is not None:
                line["question"] = record.question
        return json.dumps(line, ensure_ascii=False)


def configure_logging() -> None:
    """For ``rag serve``: the access lines on stderr as they are (JSON), the service's warnings as plain lines.

    The lines are written by a thread of their own: a write from the event loop would stop every
    request while stderr is slow (a pipe whose reader lags), and gives the GIL away on each line."""
    lines = logging.StreamHandler(sys.stderr)
    lines.setFormatter(logging.Formatter("%(message)s"))
    pending: queue.SimpleQueue = queue.SimpleQueue()
    writer = QueueListener(pending, lines)
    writer.start()
    atexit.register(writer.stop)  # the last lines are written before the process ends
    access_log.handlers[:] = [QueueHandler(pending)]
    access_log.setLevel(logging.INFO)
    access_log.propagate = False
    service = logging.getLogger("rag")
    if not service.handlers:
        plain = logging.StreamHandler(sys.stderr)
        plain.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        service.addHandler(plain)
        service.setLevel(logging.WARNING)
