"""The one place where errors become HTTP responses: rag errors, validation errors, HTTP errors; every body
names the request id, and no body carries a server path or an exception's text."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.auth import AuthError
from rag.errors import (
    CorpusNotFoundError,
    EmptyCorpusError,
    EmptyQueryError,
    IndexMismatchError,
    IndexNotFoundError,
    InvalidInputError,
    ModelNotFoundError,
    RagError,
    StoreUnavailableError,
)
from rag.live import ConflictError, DocumentNotFound

# Most specific first; the first match wins.
STATUS_OF: list[tuple[type[RagError], int]] = [
    (ConflictError, 409),
    (DocumentNotFound, 404),
    (EmptyQueryError, 422),
    (InvalidInputError, 422),
    (IndexMismatchError, 409),
    (IndexNotFoundError, 503),
    (ModelNotFoundError, 503),
    (CorpusNotFoundError, 503),
    (EmptyCorpusError, 503),
    (StoreUnavailableError, 503),
    (RagError, 400),
]


class NotReadyError(Exception):
    """The index or the model is still loading (or failed to load): 503 with the reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class DocumentNotFoundError(Exception):
    def __init__(self, doc_id: str):
        super().__init__(f"no document with id {doc_id!r}")


def status_for(exc: RagError) -> int:
    for cls, status in STATUS_OF:
        if isinstance(exc, cls):
            return status
    return 400


def request_id(scope: Mapping[str, Any]) -> str | None:
    """The request's id (``api.observability`` gives every request one), for error bodies and logs."""
    return (scope.get("state") or {}).get("request_id")


# An absolute path: a slash not inside a word, a URL or a relative path, up to a space or punctuation.
_ABS_PATH = re.compile(r"(?<![\w.:/~-])/(?:[^\s/'\"`,;:()\[\]]+/)*[^\s/'\"`,;:()\[\]]*")


def scrub_paths(text: str, corpus: Path | None = None) -> str:
    """``text`` without the server's absolute paths, for clients: a file under the corpus folder by its
    path inside it, any other path by its last part (a client has no use for the server's layout, and
    an attacker has)."""
    if "/" not in text:  # most messages: no path to look for
        return text
    bases = _bases(corpus)

    def short(m: re.Match) -> str:
        path = m.group(0)
        for base in bases:
            if path.startswith(base.rstrip("/") + "/"):
                return path[len(base.rstrip("/")) + 1 :]
        return path.rstrip("/").rsplit("/", 1)[-1] or path

    text = _ABS_PATH.sub(short, text)
    for base in bases:
        if not base.startswith("/"):  # a relative corpus folder: its files by their path inside it too
            text = re.sub(rf"(?<![\w./~-]){re.escape(base.rstrip('/'))}/", "", text)
    return text


@functools.lru_cache(maxsize=16)
def _bases(corpus: Path | None) -> list[str]:
    """The corpus folder as given and as resolved, longest first (resolving reads the file system: once)."""
    return sorted({str(corpus), str(corpus.resolve())} if corpus is not None else set(), key=len, reverse=True)


def public_message(scope: Mapping[str, Any], message: str) -> str:
    app = scope.get("app")
    settings = getattr(getattr(app, "state", None), "settings", None)
    return scrub_paths(message, getattr(settings, "corpus", None))


def error_body(scope: Mapping[str, Any], message: str, detail=None) -> dict:
    return {"error": public_message(scope, message), "detail": detail, "request_id": request_id(scope)}


def openai_error_body(scope: Mapping[str, Any], status: int, message: str, param: str | None = None) -> dict:
    """OpenAI's error shape, which its clients parse into ``e.message`` / ``e.type`` / ``e.param``."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    error = {"message": public_message(scope, message), "type": kind, "param": param, "code": None}
    return {"error": error, "request_id": request_id(scope)}


def _param(detail) -> str | None:
    if isinstance(detail, dict):
        return detail.get("field")
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        return detail[0].get("field")
    return None


def error_response(scope: Mapping[str, Any], status: int, message: str, detail=None, headers=None) -> JSONResponse:
    """The error as JSON: ``{"error", "detail", "request_id"}``, or under ``/v1/`` the shape OpenAI
    clients expect, with invalid input as 400 (OpenAI's status for it: its clients raise BadRequestError)."""
    if str(scope.get("path", "")).startswith("/v1/"):
        status = 400 if status == 422 else status
        body = openai_error_body(scope, status, message, _param(detail))
    else:
        body = error_body(scope, message, detail)
    return JSONResponse(body, status_code=status, headers=headers)


def _field_name(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) if parts else "body"


def validation_message(errors: list[dict]) -> tuple[str, list[dict]]:
    """A one-line message naming each offending field, and a JSON-safe list of the errors."""
    msgs, detail = [], []
    for e in errors:
        field = _field_name(e.get("loc", ()))
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        if e.get("type") == "json_invalid":
            field, msg = "body", "the body is not valid JSON"
        elif e.get("type") == "extra_forbidden":
            msg = "unknown field"
        elif e.get("type") == "missing":
            msg = "field required"
        msgs.append(f"{field}: {msg}")
        detail.append({"field": field, "type": e.get("type"), "msg": msg})
    return "; ".join(msgs) or "invalid request", detail


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RagError)
    async def _rag_error(request: Request, exc: RagError):
        field = exc.field or ("question" if isinstance(exc, (EmptyQueryError, InvalidInputError)) else None)
        return error_response(request.scope, status_for(exc), str(exc), {"field": field} if field else None)

    @app.exception_handler(AuthError)
    async def _auth(request: Request, exc: AuthError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return error_response(request.scope, exc.status, str(exc), headers=headers)

    @app.exception_handler(NotReadyError)
    async def _not_ready(request: Request, exc: NotReadyError):
        return error_response(request.scope, 503, exc.reason, headers={"Retry-After": "2"})

    @app.exception_handler(DocumentNotFoundError)
    async def _no_doc(request: Request, exc: DocumentNotFoundError):
        return error_response(request.scope, 404, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        message, detail = validation_message(list(exc.errors()))
        return error_response(request.scope, 422, message, detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        return error_response(request.scope, exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))


# A refused body is read up to this much before the answer; past it the connection is closed instead.
DRAIN_BYTES = 64 * 1024 * 1024


async def refuse(scope, receive, send, status: int, message: str, detail=None, headers=None) -> None:
    """Answer from a middleware, before the app. What is left of the body (``receive``; None when it was
    all read) is read and dropped first, up to ``DRAIN_BYTES``: a client that is still sending when the
    server answers and closes sees a broken pipe, not the status."""
    whole = receive is None or await _drain(receive, DRAIN_BYTES)
    headers = {**(headers or {}), **({} if whole else {"connection": "close"})}
    response = error_response(scope, status, message, detail, headers=headers)
    await send({"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


async def _drain(receive, cap: int) -> bool:
    """Read and drop what is left of the body, up to ``cap`` bytes; whether it all came."""
    seen = 0
    while seen <= cap:
        message = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            return True
        seen += len(message.get("body", b""))
    return False
