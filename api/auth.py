"""API keys: admin keys write documents, read keys ask and read. With no key configured, everything is
allowed (the server then binds loopback only: see ``api/cli.py``).

A key is sent as ``Authorization: Bearer <key>`` (what OpenAI's clients send as their ``api_key``) or
``X-API-Key: <key>``. Keys are compared as SHA-256 digests, so a keys file may hold digests only
(``admin sha256:<hex>``) and no key is kept in memory in the clear.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from rag.errors import InvalidInputError
from rag.settings import Settings

ROLES = ("admin", "read")


class AuthError(Exception):
    """401 (no or unknown key) or 403 (a key without the right): the message says which and what to send."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Keys:
    admin: frozenset[str] = frozenset()  # SHA-256 hex digests
    read: frozenset[str] = frozenset()

    @property
    def configured(self) -> bool:
        return bool(self.admin or self.read)

    def role(self, key: str) -> str | None:
        d = digest(key)
        if any(hmac.compare_digest(d, k) for k in self.admin):
            return "admin"
        if any(hmac.compare_digest(d, k) for k in self.read):
            return "read"
        return None


def _entry(value: str) -> str:
    value = value.strip()
    if value.startswith("sha256:"):
        hexd = value.removeprefix("sha256:").lower()
        if len(hexd) != 64 or any(c not in "0123456789abcdef" for c in hexd):
            raise InvalidInputError("a key given as sha256:HEX needs 64 hexadecimal digits")
        return hexd
    return digest(value)


def keys_from(settings: Settings) -> Keys:
    """The keys of ``RAG_ADMIN_KEYS``, ``RAG_READ_KEYS`` and ``RAG_KEYS_FILE``; a bad keys file is an error
    naming its line (a server must not start with fewer keys than its operator meant)."""
    found: dict[str, set[str]] = {"admin": set(), "read": set()}
    for role, raw in (("admin", settings.admin_keys), ("read", settings.read_keys)):
        found[role] |= {_entry(k) for k in raw.split(",") if k.strip()}
    if settings.keys_file is not None:
        path = Path(settings.keys_file)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise InvalidInputError(f"RAG_KEYS_FILE {path}: {exc.strerror or exc}") from None
        for n, line in enumerate(lines, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            role, _, key = line.strip().partition(" ")
            if role not in ROLES or not key.strip():
                raise InvalidInputError(f"{path}:{n}: expected 'admin KEY' or 'read KEY'")
            found[role].add(_entry(key))
    return Keys(frozenset(found["admin"]), frozenset(found["read"]))


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = request.headers.get("x-api-key", "").strip()
    return key or None


def _require(request: Request, need: str) -> None:
    keys: Keys = request.app.state.keys
    if not keys.configured:
        return
    key = presented_key(request)
    if key is None:
        raise AuthError(401, "an API key is needed: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
    role = keys.role(key)
    if role is None:
        raise AuthError(401, "the API key is not valid")
    if need == "admin" and role != "admin":
        raise AuthError(403, "this key may read but not write: writing documents needs an admin key")


# async: FastAPI runs a plain def dependency on the thread pool, a hand-off per request (and a wait
# behind model work under load) for a check that only compares hashes
async def require_read(request: Request) -> None:
    _require(request, "read")


async def require_admin(request: Request) -> None:
    _require(request, "admin")
