"""Invalid input under /v1/ is 400 in OpenAI's error shape, so OpenAI's own client raises BadRequestError."""

from __future__ import annotations

import pytest

from tests.api_support import BELGIUM_Q

pytest_plugins = ["tests.api_fixtures"]

openai = pytest.importorskip("openai")

USER = [{"role": "user", "content": BELGIUM_Q}]


@pytest.fixture(scope="module")
def oai(live_server):
    client = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="not-needed", max_retries=0, timeout=60)
    yield client
    client.close()


@pytest.mark.slow
@pytest.mark.parametrize(
    "kwargs, param",
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "user", "content": " "}]}, "messages"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages.0.role"),
        ({"messages": USER, "n": 2}, "n"),
        ({"messages": USER, "extra_body": {"k": 0}}, "k"),
        ({"messages": USER, "response_format": {"type": "json_object"}}, "response_format"),
        ({"messages": USER, "stream": True, "extra_body": {"stream": "yes"}}, "stream"),
    ],
)
def test_validation_errors_are_bad_requests(oai, kwargs, param):
    with pytest.raises(openai.BadRequestError) as e:
        oai.chat.completions.create(model="rag", **kwargs)
    assert e.value.status_code == 400 and e.value.type == "invalid_request_error" and e.value.param == param
    assert e.value.message and e.value.request_id and e.value.response.json()["request_id"] == e.value.request_id


@pytest.mark.slow
def test_a_body_that_is_not_json_is_a_bad_request(live_server):
    import httpx

    r = httpx.post(f"{live_server.url}/v1/chat/completions", content=b'{"messages": ', headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error" and r.json()["error"]["param"] == "body"


@pytest.mark.slow
def test_the_other_routes_keep_422(api_client):
    r = api_client.post("/chat", json={"messages": []})
    assert r.status_code == 422 and isinstance(r.json()["error"], str)


def test_the_schema_says_400_under_v1(bare):
    responses = bare().get("/openapi.json").json()["paths"]["/v1/chat/completions"]["post"]["responses"]
    assert "422" not in responses and responses["4XX"]["content"]["application/json"]["schema"]["$ref"].endswith("/OpenAIErrorOut")
