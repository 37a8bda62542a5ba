"""The deterministic model that answers for a Bedrock model in the double: no weights, no network.

It reads the report's findings out of the request (the text after the last ``FINDINGS:`` of the
user turn, up to ``IMPRESSION:``; the whole user turn when there is none) and answers with the
local ``lead`` model (``radimpress_training.models.lead``: the first sentence, in the findings'
placeholder convention), cut to the request's token limit. Every output it writes is labelled
``double:bedrock-<model id> (stand-in: lead)``: its scores measure the pipeline, not the model.

Token counts are whitespace-separated words of the request's text (system, prompt, messages) and
of the answer: a deterministic approximation, not the model's tokenizer (real counts run higher:
sub-word tokens). Response bodies follow each family's documented response (see
``radimpress_workstation.job_backend.bedrock.bodies`` for the pages).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from radimpress import deid
from radimpress_workstation.job_backend.bedrock.bodies import (
    ANTHROPIC,
    CONVERSE,
    LLAMA,
    NOVA,
    TITAN,
)

LOCAL_MODEL = "lead"
# Llama 3's chat template: the user turn is between its header and the end-of-turn token.
_LLAMA_USER = re.compile(
    r"<\|start_header_id\|>user<\|end_header_id\|>\s*(?P<user>.*?)<\|eot_id\|>", re.S
)


def generator_label(model_id: str) -> str:
    """What wrote the impressions, for rows and reports: never the real model's name alone."""
    return f"double:bedrock-{model_id} (stand-in: {LOCAL_MODEL})"


def count_tokens(text: str) -> int:
    """The approximate token count: whitespace-separated words."""
    return len(text.split())


@dataclass(frozen=True)
class Request:
    """What the stand-in needs from a body: all its text, the user turn, the token limit."""

    all_text: str
    user_text: str
    max_tokens: int | None


def _blocks_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    texts = [b.get("text", "") for b in content if isinstance(b, Mapping)]
    return "\n".join(t for t in texts if isinstance(t, str))


def _messages_request(body: Mapping[str, Any], system: str, limit: Any) -> Request:
    users = [_blocks_text(m["content"]) for m in body["messages"] if m["role"] == "user"]
    every = [_blocks_text(m["content"]) for m in body["messages"]]
    return Request("\n".join([system, *every]), users[-1] if users else "", limit)


def read_request(fmt: str, body: Mapping[str, Any]) -> Request:
    """The text and limit of a body that passed ``bodies.check_body`` for ``fmt``."""
    if fmt == ANTHROPIC:
        system = body.get("system", "")
        return _messages_request(body, _blocks_text(system), body["max_tokens"])
    if fmt in (NOVA, CONVERSE):
        system = "\n".join(b.get("text", "") for b in body.get("system", []))
        limit = body.get("inferenceConfig", {}).get("maxTokens")
        return _messages_request(body, system, limit)
    if fmt == LLAMA:
        prompt = body["prompt"]
        user = _LLAMA_USER.findall(prompt)
        return Request(prompt, user[-1] if user else prompt, body.get("max_gen_len"))
    if fmt == TITAN:
        limit = body.get("textGenerationConfig", {}).get("maxTokenCount")
        return Request(body["inputText"], body["inputText"], limit)
    raise ValueError(f"unknown body format {fmt!r}")


def findings_in(user_text: str) -> str:
    """The findings of the last ``FINDINGS:`` section of a user turn, up to ``IMPRESSION:``
    (else the whole turn)."""
    start = user_text.rfind("FINDINGS:")
    if start < 0:
        return user_text.strip()
    section = user_text[start + len("FINDINGS:") :]
    return section.split("IMPRESSION:", 1)[0].strip()


@dataclass(frozen=True)
class Answer:
    text: str
    input_tokens: int
    output_tokens: int
    truncated: bool


def generate(request: Request) -> Answer:
    """The stand-in's answer to one request: the first sentence of the findings, in their
    placeholder convention, cut to the token limit."""
    from radimpress_training.models import get_model_class

    findings = findings_in(request.user_text)
    convention = deid.detect(findings)
    model = get_model_class(LOCAL_MODEL)()
    text = model.predict([deid.normalize(findings)], convention.value if convention else None)[0]
    words = text.split()
    limit = request.max_tokens
    truncated = isinstance(limit, int) and len(words) > limit
    if truncated:
        text = " ".join(words[:limit])
    return Answer(text, count_tokens(request.all_text), count_tokens(text), truncated)


def response_body(fmt: str, answer: Answer, model_id: str) -> dict[str, Any]:
    """The response body of ``fmt`` carrying ``answer`` (InvokeModel body, or Converse response)."""
    inputs, outputs = answer.input_tokens, answer.output_tokens
    if fmt == ANTHROPIC:
        digest = hashlib.sha256(answer.text.encode("utf-8")).hexdigest()[:24]
        return {
            "id": f"msg_bdrk_{digest}",
            "type": "message",
            "role": "assistant",
            "model": model_id,
            "content": [{"type": "text", "text": answer.text}],
            "stop_reason": "max_tokens" if answer.truncated else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": inputs, "output_tokens": outputs},
        }
    if fmt == LLAMA:
        return {
            "generation": answer.text,
            "prompt_token_count": inputs,
            "generation_token_count": outputs,
            "stop_reason": "length" if answer.truncated else "stop",
        }
    if fmt == TITAN:
        return {
            "inputTextTokenCount": inputs,
            "results": [
                {
                    "tokenCount": outputs,
                    "outputText": answer.text,
                    "completionReason": "LENGTH" if answer.truncated else "FINISHED",
                }
            ],
        }
    body: dict[str, Any] = {
        "output": {"message": {"role": "assistant", "content": [{"text": answer.text}]}},
        "stopReason": "max_tokens" if answer.truncated else "end_turn",
        "usage": {"inputTokens": inputs, "outputTokens": outputs, "totalTokens": inputs + outputs},
    }
    if fmt == CONVERSE:
        body["metrics"] = {"latencyMs": 0}
    return body
