"""Fine-tune a seq2seq checkpoint (FLAN-T5, PEGASUS, BART, ...) to write impressions from findings.

One script for two places. As a SageMaker Hugging Face training job it reads the channels
(``SM_CHANNEL_TRAIN``, optional ``SM_CHANNEL_VALIDATION`` and ``SM_CHANNEL_MODEL`` for a
checkpoint shipped as data), writes the model to ``SM_MODEL_DIR`` and metrics to
``SM_OUTPUT_DATA_DIR``; hyperparameters arrive as ``--name value`` arguments. Locally the same
arguments name folders instead (``--train-dir``, ``--model-dir``...). Nothing is downloaded unless
``--model-name-or-path`` is a hub id and the machine may reach the hub.

Data: ``*.jsonl`` files of ``{"findings": ..., "impression": ...}`` (our input format, or the
ingest step's ``train/data`` channel). An optional ``template.json`` (JumpStart's layout,
``{"prompt": "...{findings}...", "completion": "{impression}"}``) or ``--prompt`` gives the
prompt. Findings are placeholder-normalised (``deid``) as the pipeline does before generation.

The model directory it writes is what the transform step serves: weights, tokenizer,
``radimpress-seq2seq.json`` (prompt and generation settings) and ``code/inference.py`` for the
Hugging Face inference toolkit.

On SageMaker (the alternative to the JumpStart fine-tune; SDK v2, images checked with
``sagemaker.image_uris.retrieve``: training 4.49.0/pytorch2.5.1/py311, inference
4.49.0/pytorch2.6.0/py312)::

    python -m radimpress_training.seq2seq.package build/seq2seq-source
    HuggingFace(entry_point="train.py", source_dir="build/seq2seq-source", role=ROLE,
                instance_type="ml.g5.2xlarge", instance_count=1, transformers_version="4.49.0",
                pytorch_version="2.5.1", py_version="py311",
                hyperparameters={"model_name_or_path": "google/flan-t5-large", "epochs": 3,
                                 "learning_rate": 3e-4, "bf16": "true"},
                ).fit({"train": "s3://BUCKET/runs/RUN/train/data/"})
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

try:  # installed package (local runs, tests)
    from radimpress import deid
except ImportError:  # SageMaker source dir: package.py puts deid.py beside this file
    import deid

LOG = logging.getLogger("radimpress.seq2seq")
CONFIG_FILE = "radimpress-seq2seq.json"
METRICS_FILE = "metrics.json"
DEFAULT_PROMPT = "Summarize the findings of this chest X-ray report as an impression: {findings}"
HERE = Path(__file__).resolve().parent


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Where things are: SageMaker's variables first, then local defaults.
    p.add_argument("--train-dir", default=_env("SM_CHANNEL_TRAIN"))
    p.add_argument("--validation-dir", default=_env("SM_CHANNEL_VALIDATION"))
    p.add_argument("--model-name-or-path", default=_env("SM_CHANNEL_MODEL"))
    p.add_argument("--model-dir", default=_env("SM_MODEL_DIR", "model"))
    p.add_argument("--output-data-dir", default=_env("SM_OUTPUT_DATA_DIR", "output"))
    p.add_argument("--checkpoint-dir", default=None, help="Trainer scratch (default: a temp dir)")
    # Hyperparameters (SageMaker passes each as --name value; underscores and dashes both work).
    p.add_argument("--epochs", type=float, default=3.0)
    p.add_argument("--max-steps", type=int, default=-1)
    p.add_argument("--learning-rate", type=float, default=3e-4)
    p.add_argument("--per-device-train-batch-size", type=int, default=8)
    p.add_argument("--per-device-eval-batch-size", type=int, default=8)
    p.add_argument("--gradient-accumulation-steps", type=int, default=1)
    p.add_argument("--warmup-ratio", type=float, default=0.0)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--max-source-length", type=int, default=512)
    p.add_argument("--max-target-length", type=int, default=128)
    p.add_argument("--validation-split-ratio", type=float, default=0.05)
    p.add_argument("--num-beams", type=int, default=4)
    p.add_argument("--prompt", default=None, help="template with {findings}")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--logging-steps", type=int, default=10)
    p.add_argument("--bf16", type=_flag, default=False)
    p.add_argument("--fp16", type=_flag, default=False)
    p.add_argument("--use-cpu", type=_flag, default=False)
    args = p.parse_args([_dashed(a) for a in (sys.argv[1:] if argv is None else argv)])
    if not args.train_dir:
        p.error("no training data: pass --train-dir or run with SM_CHANNEL_TRAIN set")
    if not args.model_name_or_path:
        p.error("no checkpoint: pass --model-name-or-path or provide a 'model' channel")
    return args


def _dashed(arg: str) -> str:
    """``--learning_rate=x`` -> ``--learning-rate=x``: SageMaker keeps hyperparameter names."""
    if not arg.startswith("--"):
        return arg
    name, sep, value = arg.partition("=")
    return name.replace("_", "-") + sep + value


def _flag(value: str) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


# ---- data -------------------------------------------------------------------------------------


def read_pairs(folder: str | Path) -> list[tuple[str, str]]:
    """(findings, impression) from every *.jsonl / *.json file in ``folder`` (or one file)."""
    folder = Path(folder)
    files = [folder] if folder.is_file() else sorted(folder.glob("*.json*"))
    pairs: list[tuple[str, str]] = []
    for path in files:
        if path.name == "template.json":
            continue
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    raise ValueError(f"{path}: line {number}: not a JSON object") from None
                findings, impression = record.get("findings"), record.get("impression")
                if not isinstance(findings, str) or not findings.strip():
                    raise ValueError(f"{path}: line {number}: field 'findings' is missing")
                if not isinstance(impression, str) or not impression.strip():
                    raise ValueError(f"{path}: line {number}: field 'impression' is missing")
                pairs.append((findings, impression))
    if not pairs:
        raise ValueError(f"{folder}: no training records (*.jsonl with findings and impression)")
    return pairs


def prompt_template(args: argparse.Namespace) -> str:
    if args.prompt:
        template = args.prompt
    else:
        template_file = Path(args.train_dir) / "template.json"
        template = DEFAULT_PROMPT
        if template_file.is_file():
            template = json.loads(template_file.read_text(encoding="utf-8"))["prompt"]
    if "{findings}" not in template:
        raise ValueError("the prompt template must contain {findings}")
    return template


class PairDataset:
    """Tokenized prompt/target pairs in the shape DataCollatorForSeq2Seq pads."""

    def __init__(self, pairs, tokenizer, template: str, source_len: int, target_len: int):
        prompts = [template.format(findings=deid.normalize(f)) for f, _ in pairs]
        self.inputs = tokenizer(prompts, max_length=source_len, truncation=True)
        self.labels = tokenizer(
            text_target=[i for _, i in pairs], max_length=target_len, truncation=True
        )["input_ids"]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {
            "input_ids": self.inputs["input_ids"][index],
            "attention_mask": self.inputs["attention_mask"][index],
            "labels": self.labels[index],
        }


# ---- training ---------------------------------------------------------------------------------


def train(args: argparse.Namespace) -> dict[str, Any]:
    import tempfile

    from transformers import (
        AutoModelForSeq2SeqLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        Seq2SeqTrainer,
        Seq2SeqTrainingArguments,
        TrainerCallback,
        set_seed,
    )

    set_seed(args.seed)
    template = prompt_template(args)
    pairs = read_pairs(args.train_dir)
    if args.validation_dir:
        validation = read_pairs(args.validation_dir)
    elif args.validation_split_ratio > 0 and len(pairs) >= 20:
        shuffled = pairs[:]
        random.Random(args.seed).shuffle(shuffled)
        cut = max(1, math.floor(len(pairs) * args.validation_split_ratio))
        validation, pairs = shuffled[:cut], shuffled[cut:]
    else:
        validation = []
    LOG.info("training pairs: %d, validation pairs: %d", len(pairs), len(validation))

    tokenizer = AutoTokenizer.from_pretrained(args.model_name_or_path)
    model = AutoModelForSeq2SeqLM.from_pretrained(args.model_name_or_path)
    train_set = PairDataset(
        pairs, tokenizer, template, args.max_source_length, args.max_target_length
    )
    eval_set = (
        PairDataset(validation, tokenizer, template, args.max_source_length, args.max_target_length)
        if validation
        else None
    )

    history: list[dict[str, float]] = []

    class Record(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs:
                row = {"step": state.global_step, **{k: float(v) for k, v in logs.items()}}
                history.append(row)
                # One line per log for SageMaker metric definitions (Regex "train_loss=(...)").
                print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)

    with tempfile.TemporaryDirectory() as scratch:
        training_args = Seq2SeqTrainingArguments(
            output_dir=args.checkpoint_dir or scratch,
            num_train_epochs=args.epochs,
            max_steps=args.max_steps,
            learning_rate=args.learning_rate,
            per_device_train_batch_size=args.per_device_train_batch_size,
            per_device_eval_batch_size=args.per_device_eval_batch_size,
            gradient_accumulation_steps=args.gradient_accumulation_steps,
            weight_decay=args.weight_decay,
            logging_steps=args.logging_steps,
            eval_strategy="epoch" if eval_set is not None else "no",
            save_strategy="no",
            report_to=[],
            seed=args.seed,
            bf16=args.bf16,
            fp16=args.fp16,
            use_cpu=args.use_cpu,
            disable_tqdm=True,
            **_warmup(Seq2SeqTrainingArguments, args.warmup_ratio),
        )
        trainer = Seq2SeqTrainer(
            model=model,
            args=training_args,
            train_dataset=train_set,
            # Map-style (__len__/__getitem__), as Trainer reads it. The ignore is needed only
            # where transformers is installed (the ml extra): unused-ignore keeps mypy's
            # verdict the same without it.
            eval_dataset=eval_set,  # type: ignore[arg-type, unused-ignore]
            data_collator=DataCollatorForSeq2Seq(tokenizer, model=model),
            processing_class=tokenizer,
            callbacks=[Record()],
        )
        result = trainer.train()
        write_model_dir(trainer, tokenizer, template, args)

    losses = [row["loss"] for row in history if "loss" in row]
    metrics = {
        "train_pairs": len(pairs),
        "validation_pairs": len(validation),
        "train_loss": float(result.training_loss),
        "first_logged_loss": losses[0] if losses else None,
        "last_logged_loss": losses[-1] if losses else None,
        "history": history,
    }
    output = Path(args.output_data_dir)
    output.mkdir(parents=True, exist_ok=True)
    (output / METRICS_FILE).write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    return metrics


def _warmup(arguments_class: type, ratio: float) -> dict[str, Any]:
    """transformers 4 has warmup_ratio; 5 takes a ratio in warmup_steps (a float below 1)."""
    fields = getattr(arguments_class, "__dataclass_fields__", {})
    return {"warmup_ratio": ratio} if "warmup_ratio" in fields else {"warmup_steps": ratio}


def write_model_dir(trainer, tokenizer, template: str, args: argparse.Namespace) -> None:
    """Weights + tokenizer + generation settings + code/inference.py: a servable model dir."""
    model_dir = Path(args.model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    trainer.save_model(str(model_dir))
    tokenizer.save_pretrained(str(model_dir))
    settings = {
        "prompt_template": template,
        "max_source_length": args.max_source_length,
        "max_target_length": args.max_target_length,
        "num_beams": args.num_beams,
    }
    (model_dir / CONFIG_FILE).write_text(json.dumps(settings, indent=2), encoding="utf-8")
    code = model_dir / "code"
    code.mkdir(exist_ok=True)
    shutil.copy2(HERE / "inference.py", code / "inference.py")
    shutil.copy2(Path(deid.__file__), code / "deid.py")


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args = parse_args(argv)
    metrics = train(args)
    LOG.info("done: train_loss=%s", metrics["train_loss"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
