"""Impression quality of every local model on the shared Open-i data, beside reference figures.

Each local model is run through `radimpress evaluate` (the pipeline's reader, normalisation,
model and scorer): trained on ../shared/data/openi/train.jsonl, scored on dev.jsonl, ROUGE F1
means without stemming. Also: the constant "No acute cardiopulmonary abnormality." baseline, and
a placeholder-robustness check (train on Open-i as it is, test on dev with `XXXX` rewritten as
MIMIC's `___`, and the reverse), and 5-fold cross-validation on train.jsonl alone (the figure the
default model's settings were chosen on), all written to a temporary folder, never into the
repository.
Skips with a message when the shared data is absent.

    .venv/bin/python bench/quality.py [--output bench/results/quality.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))
sys.path.insert(0, str(ROOT))

from radimpress.scoring import ROUGE_TYPES, RougeScorer  # noqa: E402
from radimpress_training.models import DEFAULT_MODEL, available_models  # noqa: E402
from radimpress_workstation.commands.evaluate import evaluate  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "openi"
CONSTANT = "No acute cardiopulmonary abnormality."
# Published figures (ROUGE F1 means, R1/R2/RL/RLsum), quoted for comparison, not measured here.
REFERENCE = {
    "FLAN-T5 XL fine-tuned on MIMIC (AWS blog, 2,000 Indiana dev2)": [
        0.4660,
        0.3125,
        0.4525,
        0.4525,
    ],
    "FLAN-T5 XL pre-trained (AWS blog, Indiana dev2)": [0.1583, 0.0599, 0.1391, 0.1393],
}


def _constant(test: Path) -> dict[str, float]:
    scorer = RougeScorer()
    rows = [json.loads(line) for line in test.read_text(encoding="utf-8").splitlines()]
    scores = [scorer.score(r["impression"], CONSTANT) for r in rows]
    return {m: statistics.fmean(s[m].fmeasure for s in scores) for m in ROUGE_TYPES}


def _rewrite(source: Path, target: Path) -> Path:
    target.write_text(source.read_text(encoding="utf-8").replace("XXXX", "___"), encoding="utf-8")
    return target


def _cross_validation(model: str, train: Path, tmp: Path, folds: int = 5) -> dict[str, float]:
    """Mean ROUGE F1 over ``folds`` folds of the training file (fixed shuffle, seed 0)."""
    lines = train.read_text(encoding="utf-8").splitlines()
    order = list(range(len(lines)))
    random.Random(0).shuffle(order)
    sums: dict[str, float] = dict.fromkeys(ROUGE_TYPES, 0.0)
    for fold in range(folds):
        held = set(order[fold::folds])
        fold_train, fold_test = tmp / f"cv{fold}-train.jsonl", tmp / f"cv{fold}-test.jsonl"
        fold_train.write_text(
            "".join(lines[i] + "\n" for i in range(len(lines)) if i not in held), encoding="utf-8"
        )
        fold_test.write_text("".join(lines[i] + "\n" for i in sorted(held)), encoding="utf-8")
        summary = evaluate(str(fold_train), str(fold_test), tmp / f"cv-{model}-{fold}", model)
        for name in ROUGE_TYPES:
            sums[name] += summary["rouge_f1_mean"][name] / folds
    return sums


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "quality.json"))
    args = parser.parse_args()
    train, dev = SHARED / "train.jsonl", SHARED / "dev.jsonl"
    if not (train.exists() and dev.exists()):
        print(f"skipped: {SHARED} is not present (the quality benchmark needs the shared data)")
        return 0

    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        started = time.perf_counter()
        for model in available_models():
            summary = evaluate(str(train), str(dev), tmp_path / model, model)
            rows.append({"system": model, "setting": "openi train -> openi dev", **summary})
        rows.append(
            {
                "system": "constant",
                "setting": f"always {CONSTANT!r}",
                "test_reports": sum(1 for _ in dev.open(encoding="utf-8")),
                "rouge_f1_mean": _constant(dev),
            }
        )
        dev_mimic = _rewrite(dev, tmp_path / "dev_mimic.jsonl")
        train_mimic = _rewrite(train, tmp_path / "train_mimic.jsonl")
        for model in sorted({DEFAULT_MODEL, "consensus", "retrieval"}):
            for setting, tr, te in (
                ("openi train -> dev with XXXX as ___", train, dev_mimic),
                ("train with XXXX as ___ -> openi dev", train_mimic, dev),
            ):
                summary = evaluate(str(tr), str(te), tmp_path / f"{model}-x", model)
                rows.append({"system": model, "setting": setting, **summary})
        for model in sorted({DEFAULT_MODEL, "consensus", "retrieval"}):
            rows.append(
                {
                    "system": model,
                    "setting": "5-fold cross-validation on openi train (seed 0)",
                    "rouge_f1_mean": _cross_validation(model, train, tmp_path),
                }
            )
        elapsed = time.perf_counter() - started
    for row in rows:  # temporary paths mean nothing once the folder is gone
        row.pop("train", None)
        row.pop("test", None)

    print(f"{'system':<62} {'R1':>7} {'R2':>7} {'RL':>7} {'RLsum':>7}  setting / seconds")
    for name, figures in REFERENCE.items():
        print(f"{name:<62} " + " ".join(f"{v:7.4f}" for v in figures) + "  published")
    for row in rows:
        means = row["rouge_f1_mean"]
        seconds = (
            f" (train {row['training_seconds']:.2f} s, generate {row['generation_seconds']:.2f} s)"
            if "training_seconds" in row
            else ""
        )
        label = row["system"] + (" (default)" if row["system"] == DEFAULT_MODEL else "")
        print(
            f"{label:<62} "
            + " ".join(f"{means[m]:7.4f}" for m in ROUGE_TYPES)
            + f"  {row['setting']}{seconds}"
        )
    result = {
        "benchmark": "quality",
        "data": "../shared/data/openi train.jsonl (1,084) -> dev.jsonl (300)",
        "metric": "ROUGE F1 mean, no stemming (radimpress.scoring == rouge-score 0.1.2)",
        "default_model": DEFAULT_MODEL,
        "reference": REFERENCE,
        "rows": rows,
        "elapsed_seconds": round(elapsed, 2),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
