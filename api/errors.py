"""The one place where errors become HTTP responses: rag errors, validation errors, body limits, the rest."""

from __future__ import annotations

import json
import logging

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
)
from rag.live import ConflictError, DocumentNotFound

log = logging.getLogger("rag.api")

MAX_BODY_BYTES = 1024 * 1024  # a long chat history fits; a runaway upload does not

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


def error_body(message: str, detail=None) -> dict:
    return {"error": message, "detail": detail}


def openai_error_body(status: int, message: str, param: str | None = None) -> dict:
    """OpenAI's error shape, which its clients parse into ``e.message`` / ``e.type`` / ``e.param``."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    return {"error": {"message": message, "type": kind, "param": param, "code": None}}


def _param(detail) -> str | None:
    if isinstance(detail, dict):
        return detail.get("field")
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        return detail[0].get("field")
    return None


def error_response(path: str, status: int, message: str, detail=None, headers=None) -> JSONResponse:
    """The error as JSON: ``{"error", "detail"}``, or under ``/v1/`` the shape OpenAI clients expect."""
    body = openai_error_body(status, message, _param(detail)) if path.startswith("/v1/") else error_body(message, detail)
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
        return error_response(request.url.path, status_for(exc), str(exc), {"field": field} if field else None)

    @app.exception_handler(AuthError)
    async def _auth(request: Request, exc: AuthError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return error_response(request.url.path, exc.status, str(exc), headers=headers)

    @app.exception_handler(NotReadyError)
    async def _not_ready(request: Request, exc: NotReadyError):
        return error_response(request.url.path, 503, exc.reason, headers={"Retry-After": "2"})

    @app.exception_handler(DocumentNotFoundError)
    async def _no_doc(request: Request, exc: DocumentNotFoundError):
        return error_response(request.url.path, 404, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        message, detail = validation_message(list(exc.errors()))
        return error_response(request.url.path, 422, message, detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        return error_response(request.url.path, exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(request.url.path, 500, "internal error")


def _replay(data: bytes, receive):
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": data, "more_body": False}
        return await receive()

    return replay


class BodyGuard:
    """ASGI middleware: bodies over ``limit`` bytes are 413, bodies that are not UTF-8 are 422, bodies
    that are not JSON under another content type are 415, all before any endpoint sees them."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES, upload_limit: int = MAX_BODY_BYTES):
        self.app = app
        self.limit = limit
        self.upload_limit = upload_limit  # document writes carry whole files

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        upload = scope.get("path", "").startswith("/documents")
        limit = self.upload_limit if upload else self.limit
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._reply(scope, send, 413, f"the body is {declared} bytes; the limit is {limit}")
            return
        chunks, size = [], 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > limit:
                await self._reply(scope, send, 413, f"the body is over the limit of {limit} bytes")
                return
            chunks.append(body)
            more = message.get("more_body", False)
        data = b"".join(chunks)
        if upload and ctype == "multipart/form-data":
            await self.app(scope, _replay(data, receive), send)  # files: their bytes are the parsers' to read
            return
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as e:
            await self._reply(
                scope,
                send,
                422,
                f"body: not valid UTF-8 (byte {e.start})",
                [{"field": "body", "type": "unicode_decode", "msg": "not valid UTF-8"}],
            )
            return
        if data.strip() and not (ctype == "application/json" or ctype.endswith("+json")):
            # `curl -d '{...}'` without -H sends a form content type: a body that is JSON is read as
            # JSON rather than refused with a confusing "not a dictionary"; anything else is 415.
            try:
                json.loads(data)
            except ValueError:
                await self._reply(
                    scope,
                    send,
                    415,
                    "the body must be JSON (content-type: application/json), not "
                    + (f"{ctype} data" if ctype else "untyped data that is not JSON"),
                )
                return
            scope = {
                **scope,
                "headers": [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-type"]
                + [(b"content-type", b"application/json")],
            }
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": data, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _reply(scope, send, status: int, message: str, detail=None) -> None:
        response = error_response(scope.get("path", ""), status, message, detail)
        await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})
