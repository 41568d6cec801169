"""Limits on what a request may ask of the service: how many answers at once, and the type, size and
encoding of its body."""

from __future__ import annotations

import random

from api.errors import refuse

MAX_BODY_BYTES = 1024 * 1024  # a long chat history fits; a runaway upload does not
# Where a body may be a multipart upload (files); every other body is JSON.
UPLOAD_ROUTES = ("/documents",)
# The routes that take the model's time; the rest (health, metrics, pages, reads) are never refused.
ANSWERING = frozenset({"/ask", "/search", "/chat", "/v1/chat/completions"})
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A refused client's wait, spread around Retry-After's one second (milliseconds, both ends included).
RETRY_MS = (500, 1500)


class InFlightLimit:
    """Pure ASGI middleware: at most ``limit`` answering requests (and document writes) in flight; one
    more is refused at once, 503 with ``Retry-After: 1``. Queued behind a full server it would wait
    for everyone before it, and so would every request after it: better a fast no, which a client can
    retry or send elsewhere, than a slow answer for everyone. Counted on the event loop, so no lock.

    The refusal also carries ``Retry-After-Ms``, drawn between ``RETRY_MS`` (OpenAI's clients read it
    before ``Retry-After``). Clients refused together would otherwise all come back together, a
    second later, and each would wait for the refusals of all the others.

    A request that arrives while ``busy_above`` or more are in flight is marked busy (``scope["state"]
    ["busy"]``; ``api.deps.get_loaded`` then answers it without the reader, and the response says so
    in ``X-RAG-Reader: skipped``): the model threads answer in arrival order, so each admitted request
    waits for all those before it, and only shorter work keeps a full server's latency near its usual."""

    def __init__(self, app, limit: int, metrics=None, busy_above: int = 0):
        self.app = app
        self.limit = limit
        self.metrics = metrics
        self.busy_above = busy_above
        self.in_flight = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not _counted(scope):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            if self.metrics is not None:
                self.metrics.refused.inc()
            message = f"the service is busy: {self.limit} requests are being answered; retry in a second"
            retry_ms = str(random.randint(*RETRY_MS))
            await refuse(scope, receive, send, 503, message, headers={"Retry-After": "1", "Retry-After-Ms": retry_ms})
            return
        busy = 0 < self.busy_above <= self.in_flight
        if busy:
            scope.setdefault("state", {})["busy"] = True
            if self.metrics is not None:
                self.metrics.busy.inc()
            send = _marked(send)
        self.in_flight += 1
        if self.metrics is not None:
            self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            if self.metrics is not None:
                self.metrics.in_flight.dec()


def _marked(send):
    async def send_marked(message):
        if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
            message = {**message, "headers": [*message.get("headers", []), (b"x-rag-reader", b"skipped")]}
        await send(message)

    return send_marked


def _counted(scope) -> bool:
    path = scope.get("path", "")
    if scope["method"] == "POST" and path in ANSWERING:
        return True
    return scope["method"] in WRITES and _under(path, UPLOAD_ROUTES)


class BodyGuard:
    """ASGI middleware on the bodies of POST, PUT and PATCH, before any endpoint sees them: a type other
    than JSON is 415 (multipart too, but under /documents, where files are uploaded), over ``limit``
    bytes is 413, JSON that is not UTF-8 is 422.

    Only JSON is taken because a web page can send text/plain, form and multipart bodies to any server
    without asking it first (no CORS preflight), so a page the user opens could otherwise make this
    service answer on its behalf (``api.security.OriginGuard`` covers the multipart uploads)."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES, upload_limit: int = MAX_BODY_BYTES):
        self.app = app
        self.json_limit = limit
        self.upload_limit = upload_limit  # document writes carry whole files

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        upload = _under(scope.get("path", ""), UPLOAD_ROUTES)
        multipart = ctype == "multipart/form-data" and upload
        limit = self.upload_limit if upload else self.json_limit
        if not (multipart or ctype == "application/json" or (ctype.startswith("application/") and ctype.endswith("+json"))):
            await refuse(scope, receive, send, 415, _type_message(ctype))
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await refuse(scope, receive, send, 413, f"the body is {declared} bytes; the limit is {limit}")
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            more = message.get("more_body", False)
            if size > limit:
                await refuse(scope, receive if more else None, send, 413, f"the body is over the limit of {limit} bytes")
                return
            chunks.append(body)
        data = b"".join(chunks)
        if not multipart:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as e:
                detail = [{"field": "body", "type": "unicode_decode", "msg": "not valid UTF-8"}]
                await refuse(scope, None, send, 422, f"body: not valid UTF-8 (byte {e.start})", detail)
                return
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": data, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p + "/") for p in prefixes)


def _type_message(ctype: str) -> str:
    sent = f"this body is {ctype}" if ctype else "this request has no content type"
    return f"the body must be JSON sent with content-type: application/json; {sent}"
