"""Serving hooks for the Hugging Face inference toolkit (``code/inference.py`` in model.tar.gz).

Batch Transform sends each line's ``inputs`` object (contracts.md: ``InputFilter: "$.inputs"``),
``{"text_inputs": "<prompt>", "max_length": N, "num_beams": N}``; a whole
``{"inputs": {...}}`` line is accepted too. The answer has JumpStart's shape,
``{"generated_texts": ["..."]}``, so the Score step reads every model the same way. The prompt
arrives rendered by the transform step; placeholders are normalised again (idempotent) so a
request from another source still matches training.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

try:
    from radimpress import deid
except ImportError:  # inside the model archive, deid.py sits beside this file
    import deid

CONFIG_FILE = "radimpress-seq2seq.json"


def model_fn(model_dir: str, context: Any = None) -> dict[str, Any]:
    """Load tokenizer, model and the generation settings written at training time."""
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    settings_file = Path(model_dir) / CONFIG_FILE
    settings = json.loads(settings_file.read_text()) if settings_file.is_file() else {}
    model = AutoModelForSeq2SeqLM.from_pretrained(model_dir)
    model.eval()
    return {
        "tokenizer": AutoTokenizer.from_pretrained(model_dir),
        "model": model,
        "settings": settings,
    }


def predict_fn(data: dict[str, Any], loaded: dict[str, Any], context: Any = None) -> dict:
    """Generate one impression per prompt in ``text_inputs`` (a string or a list)."""
    import torch

    if isinstance(data.get("inputs"), dict):
        data = data["inputs"]
    texts = data.get("text_inputs")
    if isinstance(texts, str):
        texts = [texts]
    if not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError("request must carry 'text_inputs' (a string or a list of strings)")
    settings = loaded["settings"]
    tokenizer, model = loaded["tokenizer"], loaded["model"]
    batch = tokenizer(
        [deid.normalize(t) for t in texts],
        max_length=int(settings.get("max_source_length", 512)),
        truncation=True,
        padding=True,
        return_tensors="pt",
    )
    with torch.no_grad():
        output = model.generate(
            **batch,
            max_length=int(data.get("max_length", settings.get("max_target_length", 128))),
            num_beams=int(data.get("num_beams", settings.get("num_beams", 1))),
        )
    return {"generated_texts": tokenizer.batch_decode(output, skip_special_tokens=True)}
