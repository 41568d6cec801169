"""The index manifest: what built an index and the checksum of every file in it, validated on load."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rag.errors import IndexCorruptError, IndexMismatchError

if TYPE_CHECKING:
    from rag.chunking import ChunkerConfig

FORMAT_VERSION = 3  # 2: documents carry a clean text and its source; 3: a validated manifest with file checksums
REBUILD = "rebuild it with `rag index --rebuild`"


class Manifest(BaseModel):
    model_config = ConfigDict(extra="allow")

    format_version: int
    rag_version: str
    created_at: str
    embedding_model: str
    model_fingerprint: str | None = None
    dim: int = Field(gt=0)
    normalized: bool
    max_seq_length: int
    chunker: dict[str, Any]
    faiss: dict[str, Any] = Field(default_factory=dict)  # the FAISS store's index; a Milvus collection's is under "milvus"
    bm25: dict[str, Any]
    documents: dict[str, str]  # id -> sha256 of the document's source text
    counts: dict[str, int]
    files: dict[str, str] = Field(default_factory=dict)  # file, relative to the index -> sha256


def parse_manifest(raw: bytes, where: Path | str, current: int) -> dict[str, Any]:
    """The manifest as a dict, or ``IndexCorruptError`` naming the file and the fix. An index of
    another format than ``current`` is not corrupt: its manifest is returned unchecked, for
    ``check_manifest`` to report the mismatch (and a build to redo it)."""
    import json

    try:
        data = json.loads(raw)
    except ValueError as e:
        raise IndexCorruptError(f"{where} is not valid JSON ({e}); {REBUILD}", file=str(where)) from None
    if isinstance(data, dict) and isinstance(data.get("format_version"), int) and data["format_version"] != current:
        return data
    try:
        return Manifest.model_validate(data).model_dump()
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "the top level"
        raise IndexCorruptError(f"{where} is not a valid index manifest ({field}: {first['msg']}); {REBUILD}", file=str(where)) from None


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def checksums(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` but the manifest, by relative path."""
    return {str(p.relative_to(folder)): file_digest(p) for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "manifest.json"}


def verify(folder: Path, files: dict[str, str]) -> None:
    """Every file the manifest names is there with the bytes it was written with."""
    for name, digest in files.items():
        p = folder / name
        if not p.is_file():
            raise IndexCorruptError(f"{p} is missing; {REBUILD}", file=str(p))
        if file_digest(p) != digest:
            raise IndexCorruptError(f"{p} does not hold what was written (checksum mismatch); {REBUILD}", file=str(p))


def check_manifest(
    manifest: dict, *, model_id: str | None = None, fingerprint: str | None = None, chunker: ChunkerConfig | None = None
) -> None:
    hint = "rebuild it with `rag index`"
    if manifest.get("format_version") != FORMAT_VERSION:
        cause, hint = f"index format {manifest.get('format_version')} is not {FORMAT_VERSION}", "rebuild it with `rag index --rebuild`"
    elif model_id is not None and manifest.get("embedding_model") != model_id:
        cause = f"index was built with model {manifest.get('embedding_model')!r}, not {model_id!r}"
    elif fingerprint is not None and manifest.get("model_fingerprint") != fingerprint:
        cause = "index was built with different weights of this model"
    elif chunker is not None and _chunker_of(manifest) != chunker.to_dict():
        was, now = _chunker_of(manifest), chunker.to_dict()
        diff = [k for k in sorted(set(was) | set(now)) if was.get(k) != now.get(k)]
        cause = (
            f"index was built with chunker settings {', '.join(f'{k}={was.get(k)}' for k in diff)} "
            f"(now {', '.join(f'{k}={now.get(k)}' for k in diff)})"
        )
    else:
        return
    raise IndexMismatchError(f"{cause}; {hint}", cause=cause)


def _chunker_of(manifest: dict) -> dict:
    # An index written before candidate vectors could be pooled had them encoded separately.
    return {"candidate_vectors": "separate", **(manifest.get("chunker") or {})}
