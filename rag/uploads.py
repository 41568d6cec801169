"""Documents written over the API, kept as they were uploaded: the source of truth the index is built
from, beside the corpus folder.

Layout of the folder (``RAG_DOCUMENTS``)::

    <key>/meta.json      {"id", "name", "title", "metadata", "sha256", "format"}: written last, atomically
    <key>/<sha256>.<ext> the bytes as uploaded

``key`` is a hash of the document's id, so an id never names a path. A document exists once its
``meta.json`` does; a write that dies before that leaves a folder without one, which the next write
or load removes. A replace writes the new bytes beside the old ones, then swaps ``meta.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rag.corpus import document_from
from rag.errors import InvalidInputError
from rag.formats import SUFFIXES
from rag.types import Document

MAX_ID_CHARS = 128
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Upload:
    """A document as a client sends it: bytes in one of the formats (``rag.formats``) and what to call it."""

    name: str  # a file name; its suffix picks the format
    data: bytes
    id: str | None = None  # default: the name without its suffix
    title: str | None = None  # default: from the document (front matter, first heading, ...)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def doc_id(self) -> str:
        return self.id if self.id is not None else Path(self.name).stem


def check_id(doc_id: str) -> str:
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise InvalidInputError("a document id must be a non-empty string", field="id")
    if len(doc_id) > MAX_ID_CHARS or _CONTROL.search(doc_id) or doc_id != doc_id.strip():
        raise InvalidInputError(
            f"document id {doc_id[:40]!r}: at most {MAX_ID_CHARS} characters, no control characters, no leading or trailing spaces",
            field="id",
        )
    return doc_id


def check_metadata(metadata: object) -> dict[str, Any]:
    if not isinstance(metadata, dict) or not all(isinstance(k, str) for k in metadata):
        raise InvalidInputError("metadata must be a JSON object", field="metadata")
    try:
        json.dumps(metadata)
    except (TypeError, ValueError):
        raise InvalidInputError("metadata must hold JSON values only", field="metadata") from None
    return metadata


def parse_upload(u: Upload) -> Document:
    """The document an upload holds, or a clear error naming it (unsupported type, unreadable bytes)."""
    doc_id = check_id(u.doc_id)
    if Path(u.name).suffix.lower() not in SUFFIXES:
        raise InvalidInputError(f"{u.name}: unsupported file type; supported: {', '.join(SUFFIXES)}", field="file")
    doc = document_from(doc_id, u.name, u.data, source="api", metadata=check_metadata(u.metadata))
    if not doc.text.strip():
        raise InvalidInputError(f"{u.name}: no text to index", field="file")
    return doc if u.title is None else replace(doc, title=u.title)


class UploadStore:
    """The folder of uploaded documents. Not thread-safe by itself: writers serialise (``rag.live``)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    @staticmethod
    def _key(doc_id: str) -> str:
        return hashlib.sha256(doc_id.encode("utf-8")).hexdigest()[:32]

    def _dir(self, doc_id: str) -> Path:
        return self.folder / self._key(doc_id)

    def ids(self) -> set[str]:
        return {m["id"] for m in self._metas()}

    def _metas(self) -> list[dict]:
        if not self.folder.is_dir():
            return []
        out = []
        for d in sorted(self.folder.iterdir()):
            meta = d / "meta.json"
            if d.is_dir() and not d.name.startswith(".") and meta.is_file():
                try:
                    out.append({**json.loads(meta.read_text(encoding="utf-8")), "_dir": d})
                except (OSError, ValueError):
                    continue  # unreadable: load() reports it
        return out

    def load(self, notes: list[str] | None = None) -> list[Document]:
        """Every stored document, parsed again from its bytes (what was uploaded is the truth)."""
        docs = []
        for m in self._metas():
            try:
                data = (m["_dir"] / m["file"]).read_bytes()
                doc = document_from(m["id"], m["name"], data, source="api", metadata=m.get("metadata") or {})
                docs.append(doc if not m.get("title") else replace(doc, title=m["title"]))
            except (OSError, KeyError, InvalidInputError) as exc:
                if notes is not None:
                    notes.append(f"uploaded document {m.get('id')!r}: {exc}")
        return docs

    def put(self, u: Upload, doc: Document) -> None:
        """Store ``u`` (a new document, or a replacement): durable when this returns."""
        d = self._dir(doc.id)
        d.mkdir(parents=True, exist_ok=True)
        suffix = Path(u.name).suffix.lower()
        file = f"{doc.sha256}{suffix}"
        _write_durably(d / file, u.data)
        meta = {
            "id": doc.id,
            "name": u.name,
            "file": file,
            "title": u.title,
            "metadata": u.metadata,
            "sha256": doc.sha256,
            "format": suffix.lstrip("."),
            "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        _write_durably(d / "meta.json", json.dumps(meta, ensure_ascii=False).encode("utf-8"))
        for old in d.iterdir():  # the bytes a replacement superseded
            if old.name not in ("meta.json", file):
                old.unlink(missing_ok=True)

    def delete(self, doc_id: str) -> bool:
        d = self._dir(doc_id)
        if not (d / "meta.json").is_file():
            return False
        gone = self.folder / f".deleted-{uuid.uuid4().hex}"
        os.rename(d, gone)  # atomic: the document is gone at once, the bytes go after
        _fsync_dir(self.folder)
        shutil.rmtree(gone, ignore_errors=True)
        return True

    def clean(self) -> None:
        """Remove what a write killed half-way left: deleted folders not yet removed, folders without a
        meta.json. Only while holding the build lock: a folder without meta.json may be a write going on."""
        if not self.folder.is_dir():
            return
        for d in self.folder.iterdir():
            if d.name.startswith(".deleted-") or (d.is_dir() and not d.name.startswith(".") and not (d / "meta.json").exists()):
                shutil.rmtree(d, ignore_errors=True)
            elif d.is_file() and d.name.startswith(".tmp-"):
                d.unlink(missing_ok=True)


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.parent / f".tmp-{uuid.uuid4().hex}"
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
