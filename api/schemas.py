"""Request and response schemas of the HTTP API (requests are strict: unknown fields and wrong types are 422)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, field_validator

from rag.limits import MAX_K, MAX_QUESTION_CHARS

# Clients resend the whole conversation every turn (OpenAI's protocol): a long chat must not start
# failing at turn 50. The body limit (1 MB) is the bound; this one only catches a runaway client.
MAX_MESSAGES = 100_000

_Scalar = StrictStr | StrictInt | StrictFloat | StrictBool
MetadataFilter = dict[str, _Scalar | list[_Scalar]]
FILTER_HELP = 'only documents whose metadata match: {"source": "x"}, {"doc_id": ["a", "b"]} (a list: any of)'

_STRICT = ConfigDict(extra="forbid", strict=True)


def _not_blank(v: str) -> str:
    if not v.strip():
        raise ValueError("must not be empty or whitespace only")
    return v


# -- requests --------------------------------------------------------------------------------
class AskRequest(BaseModel):
    model_config = ConfigDict(**_STRICT, json_schema_extra={"examples": [{"question": "What is Belgium's focus area?", "k": 5}]})

    question: str = Field(..., min_length=1, max_length=MAX_QUESTION_CHARS, description="the question, 1..2000 characters")
    k: int = Field(5, ge=1, le=MAX_K, description="number of citations to return (1..50)")
    filter: MetadataFilter | None = Field(None, description=FILTER_HELP)

    @field_validator("question")
    @classmethod
    def _question_not_blank(cls, v: str) -> str:
        return _not_blank(v)


class SearchRequest(BaseModel):
    model_config = ConfigDict(**_STRICT, json_schema_extra={"examples": [{"query": "Belgium focus area", "k": 5}]})

    query: str = Field(..., min_length=1, max_length=MAX_QUESTION_CHARS, description="the search text, 1..2000 characters")
    k: int = Field(5, ge=1, le=MAX_K, description="number of passages (1..50)")
    filter: MetadataFilter | None = Field(None, description=FILTER_HELP)

    @field_validator("query")
    @classmethod
    def _query_not_blank(cls, v: str) -> str:
        return _not_blank(v)


class ChatMessage(BaseModel):
    model_config = _STRICT

    role: Literal["user", "assistant"]
    content: str = Field(..., max_length=20_000)


class ChatRequest(BaseModel):
    model_config = ConfigDict(
        **_STRICT,
        json_schema_extra={
            "examples": [
                {
                    "messages": [
                        {"role": "user", "content": "What is Belgium's focus area?"},
                        {"role": "assistant", "content": "Enhancement of Rapid Response forces [1]"},
                        {"role": "user", "content": "and Poland?"},
                    ]
                }
            ]
        },
    )

    messages: list[ChatMessage] = Field(..., min_length=1, max_length=MAX_MESSAGES)
    k: int = Field(5, ge=1, le=MAX_K)
    filter: MetadataFilter | None = Field(None, description=FILTER_HELP)

    @field_validator("messages")
    @classmethod
    def _last_is_user(cls, v: list[ChatMessage]) -> list[ChatMessage]:
        if v[-1].role != "user":
            raise ValueError("the last message must have role 'user'")
        if not v[-1].content.strip():
            raise ValueError("the last user message is empty")
        if len(v[-1].content) > MAX_QUESTION_CHARS:
            raise ValueError(f"the last user message is {len(v[-1].content)} characters long; the limit is {MAX_QUESTION_CHARS}")
        return v


class OpenAIMessage(BaseModel):
    """An OpenAI chat message: content may be a string or a list of content parts."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return " ".join(str(p.get("text", "")) for p in self.content if isinstance(p, dict) and p.get("type", "text") == "text")


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: StrictBool = False


class ChatCompletionRequest(BaseModel):
    """OpenAI ``/v1/chat/completions``; sampling parameters the client may send are accepted and ignored, but ``n`` > 1."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [{"model": "rag", "messages": [{"role": "user", "content": "What is Belgium's focus area?"}], "stream": False}]
        },
    )

    model: StrictStr = "rag"
    messages: list[OpenAIMessage] = Field(..., min_length=1, max_length=MAX_MESSAGES)
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    k: StrictInt = Field(5, ge=1, le=MAX_K)
    filter: MetadataFilter | None = Field(None, description=FILTER_HELP)
    # One extractive answer per question: asking for more choices is refused, not silently cut to one.
    n: StrictInt = Field(1, ge=1, le=1, description="choices per request: only 1 (one extractive answer per question)")
    # What a client would silently not get is refused: it calls no tools and writes no JSON for you.
    tools: list[Any] | None = Field(None, description="not supported: no tools are called (an empty list is fine)")
    functions: list[Any] | None = Field(None, description="not supported: no functions are called (an empty list is fine)")
    response_format: dict[str, Any] | None = Field(None, description='only {"type": "text"}')

    @field_validator("tools", "functions")
    @classmethod
    def _no_tools(cls, v: list[Any] | None) -> list[Any] | None:
        if v:
            raise ValueError("not supported: this service answers from its documents and calls no tools")
        return v

    @field_validator("response_format")
    @classmethod
    def _text_only(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None and v.get("type", "text") != "text":
            raise ValueError(f"only type 'text' is supported, not {v.get('type')!r}: answers are extracted text with citations")
        return v


# -- responses -------------------------------------------------------------------------------
class SpanOut(BaseModel):
    doc_id: str
    start: int
    end: int


class CitationOut(BaseModel):
    doc_id: str
    title: str
    section: str
    start: int
    end: int
    text: str
    score: float
    page: int | None = Field(None, description="the PDF page the passage starts on")


class AskResponse(BaseModel):
    """Exactly ``Answer.to_dict()`` plus ``timings_ms``."""

    question: str
    answer: str | None
    abstained: bool
    confidence: float
    answer_span: SpanOut | None
    citations: list[CitationOut]
    timings_ms: dict[str, float]


class ChatResponse(AskResponse):
    standalone_question: str
    talk: bool = Field(False, description='the last message is talk ("thanks!"), not a question: nothing was looked up')
    more: int = Field(0, description='how many "tell me more" this answer follows (abstained then: nothing more)')


class PassageOut(BaseModel):
    rank: int
    doc_id: str
    title: str
    section: str
    start: int
    end: int
    text: str
    score: float
    page: int | None = Field(None, description="the PDF page the passage starts on")


class SearchResponse(BaseModel):
    query: str
    passages: list[PassageOut]
    timings_ms: dict[str, float]


class DocumentSummary(BaseModel):
    id: str
    title: str
    chunks: int
    sha256: str = Field(description="the SHA-256 of the document's text")
    origin: Literal["folder", "api"] = Field(description="a file of the corpus folder, or written over the API")
    metadata: dict[str, Any] = Field(default_factory=dict, description="front matter, page metadata, what a client sent with it")


class DocumentList(BaseModel):
    documents: list[DocumentSummary]
    total: int = Field(description="documents matching, over all pages")
    offset: int
    limit: int


class DocumentOut(DocumentSummary):
    text: str = Field(description="the text citations' offsets point into: the file's text, or the text extracted from it (HTML, PDF)")
    pages: list[int] = Field(default_factory=list, description="PDF: the offset in text where each page starts")


class WrittenOut(BaseModel):
    id: str
    title: str
    sha256: str
    chunks: int
    created: bool = Field(description="false when it replaced a document of that id")
    seconds: float = Field(description="how long the write took: storing, embedding, swapping the index in")


class SkippedOut(BaseModel):
    name: str
    error: str


class WriteOut(BaseModel):
    documents: list[WrittenOut]
    skipped: list[SkippedOut] = Field(default_factory=list, description="files of the upload that could not be read")


class DeleteOut(BaseModel):
    id: str
    deleted: bool
    seconds: float


class ErrorOut(BaseModel):
    error: str
    detail: Any = None
    request_id: str | None = Field(None, description="the id of the request in the server log (also the X-Request-ID header)")


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorOut(BaseModel):
    """Errors under ``/v1/`` take OpenAI's shape, so its clients report the message."""

    error: OpenAIErrorDetail
    request_id: str | None = Field(None, description="the id of the request in the server log (also the X-Request-ID header)")


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]
