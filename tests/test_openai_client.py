"""/v1/chat/completions driven by the official ``openai`` client, streaming and not."""

from __future__ import annotations

import pytest

from tests.api_support import BELGIUM_A, BELGIUM_Q, POLAND_A, UNANSWERABLE_Q

pytest_plugins = ["tests.api_fixtures"]

pytestmark = pytest.mark.slow

openai = pytest.importorskip("openai")


@pytest.fixture(scope="module")
def oai(live_server):
    client = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="not-needed", max_retries=0, timeout=60)
    yield client
    client.close()


def test_non_streaming_answer_with_markers_sources_and_citations(oai):
    r = oai.chat.completions.create(model="rag", messages=[{"role": "user", "content": BELGIUM_Q}])
    assert r.object == "chat.completion" and r.choices[0].finish_reason == "stop"
    msg = r.choices[0].message
    assert msg.role == "assistant"
    assert msg.content.startswith(BELGIUM_A) and "[1]" in msg.content
    assert "Sources:" in msg.content and "\n[1] " in msg.content
    assert "\n[2] " not in msg.content  # only the cited source is listed; all are in r.citations
    citations = r.model_extra["citations"] if r.model_extra else r.citations
    assert citations and citations[0]["doc_id"] == "hegseth-europe-visit"
    assert r.usage.total_tokens > 0


def test_streaming_answer(oai):
    stream = oai.chat.completions.create(model="rag", stream=True, messages=[{"role": "user", "content": BELGIUM_Q}])
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text.startswith(BELGIUM_A) and "Sources:" in text
    assert chunks[-1].choices[0].finish_reason == "stop"
    last = chunks[-1].model_extra or {}
    assert last.get("citations")


def test_stream_and_non_stream_agree(oai):
    msgs = [{"role": "user", "content": "What is Poland's focus area?"}]
    full = oai.chat.completions.create(model="rag", messages=msgs).choices[0].message.content
    streamed = "".join(c.choices[0].delta.content or "" for c in oai.chat.completions.create(model="rag", messages=msgs, stream=True))
    assert full == streamed and full.startswith(POLAND_A)


def test_follow_up_through_the_client(oai):
    r = oai.chat.completions.create(
        model="rag",
        messages=[
            {"role": "system", "content": "Answer from the corpus."},
            {"role": "user", "content": "what is Belgium's focus area?"},
            {"role": "assistant", "content": f"{BELGIUM_A} [1]"},
            {"role": "user", "content": "and Poland?"},
        ],
    )
    assert r.choices[0].message.content.startswith(POLAND_A)


def test_abstention_says_the_corpus_does_not_say(oai):
    r = oai.chat.completions.create(model="rag", messages=[{"role": "user", "content": UNANSWERABLE_Q}])
    assert "corpus does not say" in r.choices[0].message.content.lower()
    streamed = "".join(
        c.choices[0].delta.content or ""
        for c in oai.chat.completions.create(model="rag", stream=True, messages=[{"role": "user", "content": UNANSWERABLE_Q}])
    )
    assert "corpus does not say" in streamed.lower()


def test_content_parts_and_sampling_parameters_are_accepted(oai):
    r = oai.chat.completions.create(
        model="rag",
        temperature=0.2,
        max_tokens=50,
        response_format={"type": "text"},
        tools=[],
        messages=[{"role": "user", "content": [{"type": "text", "text": BELGIUM_Q}]}],
    )
    assert r.choices[0].message.content.startswith(BELGIUM_A)


def test_bad_input_raises_a_client_error(oai):
    with pytest.raises(openai.BadRequestError) as e:
        oai.chat.completions.create(model="rag", messages=[{"role": "user", "content": "   "}])
    assert e.value.param == "messages" and e.value.type == "invalid_request_error"
    assert e.value.body["message"] == "messages: the last user message is empty"
    with pytest.raises(openai.APIStatusError) as e:
        oai.chat.completions.create(model="rag", messages=[{"role": "user", "content": "x" * 2001}])
    assert e.value.status_code == 400 and e.value.param == "messages"
    assert e.value.body["message"] == "messages: the last user message is 2001 characters long; the limit is 2000"  # as /chat says it


def test_models_are_listed(oai):
    assert [m.id for m in oai.models.list()] == ["rag"]
    assert oai.models.retrieve("rag").id == "rag"
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("gpt-4")


def test_streaming_usage_when_asked(oai):
    chunks = list(
        oai.chat.completions.create(
            model="rag", stream=True, stream_options={"include_usage": True}, messages=[{"role": "user", "content": BELGIUM_Q}]
        )
    )
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0
    assert chunks[-2].choices[0].finish_reason == "stop"
    plain = list(oai.chat.completions.create(model="rag", stream=True, messages=[{"role": "user", "content": BELGIUM_Q}]))
    assert plain[-1].choices and all(c.usage is None for c in plain)
