"""Bedrock request bodies per model family, and reading the answers back (radimpress.bedrock).

Every body the Lambda side builds is also checked by the Bedrock double's independent schema
(workstation/job_backend/bedrock/bodies.py, written from the model parameter pages), and every
response the double's stand-in writes is read back by the Lambda side's reader: the two sides were
written from the documentation separately, so a field name wrong on one side fails here.
"""

from __future__ import annotations

import pytest

from radimpress.bedrock.model_input import (
    ANTHROPIC_VERSION,
    CONVERSE,
    BodyFormat,
    Generation,
    ModelFormatError,
    Prompt,
    base_model_id,
    body_format,
    llama3_prompt,
    model_input,
)
from radimpress.bedrock.model_output import ModelOutputError, read_answer
from radimpress_workstation.job_backend.bedrock import bodies, standin

PROMPT = Prompt(system="Write the impression.", user="FINDINGS: Heart size normal.\nIMPRESSION:")
GEN = Generation(max_tokens=200, temperature=0.2)

# Our body format -> the double's family name for it.
DOUBLE_FAMILY = {
    BodyFormat.ANTHROPIC_MESSAGES: bodies.ANTHROPIC,
    BodyFormat.META_LLAMA3: bodies.LLAMA,
    BodyFormat.AMAZON_NOVA: bodies.NOVA,
    BodyFormat.AMAZON_TITAN_TEXT: bodies.TITAN,
    BodyFormat.CONVERSE: bodies.CONVERSE,
}
MODEL_OF = {
    BodyFormat.ANTHROPIC_MESSAGES: "anthropic.claude-3-haiku-20240307-v1:0",
    BodyFormat.META_LLAMA3: "meta.llama3-1-8b-instruct-v1:0",
    BodyFormat.AMAZON_NOVA: "amazon.nova-lite-v1:0",
    BodyFormat.AMAZON_TITAN_TEXT: "amazon.titan-text-express-v1",
    BodyFormat.CONVERSE: "amazon.nova-micro-v1:0",
}


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0", BodyFormat.ANTHROPIC_MESSAGES),
        ("us.anthropic.claude-3-5-haiku-20241022-v1:0", BodyFormat.ANTHROPIC_MESSAGES),
        (
            "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
            BodyFormat.ANTHROPIC_MESSAGES,
        ),
        (
            "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.meta.llama3-2-3b-instruct-v1:0",
            BodyFormat.META_LLAMA3,
        ),
        ("meta.llama3-1-70b-instruct-v1:0", BodyFormat.META_LLAMA3),
        ("amazon.nova-pro-v1:0", BodyFormat.AMAZON_NOVA),
        ("apac.amazon.nova-micro-v1:0", BodyFormat.AMAZON_NOVA),
        ("amazon.titan-text-lite-v1", BodyFormat.AMAZON_TITAN_TEXT),
    ],
)
def test_the_body_format_is_read_from_model_ids_profiles_and_arns(model_id, expected):
    assert body_format(model_id) is expected


@pytest.mark.parametrize(
    "model_id",
    [
        "meta.llama2-13b-chat-v1",  # another chat template
        "meta.llama4-scout-17b-instruct-v1:0",
        "amazon.nova-canvas-v1:0",  # images, not text
        "amazon.titan-embed-text-v2:0",
        "cohere.command-r-v1:0",
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123",
    ],
)
def test_models_without_a_known_invoke_body_need_converse_or_a_named_format(model_id):
    with pytest.raises(ModelFormatError, match="Converse"):
        body_format(model_id)
    assert body_format(model_id, CONVERSE) is BodyFormat.CONVERSE
    named = body_format(model_id, format_name="anthropic-messages")
    assert named is BodyFormat.ANTHROPIC_MESSAGES


def test_unknown_invocation_types_and_format_names_are_refused():
    with pytest.raises(ModelFormatError, match="invocation type"):
        body_format("amazon.nova-lite-v1:0", "InvokeModelWithResponseStream")
    with pytest.raises(ModelFormatError, match="not one of"):
        body_format("x.y", format_name="openai")


def test_base_model_id_strips_arns_and_geography_prefixes():
    assert base_model_id("us.anthropic.claude-x-v1:0") == "anthropic.claude-x-v1:0"
    assert (
        base_model_id("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0")
        == "amazon.nova-lite-v1:0"
    )
    assert base_model_id("amazon.titan-text-express-v1") == "amazon.titan-text-express-v1"


def test_anthropic_messages_body():
    body = model_input(BodyFormat.ANTHROPIC_MESSAGES, PROMPT, GEN)
    assert body == {
        "anthropic_version": ANTHROPIC_VERSION,
        "max_tokens": 200,
        "system": PROMPT.system,
        "messages": [{"role": "user", "content": [{"type": "text", "text": PROMPT.user}]}],
        "temperature": 0.2,
    }
    assert ANTHROPIC_VERSION == "bedrock-2023-05-31"


def test_llama_body_uses_the_llama3_chat_template():
    body = model_input(BodyFormat.META_LLAMA3, PROMPT, GEN)
    assert set(body) == {"prompt", "max_gen_len", "temperature"}
    assert body["max_gen_len"] == 200
    assert body["prompt"] == (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
        "Write the impression.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
        "FINDINGS: Heart size normal.\nIMPRESSION:<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    assert llama3_prompt(PROMPT) == body["prompt"]


def test_nova_titan_and_converse_bodies():
    nova = model_input(BodyFormat.AMAZON_NOVA, PROMPT, GEN)
    assert nova["schemaVersion"] == "messages-v1"
    assert nova["system"] == [{"text": PROMPT.system}]
    assert nova["messages"] == [{"role": "user", "content": [{"text": PROMPT.user}]}]
    assert nova["inferenceConfig"] == {"maxTokens": 200, "temperature": 0.2}
    converse = model_input(BodyFormat.CONVERSE, PROMPT, GEN)
    assert "schemaVersion" not in converse and converse["messages"] == nova["messages"]
    titan = model_input(BodyFormat.AMAZON_TITAN_TEXT, PROMPT, GEN)
    assert titan["inputText"].startswith(PROMPT.system) and titan["inputText"].endswith("\nBot:")
    assert titan["textGenerationConfig"] == {"maxTokenCount": 200, "temperature": 0.2}


def test_nova_refuses_temperature_zero_and_generation_settings_are_checked():
    with pytest.raises(ModelFormatError, match="above 0"):
        model_input(BodyFormat.AMAZON_NOVA, PROMPT, Generation(100, 0.0))
    with pytest.raises(ValueError, match="max_tokens"):
        Generation(0, 0.5)
    with pytest.raises(ValueError, match="temperature"):
        Generation(10, 1.5)
    with pytest.raises(ValueError, match="integer"):
        Generation(True, 0.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", list(BodyFormat))
def test_every_body_we_build_passes_the_doubles_independent_schema(fmt):
    body = model_input(fmt, PROMPT, GEN)
    bodies.check_body(DOUBLE_FAMILY[fmt], body, MODEL_OF[fmt])


@pytest.mark.parametrize("fmt", list(BodyFormat))
def test_the_answer_and_tokens_are_read_from_each_familys_response(fmt):
    body = model_input(fmt, PROMPT, GEN)
    family = DOUBLE_FAMILY[fmt]
    answer = standin.generate(standin.read_request(family, body))
    response = standin.response_body(family, answer, MODEL_OF[fmt])
    read = read_answer(fmt, response)
    assert read.text == "Heart size normal."
    assert read.input_tokens == answer.input_tokens > 0
    assert read.output_tokens == 3
    assert read.stop_reason in ("end_turn", "stop", "FINISHED")


@pytest.mark.parametrize(
    ("fmt", "response", "field"),
    [
        (BodyFormat.ANTHROPIC_MESSAGES, {"content": []}, "content"),
        (
            BodyFormat.ANTHROPIC_MESSAGES,
            {"content": [{"type": "tool_use", "text": "x"}]},
            "content",
        ),
        (BodyFormat.META_LLAMA3, {"generation": None}, "generation"),
        (BodyFormat.AMAZON_NOVA, {"output": {}}, "output.message"),
        (BodyFormat.CONVERSE, {"output": {"message": {"content": "x"}}}, "content"),
        (BodyFormat.AMAZON_TITAN_TEXT, {"results": []}, "outputText"),
    ],
)
def test_a_response_without_text_names_the_field(fmt, response, field):
    with pytest.raises(ModelOutputError, match=field):
        read_answer(fmt, response)
    with pytest.raises(ModelOutputError, match="not a JSON object"):
        read_answer(fmt, ["not", "a", "body"])


def test_missing_or_odd_token_counts_read_as_none():
    answer = read_answer(
        BodyFormat.META_LLAMA3, {"generation": " Normal. ", "prompt_token_count": -1}
    )
    assert answer.text == "Normal." and answer.input_tokens is None and answer.output_tokens is None


def test_the_doubles_nova_schema_knows_the_documented_token_limits_and_temperature_range():
    body = model_input(BodyFormat.AMAZON_NOVA, PROMPT, Generation(6000, 0.5))
    with pytest.raises(bodies.BodyError, match="maxTokens: 6000 is not less or equal to 5000"):
        bodies.check_body(bodies.NOVA, body, "us.amazon.nova-lite-v1:0")
    bodies.check_body(bodies.NOVA, body, "us.amazon.nova-premier-v1:0")  # no 5,000 cap listed
    cold = {**body, "inferenceConfig": {"maxTokens": 10, "temperature": 0}}
    with pytest.raises(bodies.BodyError, match="is not greater than 0"):
        bodies.check_body(bodies.NOVA, cold, "amazon.nova-micro-v1:0")
    assert bodies.family("amazon.nova-canvas-v1:0") is None
