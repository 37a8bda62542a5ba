"""The clinical labeler against expert MeSH index terms of the Open-i reports, train and dev apart.

Each report's findings + impression is labelled; an observation counts as predicted when it is
positive or uncertain, and as expected when the report's MeSH terms map to it
(`bench/mesh_mapping.py`). Prints per-observation precision/recall/F1, micro-F1 and normal/abnormal
accuracy ("No Finding" vs the indexers' `normal`) for the labeler and for a 20-line keyword +
negation baseline, and the labeling speed. Rules were tuned on train only; dev is reported, not
tuned on. Skips (exit 0) when ../shared/data/openi is absent; never copies the data.

    .venv/bin/python bench/labeler.py [--output bench/results/labeler.json] [--errors N]
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))
sys.path.insert(0, str(ROOT / "bench"))

from mesh_mapping import NO_INDEXING, expert_observations  # noqa: E402

from radimpress.clinical.labeler import label_text, positive_observations  # noqa: E402
from radimpress.clinical.observations import NO_FINDING, OBSERVATIONS  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "openi"

# ---- the 20-line keyword + negation baseline (the point of comparison) --------------
_BASE_KEYWORDS = {
    "Enlarged Cardiomediastinum": r"widened mediastinum|mediastinal widening",
    "Cardiomegaly": r"cardiomegaly|enlarged heart|heart is enlarged",
    "Lung Opacity": r"opacit|infiltrat|airspace disease|density",
    "Lung Lesion": r"nodule|mass|lesion",
    "Edema": r"edema|congestion",
    "Consolidation": r"consolidat",
    "Pneumonia": r"pneumonia",
    "Atelectasis": r"atelecta",
    "Pneumothorax": r"pneumothora",
    "Pleural Effusion": r"effusion",
    "Pleural Other": r"pleural thickening",
    "Fracture": r"fracture",
    "Support Devices": r"pacemaker|catheter|tube|line|sternotomy|clips",
}
_BASE_NEG = re.compile(r"\b(no|without|negative for|free of|clear of)\b")


def baseline_labels(text: str) -> frozenset[str]:
    """Keyword found in a sentence with no negation word before it = positive."""
    found = set()
    for sentence in re.split(r"[.;\n]", text.lower()):
        for name, pattern in _BASE_KEYWORDS.items():
            match = re.search(pattern, sentence)
            if match and not _BASE_NEG.search(sentence[: match.start()]):
                found.add(name)
    return frozenset(found or {NO_FINDING})


# ---- the benchmark ---------------------------------------------------------------------------


def _read(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def report_text(record: dict) -> str:
    """Findings then impression, as the indexers read them."""
    return ". ".join(p for p in (record.get("findings"), record.get("impression")) if p)


def scores(predicted: list[frozenset[str]], expected: list[frozenset[str]]) -> dict[str, object]:
    """Per-observation and micro precision/recall/F1, and normal/abnormal accuracy."""
    per: dict[str, dict[str, float | int]] = {}
    total_tp = total_fp = total_fn = 0
    for name in OBSERVATIONS:
        tp = sum(name in p and name in e for p, e in zip(predicted, expected, strict=True))
        fp = sum(name in p and name not in e for p, e in zip(predicted, expected, strict=True))
        fn = sum(name not in p and name in e for p, e in zip(predicted, expected, strict=True))
        total_tp, total_fp, total_fn = total_tp + tp, total_fp + fp, total_fn + fn
        per[name] = {"support": tp + fn, "tp": tp, "fp": fp, "fn": fn, **_prf(tp, fp, fn)}
    normal_right = sum(
        (NO_FINDING in p) == (NO_FINDING in e) for p, e in zip(predicted, expected, strict=True)
    )
    return {
        "reports": len(expected),
        "micro": _prf(total_tp, total_fp, total_fn),
        "normal_abnormal_accuracy": round(normal_right / len(expected), 4) if expected else 0.0,
        "per_observation": per,
    }


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def _label(texts: Iterable[str], fn: Callable[[str], frozenset[str]]) -> list[frozenset[str]]:
    return [fn(text) for text in texts]


def _ours(text: str) -> frozenset[str]:
    return positive_observations(label_text(text))


def _print(split: str, name: str, result: dict) -> None:
    micro = result["micro"]
    print(
        f"{split:5} {name:9} micro P {micro['precision']:.3f} R {micro['recall']:.3f} "
        f"F1 {micro['f1']:.3f}  normal/abnormal acc {result['normal_abnormal_accuracy']:.3f}"
        f"  ({result['reports']} reports)"
    )


def _print_table(result: dict) -> None:
    print(f"  {'observation':28} {'n':>4} {'P':>6} {'R':>6} {'F1':>6}")
    for name, row in result["per_observation"].items():
        print(
            f"  {name:28} {row['support']:4} {row['precision']:6.3f} {row['recall']:6.3f}"
            f" {row['f1']:6.3f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "bench/results/labeler.json")
    parser.add_argument("--errors", type=int, default=0, help="print N train disagreements")
    args = parser.parse_args(argv)
    if not (SHARED / "labels.jsonl").exists():
        print(f"skipped: {SHARED} not found (the shared Open-i data is optional)")
        return 0
    mesh = {row["study_id"]: row["mesh"] for row in _read(SHARED / "labels.jsonl")}
    output: dict[str, object] = {
        "what": "labeler (positive or uncertain) on findings + impression vs expert MeSH terms "
        "mapped by bench/mesh_mapping.py; rules tuned on train only",
        "python": platform.python_version(),
        "splits": {},
    }
    for split in ("train", "dev"):
        records = [
            r
            for r in _read(SHARED / f"{split}.jsonl")
            if r["study_id"] in mesh and NO_INDEXING not in mesh[r["study_id"]]
        ]
        texts = [report_text(r) for r in records]
        expected = [expert_observations(mesh[r["study_id"]]) for r in records]
        started = time.perf_counter()
        ours = _label(texts, _ours)
        elapsed = time.perf_counter() - started
        base = _label(texts, baseline_labels)
        result = {"labeler": scores(ours, expected), "baseline": scores(base, expected)}
        result["labeler"]["seconds"] = round(elapsed, 4)
        result["labeler"]["reports_per_second"] = round(len(texts) / elapsed) if elapsed else 0
        output["splits"][split] = result  # type: ignore[index]
        _print(split, "labeler", result["labeler"])
        _print(split, "baseline", result["baseline"])
        _print_table(result["labeler"])
        if split == "train" and args.errors:
            shown = 0
            for record, got, want in zip(records, ours, expected, strict=True):
                if got != want and shown < args.errors:
                    shown += 1
                    print(
                        "--",
                        record["study_id"],
                        "missed",
                        sorted(want - got),
                        "extra",
                        sorted(got - want),
                        mesh[record["study_id"]],
                    )
                    print("   ", report_text(record))
    output["speed"] = _speed()
    print(f"speed: {output['speed']}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(output, indent=2) + "\n", encoding="utf-8")
    shown = args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output
    print(f"wrote {shown}")
    return 0


def _speed() -> dict[str, float | str]:
    """Seconds to label 2,000 report texts (train + dev, cycled), best of 3, each round from an
    empty sentence memo (what a fresh process or Lambda pays; sentences repeat within the 2,000)."""
    from radimpress.clinical import labeler

    texts = [report_text(r) for split in ("train", "dev") for r in _read(SHARED / f"{split}.jsonl")]
    batch = (texts * (2000 // len(texts) + 1))[:2000]
    best = float("inf")
    for _ in range(3):
        labeler._sentence_memo.clear()
        started = time.perf_counter()
        for text in batch:
            label_text(text)
        best = min(best, time.perf_counter() - started)
    return {"reports": len(batch), "seconds": round(best, 4), "sentence_memo": "empty at start"}


if __name__ == "__main__":
    raise SystemExit(main())
