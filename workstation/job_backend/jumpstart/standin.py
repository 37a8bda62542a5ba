"""The tiny deterministic model that stands in for FLAN-T5: no weights needed.

The pre-trained stand-in answers with the first sentence of the findings; the fine-tuned one with
the local ``restate`` model trained on the training channel, its output laid out as the prepacked
training script writes it (weights, ``config.json``, ``code/inference.py``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from radimpress_workstation.job_backend.jumpstart.artifacts import (
    CODE_DIR,
    INFERENCE_SCRIPT,
    STANDIN_FILE,
    weights,
)
from radimpress_workstation.job_backend.jumpstart.errors import AlgorithmError, ClientError
from radimpress_workstation.job_backend.jumpstart.metadata import JumpStartVersion

STANDIN_MODEL_DIR = "standin"
FINE_TUNE_MODEL = "restate"  # the local model the fine-tune stand-in trains
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_FINDINGS = re.compile(r"findings:\s*(?P<findings>.*?)\s*(?:impression:\s*)?$", re.I | re.S)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _template_parts(template: str) -> tuple[str, str] | None:
    """(prefix, suffix) around a prompt template's only placeholder; None otherwise."""
    fields = _PLACEHOLDER.findall(template)
    if len(fields) != 1:
        return None
    prefix, _, suffix = template.partition("{" + fields[0] + "}")
    return prefix, suffix


def unwrap(prompt: str, parts: tuple[str, str] | None) -> str:
    """The findings inside a prompt: the template's wrapper removed, else a 'Findings:' label."""
    if parts is not None:
        prefix, suffix = parts
        if prompt.startswith(prefix) and prompt.endswith(suffix):
            return prompt[len(prefix) : len(prompt) - len(suffix)]
    match = _FINDINGS.search(prompt)
    return match["findings"] if match else prompt


def fine_tune(
    env: Mapping[str, str], version: JumpStartVersion, hyperparameters: Mapping[str, Any]
) -> None:
    """Train the stand-in on the channel and write the output as the prepacked script does."""
    from radimpress_training.models import TrainingPair, get_model_class

    channel = Path(env["SM_CHANNEL_TRAINING"])
    template = {"prompt": "{prompt}", "completion": "{completion}"}
    if (channel / "template.json").exists():
        try:
            template.update(json.loads((channel / "template.json").read_text(encoding="utf-8")))
        except ValueError:
            raise AlgorithmError("template.json is not valid JSON") from None
    parts = _template_parts(template["prompt"])
    pairs = []
    for path in sorted(channel.rglob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    prompt = template["prompt"].format_map(record)
                    completion = template["completion"].format_map(record)
                except (ValueError, KeyError, IndexError):
                    raise AlgorithmError(
                        f"{path.name} line {number}: not a record template.json can render"
                    ) from None
                pairs.append(TrainingPair(unwrap(prompt, parts), completion))
    if not pairs:
        raise ClientError("the training channel holds no *.jsonl record")
    model_dir = Path(env["SM_MODEL_DIR"])
    model = get_model_class(FINE_TUNE_MODEL)().fit(pairs)
    model.save(model_dir / STANDIN_MODEL_DIR)
    files = weights(
        version,
        fine_tuned=True,
        template=template["prompt"],
        epochs=hyperparameters.get("epochs"),
    )
    if PACK_INFERENCE_CODE:
        files[f"{CODE_DIR}/inference.py"] = INFERENCE_SCRIPT
    for name, text in files.items():
        target = model_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


# The prepacked training script copies its inference code into the output; tests turn this off
# to put back the defect of a fine-tuned model.tar.gz without code/.
PACK_INFERENCE_CODE = True


class StandIn:
    """The stand-in's generation: first sentence (pre-trained) or the trained local model."""

    def __init__(self, model_dir: Path) -> None:
        try:
            state = json.loads((model_dir / STANDIN_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise ClientError(
                "the model directory holds no weights the container can load "
                "(container failed /ping)"
            ) from None
        template = state.get("template")
        self.parts = _template_parts(template) if isinstance(template, str) else None
        self.model: Any = None
        if state.get("fine_tuned"):
            from radimpress_training.models import load_model

            self.model = load_model(model_dir / STANDIN_MODEL_DIR)

    def generate(self, prompts: list[str], max_tokens: list[int]) -> list[str]:
        findings = [unwrap(p, self.parts) for p in prompts]
        if self.model is not None:
            texts = list(self.model.predict(findings))
        else:
            texts = [_SENTENCE_END.split(" ".join(f.split()), maxsplit=1)[0] for f in findings]
        return [" ".join(t.split()[:limit]) for t, limit in zip(texts, max_tokens, strict=True)]
