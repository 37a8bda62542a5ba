"""The request checks a served model applies, one implementation for Batch Transform lines and a
local endpoint's requests (workstation/job_backend/jumpstart/serving.py): what each refuses,
with which status, and that no message quotes a body's text."""

from __future__ import annotations

import json
from typing import Any

import pytest

from radimpress_workstation.job_backend.jumpstart import serving
from radimpress_workstation.job_backend.jumpstart.serving import (
    ENDPOINT_MAX_PAYLOAD,
    BadRequest,
    Text2TextHandler,
)
from radimpress_workstation.served_model import LocalModelGenerator

SENTINEL = "SENTINEL-7f3a pleural effusion on the left"


class Echo:
    """A generator that answers each prompt with its first word (deterministic, no model)."""

    def generate(self, prompts: list[str], max_tokens: list[int]) -> list[str]:
        return [" ".join(p.split()[:n]) for p, n in zip(prompts, max_tokens, strict=True)]


@pytest.fixture
def handler() -> Text2TextHandler:
    return Text2TextHandler(Echo(), ENDPOINT_MAX_PAYLOAD)


def status_of(call: Any) -> int:
    with pytest.raises(BadRequest) as caught:
        call()
    return caught.value.status


def test_the_endpoint_limit_is_invoke_endpoints_body_limit():
    # botocore's sagemaker-runtime model: InvokeEndpoint's Body is at most 6291456 bytes.
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker-runtime")
    body = model.operation_model("InvokeEndpoint").input_shape.members["Body"]
    assert body.metadata["max"] == ENDPOINT_MAX_PAYLOAD == 6 * 1024 * 1024


@pytest.mark.parametrize(
    ("content_type", "accept", "size", "status"),
    [
        ("application/json", None, 10, None),
        ("application/json", "*/*", 10, None),
        ("application/json", "application/json;verbose", 10, None),
        ("application/json", None, ENDPOINT_MAX_PAYLOAD, None),
        ("application/json", None, ENDPOINT_MAX_PAYLOAD + 1, 413),
        # the toolkit's decoder map is keyed by the exact header, and handle() answers 400
        ("text/plain", None, 10, 400),
        ("application/json; charset=utf-8", None, 10, 400),
        (None, None, 10, 400),
        ("application/json", "text/csv", 10, 400),
    ],
)
def test_check_request_refuses_types_then_size(content_type, accept, size, status):
    check = lambda: serving.check_request(content_type, accept, size, ENDPOINT_MAX_PAYLOAD)  # noqa: E731
    if status is None:
        check()
    else:
        assert status_of(check) == status


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([1, 2], "the body must be a JSON object"),
        ("just a string", "the body must be a JSON object"),
        ({}, "'text_inputs' is required"),
        ({"inputs": "x", "parameters": {}}, "is the TGI (2.x) body"),
        ({"text_inputs": 5}, "'text_inputs' must be a string or a list of strings"),
        ({"text_inputs": ["a", 5]}, "'text_inputs' must be a string or a list of strings"),
        ({"text_inputs": "a", "max_new_tokens": 5}, "unsupported parameter(s) max_new_tokens"),
        ({"text_inputs": "a", "max_length": 0}, "parameter max_length has an invalid value"),
        ({"text_inputs": "a", "max_length": "5"}, "parameter max_length has an invalid value"),
        ({"text_inputs": "a", "max_length": True}, "parameter max_length has an invalid value"),
        ({"text_inputs": "a", "top_p": 1.5}, "parameter top_p has an invalid value"),
        ({"text_inputs": "a", "do_sample": "yes"}, "parameter do_sample has an invalid value"),
        ({"text_inputs": "a", "num_return_sequences": 2}, "num_return_sequences must be <="),
    ],
)
def test_a_body_that_is_not_the_1x_shape_is_a_400(handler, body, reason):
    with pytest.raises(BadRequest) as caught:
        handler.read(body)
    assert caught.value.status == 400
    assert reason in caught.value.reason
    assert str(caught.value).startswith("Bad HTTP status received from algorithm: 400 (")


def test_a_string_and_a_list_are_answered_with_generated_texts(handler):
    one = serving.answer(
        handler, json.dumps({"text_inputs": "Heart normal. Lungs clear."}).encode()
    )
    assert one == {"generated_texts": ["Heart normal. Lungs clear."]}
    body = {"text_inputs": ["a b c", "d e f"], "max_length": 2, "num_beams": 2,
            "num_return_sequences": 2}  # fmt: skip
    two = serving.answer(handler, json.dumps(body).encode())
    assert two == {"generated_texts": ["a b", "a b", "d e", "d e"]}


@pytest.mark.parametrize(
    "raw", [b"", b"not json", b'{"text_inputs": ', b"\xff\xfe", b"[" * 100_000]
)
def test_a_body_that_is_not_json_is_a_400(handler, raw):
    assert status_of(lambda: serving.answer(handler, raw)) == 400


def test_a_transform_record_over_max_payload_is_a_413_and_the_same_check(handler):
    small = Text2TextHandler(Echo(), 100)
    with pytest.raises(BadRequest) as caught:
        small.decode({"text_inputs": "x" * 200})
    assert caught.value.status == 413
    assert small.decode({"text_inputs": "x" * 10}) == (["x" * 10], 20, 1)


def test_invoke_is_check_request_then_answer(handler):
    body = json.dumps({"text_inputs": "a b"}).encode()
    assert serving.invoke(handler, body, "application/json", None) == {"generated_texts": ["a b"]}
    assert status_of(lambda: serving.invoke(handler, body, "text/plain", None)) == 400
    big = Text2TextHandler(Echo(), 5)
    assert status_of(lambda: serving.invoke(big, body, "application/json", None)) == 413


@pytest.mark.parametrize(
    "body",
    [
        {"text_inputs": 5, "note": SENTINEL},
        {"text_inputs": "a", SENTINEL: 1},
        {"text_inputs": "a", "max_length": SENTINEL},
        {"text_inputs": [SENTINEL, 7]},
        {SENTINEL: "x"},
        [SENTINEL],
    ],
)
def test_no_refusal_quotes_the_body(handler, body):
    with pytest.raises(BadRequest) as caught:
        handler.read(body)
    assert "SENTINEL" not in str(caught.value)
    assert "pleural" not in str(caught.value)


def test_unknown_keys_are_named_only_when_they_look_like_parameter_names(handler):
    with pytest.raises(BadRequest) as caught:
        handler.read({"text_inputs": "a", "foo": 1, SENTINEL: 2, "b" * 40: 3})
    assert (
        caught.value.reason == "unsupported parameter(s) foo, 2 key(s) that are not parameter names"
    )


def test_a_header_named_in_a_refusal_is_cut_and_printable():
    with pytest.raises(BadRequest) as caught:
        serving.check_content_type("text/" + "x" * 100 + "\n\x1b")
    assert len(caught.value.reason) < 120 and "\n" not in caught.value.reason


class Counting:
    """A local model double: answers with the convention it was asked for and the text it got."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], str | None]] = []

    def predict(self, texts: list[str], convention: str | None = None) -> list[str]:
        self.calls.append((list(texts), convention))
        return [f"{convention}: {t}" for t in texts]


def test_a_local_model_gets_normalised_findings_and_their_convention_as_the_pipeline_gives():
    from radimpress import deid

    model = Counting()
    texts = ["Heart size is normal. XXXX is clear.", "No ___ seen.", "Lungs are clear."]
    answers = LocalModelGenerator(model).generate(texts, [50, 50, 1])
    # StartTransform's preparation (steps/start_transform.py): normalised prompt + convention
    expected = {}
    for text in texts:
        convention = deid.detect(text)
        expected.setdefault(convention.value if convention else None, []).append(
            deid.normalize(text)
        )
    assert {c: t for t, c in model.calls} == expected
    for text, answer in zip(texts[:2], answers[:2], strict=True):
        assert answer.endswith(deid.normalize(text))
    assert answers[2] == "None:"  # cut to max_length whitespace tokens
