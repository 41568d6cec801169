"""Who may send a request: only to this server's own host names (no DNS rebinding), and writes only
from pages of this server's origin or of origins allowed by RAG_CORS_ORIGINS (no cross-site forgery);
and what a browser may do with a response (the security headers)."""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from api.errors import refuse
from rag.settings import Settings

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _header(scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k.lower() == name:
            return v.decode("latin-1")
    return None


def host_name(host: str) -> str:
    """The name of a Host header or an origin's authority, without its port: ``[::1]:8000`` -> ``[::1]``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0].rstrip(".") if host.count(":") == 1 else host.rstrip(".")


class HostGuard:
    """A request whose Host header names no allowed host is 400. A browser tricked into resolving a
    hostile name to 127.0.0.1 (DNS rebinding) sends that name as the Host: refused here, the page that
    asked reads nothing of this service."""

    def __init__(self, app, hosts: list[str]):
        self.app = app
        self.any = "*" in hosts
        self.hosts = frozenset(host_name(h) for h in hosts)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self.any:
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host")
        if host is None or host_name(host) not in self.hosts:
            named = f"names {host[:100]!r}" if host else "names no host"
            message = f"this server answers requests addressed to its own host names (RAG_ALLOWED_HOSTS); this one {named}"
            await refuse(scope, receive, send, 400, message)
            return
        await self.app(scope, receive, send)


class OriginGuard:
    """A write (POST, PUT, PATCH, DELETE) sent by a web page of another origin is 403, unless that
    origin is allowed by RAG_CORS_ORIGINS. JSON bodies already need a CORS preflight that other origins
    fail; this also covers what needs none, such as a multipart upload from another site's form."""

    def __init__(self, app, origins: list[str]):
        self.app = app
        self.origins = frozenset(origins)

    async def __call__(self, scope, receive, send):
        origin = _header(scope, b"origin") if scope["type"] == "http" and scope["method"] in WRITES else None
        if origin is None or origin in self.origins or self._same_origin(scope, origin):
            await self.app(scope, receive, send)
            return
        await refuse(scope, receive, send, 403, f"a write from a page of another origin ({origin[:100]}) is refused (see RAG_CORS_ORIGINS)")

    @staticmethod
    def _same_origin(scope, origin: str) -> bool:
        host = _header(scope, b"host")
        authority = urlsplit(origin).netloc  # "null" (a sandboxed page, a file) has none: never the same
        return bool(authority and host) and _authority(authority, origin) == _authority(host or "", origin)


def _authority(host: str, origin: str) -> str:
    default = ":443" if origin.startswith("https:") else ":80"
    host = host.lower()
    return host.removesuffix(default)


# The chat page loads its script and style from files: no inline code, so an injected one never runs.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# Swagger UI and ReDoc start from an inline script, and ReDoc styles its page with inline styles and
# reads the spec in a worker: these pages alone get what they need (their scripts by hash).
DOCS_PAGES = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
_DOCS_CSP = (
    "default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)
_ALWAYS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY")]


def docs_csp(html: bytes) -> str:
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(m).digest()).decode()}'" for m in _INLINE_SCRIPT.findall(html))
    return _DOCS_CSP.format(hashes=hashes)


class SecurityHeaders:
    """On every response: no MIME sniffing, no referrer, no framing, and a Content-Security-Policy (the
    API docs pages' own, with hashes of their inline scripts, computed from the page as it is sent)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope.get("path") in DOCS_PAGES
        held: dict = {}
        body: list[bytes] = []

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                if docs:  # its policy depends on its body: wait for it
                    held.update(message)
                    return
                message = _with_headers(message, CSP)
            elif docs and held:
                body.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                html = b"".join(body)
                await send(_with_headers(held, docs_csp(html)))
                message = {"type": "http.response.body", "body": html}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _with_headers(start: dict, csp: str) -> dict:
    return {**start, "headers": [*start.get("headers", []), *_ALWAYS, (b"content-security-policy", csp.encode())]}


def install_security(app: FastAPI, settings: Settings) -> None:
    """The request filters, outermost last: the Host first, then CORS (which answers preflights), then
    the origin of writes."""
    origins = settings.cors_origin_list()
    app.add_middleware(OriginGuard, origins=origins)
    if origins:  # off unless asked for: no page of another origin reads anything from this service
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["content-type", "authorization", "x-request-id"],
            expose_headers=["x-request-id", "retry-after"],
            max_age=600,
        )
    app.add_middleware(HostGuard, hosts=settings.host_names())
