"""The endpoints: thin adapters from HTTP to ``rag.ask`` / ``rag.conversation``."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from api.auth import require_read
from api.deps import Engine, Loaded, get_loaded, run_model
from api.errors import error_body, scrub_paths
from api.observability import note_answer
from api.schemas import (
    AskRequest,
    AskResponse,
    ChatCompletionRequest,
    ChatRequest,
    ChatResponse,
    ErrorOut,
    ModelList,
    ModelOut,
    OpenAIErrorOut,
    SearchRequest,
    SearchResponse,
)
from rag.ask import ask, search
from rag.chat import ChatTurn, answer_turn
from rag.filters import matching_documents
from rag.reply import Turn, render, turns
from rag.types import Answer

STATIC = Path(__file__).parent / "static"

router = APIRouter()  # health and the page: open to all
# Asking, searching and the OpenAI routes need a read (or admin) key when keys are configured.
qa_router = APIRouter(dependencies=[Depends(require_read)])

_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorOut, "description": "invalid input (the message names the field)"},
    503: {"model": ErrorOut, "description": "the index is not ready yet, with the reason"},
}
# Under /v1/ invalid input is 400, as OpenAI answers it; "4XX" also keeps FastAPI from listing its own 422.
_OPENAI_ERRORS: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": OpenAIErrorOut, "description": "invalid input (400, the message names the field) or a refused request"},
    503: {"model": OpenAIErrorOut, "description": _ERRORS[503]["description"]},
}
# Any model name is accepted (there is one answerer); this is the one /v1/models lists.
MODEL_ID = "rag"


def _docs(engine: Loaded, flt: Mapping[str, Any] | None) -> frozenset[str] | None:
    """The documents a request's metadata filter allows (None: no filter)."""
    return None if flt is None else matching_documents(engine.index.documents, flt)


def _answer(engine: Loaded, question: str, k: int, flt: Mapping[str, Any] | None = None) -> Answer:
    return ask(
        engine.index, engine.embedder, question, k=k, retrieval=engine.retrieval, answering=engine.answering, docs=_docs(engine, flt)
    )


def _turn(engine: Loaded, messages: list[Turn], k: int, flt: Mapping[str, Any] | None = None) -> ChatTurn:
    return answer_turn(engine.index, engine.embedder, messages, k, engine.retrieval, engine.answering, _docs(engine, flt))


def _answer_dict(a: Answer) -> dict:
    note_answer(a.abstained, a.question)
    d = a.to_dict()
    d["timings_ms"] = dict(a.timings_ms)
    return d


# -- health ----------------------------------------------------------------------------------
@router.get("/healthz", tags=["health"], summary="The process is up (touches nothing)")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", tags=["health"], summary="The index is loaded and the model warm (503 before)", responses={503: {"model": ErrorOut}})
async def readyz(request: Request):
    engine: Engine = request.app.state.engine
    if engine.ready and engine.loaded is not None:
        loaded = engine.loaded
        return {
            "status": "ready",
            "documents": len(loaded.index.documents),
            "chunks": len(loaded.index.chunks),
            "model": loaded.embedder.model_id,
            "notes": [scrub_paths(n, engine.settings.corpus) for n in engine.notes],
        }
    reason = engine.error if engine.status == "failed" else f"not ready: {engine.stage}"
    return JSONResponse({"status": engine.status, **error_body(request.scope, reason or "not ready")}, status_code=503)


# -- question answering ----------------------------------------------------------------------
@qa_router.post(
    "/ask",
    response_model=AskResponse,
    tags=["qa"],
    responses=_ERRORS,
    summary="Answer a question with citations, or abstain when the corpus does not say",
)
async def ask_endpoint(body: AskRequest, engine: Loaded = Depends(get_loaded)) -> dict:
    a = await run_model(_answer, engine, body.question, body.k, body.filter)
    return _answer_dict(a)


@qa_router.post("/search", response_model=SearchResponse, tags=["qa"], responses=_ERRORS, summary="Ranked passages only, no answer")
async def search_endpoint(body: SearchRequest, engine: Loaded = Depends(get_loaded)) -> dict:
    t0 = time.perf_counter()
    hits = await run_model(search, engine.index, engine.embedder, body.query, body.k, engine.retrieval, _docs(engine, body.filter))
    return {
        "query": body.query.strip(),
        "passages": [h.to_dict() for h in hits],
        "timings_ms": {"total": round((time.perf_counter() - t0) * 1e3, 3)},
    }


@qa_router.post(
    "/chat",
    response_model=ChatResponse,
    tags=["qa"],
    responses=_ERRORS,
    summary="Answer the last user message, resolving follow-ups against the conversation",
)
async def chat_endpoint(body: ChatRequest, engine: Loaded = Depends(get_loaded)) -> dict:
    turn = await run_model(_turn, engine, turns((m.role, m.content) for m in body.messages), body.k, body.filter)
    return {**_answer_dict(turn.answer), "standalone_question": turn.question, "talk": turn.talk, "more": turn.more}


# -- OpenAI-compatible -----------------------------------------------------------------------
def _openai_messages(body: ChatCompletionRequest) -> list[Turn]:
    from rag.errors import InvalidInputError

    messages = [(m.role, m.text()) for m in body.messages if m.role in ("user", "assistant")]
    if not messages or messages[-1][0] != "user":
        raise InvalidInputError("messages: the last message must have role 'user'", field="messages")
    if not messages[-1][1].strip():
        # standalone_question skips blank turns, so the previous question would be answered again
        raise InvalidInputError("messages: the last user message is empty", field="messages")
    return turns(messages)


def _openai_turn(engine: Loaded, messages: list[Turn], k: int, flt: Mapping[str, Any] | None = None) -> ChatTurn:
    from rag.errors import EmptyQueryError, InvalidInputError

    try:
        return _turn(engine, messages, k, flt)
    except (EmptyQueryError, InvalidInputError) as e:  # the question is the last message here: name the field the client sent
        raise InvalidInputError(
            f"messages: {str(e).replace('the question', 'the last user message', 1)}" if e.field == "question" else str(e),
            field="messages" if e.field == "question" else e.field,
        ) from None


@qa_router.get("/v1/models", response_model=ModelList, tags=["openai"], summary="OpenAI-compatible model list (one model)")
async def list_models(request: Request) -> dict:
    return {"object": "list", "data": [_model(request)]}


@qa_router.get("/v1/models/{model_id}", response_model=ModelOut, tags=["openai"], responses={404: {"model": OpenAIErrorOut}})
async def get_model(model_id: str, request: Request) -> dict:
    if model_id != MODEL_ID:
        from starlette.exceptions import HTTPException

        raise HTTPException(404, f"no model {model_id!r}; this service has one: {MODEL_ID!r}")
    return _model(request)


def _model(request: Request) -> dict:
    engine: Engine = request.app.state.engine
    return {"id": MODEL_ID, "object": "model", "created": engine.started, "owned_by": "rag"}


@qa_router.post(
    "/v1/chat/completions",
    tags=["openai"],
    responses=_OPENAI_ERRORS,
    summary="OpenAI-compatible chat completions (non-streaming and stream=true as SSE)",
)
async def chat_completions(body: ChatCompletionRequest, engine: Loaded = Depends(get_loaded)):
    turn = await run_model(_openai_turn, engine, _openai_messages(body), body.k, body.filter)
    a, question = turn.answer, turn.question
    content = render(a, talk=turn.talk, more=turn.more)
    d = _answer_dict(a)
    cid = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    extra = {
        "citations": d["citations"],
        "answer_span": d["answer_span"],
        "abstained": d["abstained"],
        "confidence": d["confidence"],
        "standalone_question": question,
        "talk": turn.talk,
    }
    # words, not tokens: there is no generative tokenizer; clients only need the fields to exist
    n_prompt = sum(len(m.text().split()) for m in body.messages)
    n_out = len(content.split())
    usage = {"prompt_tokens": n_prompt, "completion_tokens": n_out, "total_tokens": n_prompt + n_out}
    if not body.stream:
        return {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": body.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": usage,
            **extra,
        }

    def chunk(delta: dict, finish: str | None = None, **more) -> str:
        payload = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": body.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **more,
        }
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    async def events():
        yield chunk({"role": "assistant"})
        pieces = content.split("\n")
        for i, line in enumerate(pieces):
            yield chunk({"content": line + ("\n" if i < len(pieces) - 1 else "")})
        yield chunk({}, "stop", **extra)
        if body.stream_options is not None and body.stream_options.include_usage:
            # as OpenAI does: one last chunk with no choices and the usage
            payload = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": body.model, "choices": [], "usage": usage}
            yield f"data: {json.dumps(payload)}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


# -- chat page -------------------------------------------------------------------------------
@router.get("/", include_in_schema=False)
async def chat_page():
    return FileResponse(STATIC / "index.html", media_type="text/html")


__all__ = ["error_body", "qa_router", "router"]
