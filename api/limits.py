"""Limits on what a request may ask of the service: the size, encoding and type of its body."""

from __future__ import annotations

import json

from api.errors import error_response

MAX_BODY_BYTES = 1024 * 1024  # a long chat history fits; a runaway upload does not


class BodyGuard:
    """ASGI middleware: bodies over ``limit`` bytes are 413, bodies that are not UTF-8 are 422, bodies
    that are not JSON under another content type are 415, all before any endpoint sees them."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._reply(scope, send, 413, f"the body is {declared} bytes; the limit is {self.limit}")
            return
        chunks, size = [], 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.limit:
                await self._reply(scope, send, 413, f"the body is over the limit of {self.limit} bytes")
                return
            chunks.append(body)
            more = message.get("more_body", False)
        data = b"".join(chunks)
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
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
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
        response = error_response(scope, status, message, detail)
        await send({"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})
