"""The documents API: list and read documents (read key), add, replace and delete them (admin key).

Writes take JSON (``{"id"?, "title"?, "text", "metadata"?, "format"?}``) or a multipart upload of
files (their names' suffixes pick the format); they return what was written, with the document's
content hash, its chunk count and how long the write took. The work is ``rag.live.LiveIndex``'s."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.auth import require_admin, require_read
from api.deps import Engine, Loaded, get_loaded
from api.errors import DocumentNotFoundError
from api.schemas import DeleteOut, DocumentList, DocumentOut, ErrorOut, WriteOut
from rag.errors import InvalidInputError
from rag.filters import matching_documents
from rag.formats import SUFFIXES
from rag.live import LiveIndex
from rag.types import Document
from rag.uploads import Upload, check_metadata

router = APIRouter(tags=["documents"])

_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "no or unknown API key"},
    403: {"model": ErrorOut, "description": "a read key: writing needs an admin key"},
    404: {"model": ErrorOut, "description": "no such document"},
    409: {"model": ErrorOut, "description": "the id exists (POST), is a file of the corpus folder, or another write is going on"},
    413: {"model": ErrorOut, "description": "the body is over the size limit"},
    415: {"model": ErrorOut, "description": "neither JSON nor a multipart upload"},
    422: {"model": ErrorOut, "description": "invalid input: the message names the field or the file"},
    503: {"model": ErrorOut, "description": "the index is not ready yet"},
}
_FORMATS = sorted({s.lstrip(".") for s in SUFFIXES})
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["text"],
                    "additionalProperties": False,
                    "properties": {
                        "id": {"type": "string", "minLength": 1, "maxLength": 128},
                        "title": {"type": "string", "maxLength": 500},
                        "text": {"type": "string", "minLength": 1},
                        "metadata": {"type": "object"},
                        "format": {"type": "string", "enum": _FORMATS, "description": "how to read text (default txt)"},
                    },
                }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        "id": {"type": "string", "description": "with one file: its id (default: the file name without its suffix)"},
                        "metadata": {"type": "string", "description": "a JSON object, given to every file"},
                    },
                }
            },
        },
    }
}


def _live(request: Request) -> LiveIndex:
    engine: Engine = request.app.state.engine
    engine.require()
    if engine.live is None:
        raise InvalidInputError("this server's index cannot be written to")
    return engine.live


def _upload_from_json(body: object, doc_id: str | None) -> Upload:
    if not isinstance(body, dict):
        raise InvalidInputError("body: expected a JSON object with 'text'", field="body")
    unknown = sorted(set(body) - {"id", "title", "text", "metadata", "format"})
    if unknown:
        raise InvalidInputError(f"{unknown[0]}: unknown field", field=unknown[0])
    text, title, fmt = body.get("text"), body.get("title"), body.get("format", "txt")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError("text: a non-empty string is required", field="text")
    if title is not None and (not isinstance(title, str) or not title.strip() or len(title) > 500):
        raise InvalidInputError("title: a non-empty string of at most 500 characters", field="title")
    if fmt not in _FORMATS:
        raise InvalidInputError(f"format: one of {', '.join(_FORMATS)}", field="format")
    given = body.get("id")
    if doc_id is not None and given is not None and given != doc_id:
        raise InvalidInputError("id: the body's id differs from the path's", field="id")
    the_id = doc_id if doc_id is not None else given
    if the_id is not None and not isinstance(the_id, str):
        raise InvalidInputError("id: a string is required", field="id")
    name = f"{the_id or 'document'}.{fmt}"
    return Upload(name, text.encode("utf-8"), id=the_id, title=title, metadata=check_metadata(body.get("metadata") or {}))


async def _uploads(request: Request, doc_id: str | None = None) -> list[Upload]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        form = await request.form(max_files=100)
        files = [f for f in form.getlist("file") if not isinstance(f, str)]
        if not files:
            raise InvalidInputError("file: a multipart upload needs at least one 'file' part", field="file")
        meta_raw = form.get("metadata")
        try:
            metadata = json.loads(meta_raw) if isinstance(meta_raw, str) and meta_raw.strip() else {}
        except ValueError:
            raise InvalidInputError("metadata: not JSON", field="metadata") from None
        form_id = form.get("id")
        if isinstance(form_id, str) and form_id and len(files) > 1:
            raise InvalidInputError("id: give an id only with one file", field="id")
        the_id = doc_id if doc_id is not None else (form_id if isinstance(form_id, str) and form_id else None)
        if doc_id is not None and len(files) != 1:
            raise InvalidInputError("file: a replacement is one file", field="file")
        return [Upload(f.filename or "document.txt", await f.read(), id=the_id, metadata=check_metadata(metadata)) for f in files]
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise InvalidInputError("body: not valid JSON", field="body") from None
    return [_upload_from_json(body, doc_id)]


def _written(w: Any) -> dict:
    return {"id": w.id, "title": w.title, "sha256": w.sha256, "chunks": w.chunks, "created": w.created, "seconds": round(w.seconds, 3)}


@router.post(
    "/documents",
    status_code=201,
    response_model=WriteOut,
    responses=_WRITE_ERRORS,
    openapi_extra=_BODY,
    dependencies=[Depends(require_admin)],
    summary="Add documents: JSON text, or a multipart upload of files",
)
async def add_documents(request: Request) -> dict:
    live = _live(request)
    uploads = await _uploads(request)
    skipped: list[dict[str, str]] = []
    if len(uploads) > 1:
        # Of many files, one that cannot be read is named and left out; the rest are added.
        from rag.uploads import parse_upload

        readable = []
        for u in uploads:
            try:
                parse_upload(u)
                readable.append(u)
            except InvalidInputError as exc:
                skipped.append({"name": u.name, "error": str(exc)})
        if not readable:
            raise InvalidInputError(f"no file could be read: {skipped[0]['error']}", field="file")
        uploads = readable
    written = await run_in_threadpool(live.add, uploads)
    return {"documents": [_written(w) for w in written], "skipped": skipped}


@router.put(
    "/documents/{doc_id}",
    response_model=WriteOut,
    responses={**_WRITE_ERRORS, 201: {"model": WriteOut}},
    openapi_extra=_BODY,
    dependencies=[Depends(require_admin)],
    summary="Replace a document (or add it under this id)",
)
async def replace_document(doc_id: str, request: Request):
    live = _live(request)
    uploads = await _uploads(request, doc_id)
    written = await run_in_threadpool(live.add, uploads, True)
    body = {"documents": [_written(w) for w in written], "skipped": []}
    return JSONResponse(body, status_code=201 if written[0].created else 200)


@router.delete(
    "/documents/{doc_id}",
    response_model=DeleteOut,
    responses=_WRITE_ERRORS,
    dependencies=[Depends(require_admin)],
    summary="Delete a document written over the API",
)
async def delete_document(doc_id: str, request: Request) -> dict:
    live = _live(request)
    seconds = await run_in_threadpool(live.delete, doc_id)
    return {"id": doc_id, "deleted": True, "seconds": round(seconds, 3)}


def _summary(d: Document, counts: dict[str, int]) -> dict:
    return {
        "id": d.id,
        "title": d.title,
        "chunks": counts.get(d.id, 0),
        "sha256": d.sha256,
        "origin": "api" if d.source == "api" else "folder",
        "metadata": d.metadata,
    }


def _chunk_counts(engine: Loaded) -> dict[str, int]:
    counts: dict[str, int] = {}
    for c in engine.index.chunks:
        counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
    return counts


@router.get(
    "/documents",
    response_model=DocumentList,
    responses={k: _WRITE_ERRORS[k] for k in (401, 422, 503)},
    dependencies=[Depends(require_read)],
    summary="The documents, a page at a time, optionally filtered by metadata",
)
async def list_documents(
    engine: Loaded = Depends(get_loaded),
    offset: int = Query(0, ge=0, description="documents to skip"),
    limit: int = Query(50, ge=1, le=1000, description="documents to return"),
    filter: str | None = Query(None, description='a JSON object of metadata field -> value or list of values, e.g. {"source": "x"}'),
) -> dict:
    docs = engine.index.documents
    if filter is not None:
        try:
            flt = json.loads(filter)
        except ValueError:
            raise InvalidInputError("filter: not JSON", field="filter") from None
        allowed = matching_documents(docs, flt)
        chosen = [d for d in docs.values() if d.id in allowed]
    else:
        chosen = list(docs.values())
    chosen.sort(key=lambda d: d.id)
    counts = _chunk_counts(engine)
    return {
        "documents": [_summary(d, counts) for d in chosen[offset : offset + limit]],
        "total": len(chosen),
        "offset": offset,
        "limit": limit,
    }


@router.get(
    "/documents/{doc_id}",
    response_model=DocumentOut,
    responses={404: {"model": ErrorOut}, 503: {"model": ErrorOut}},
    dependencies=[Depends(require_read)],
    summary="One document: its text, against which citation offsets resolve",
)
async def get_document(doc_id: str, engine: Loaded = Depends(get_loaded)) -> dict:
    d = engine.index.documents.get(doc_id)
    if d is None:
        raise DocumentNotFoundError(doc_id)
    return {**_summary(d, _chunk_counts(engine)), "text": d.source_text, "pages": list(d.pages)}
