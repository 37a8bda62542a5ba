"""Throughput of radimpress.scoring against rouge-score on the same pairs, in one run.

Pairs: with ../shared/data present, every Open-i report (train + dev) scored as the pipeline scores
it, reference impression vs the prediction of each local model: `retrieval` (fitted on the other
split) and `lead` (first sentence of the findings). Without the data, seeded generated pairs of a
similar shape. Each scorer starts cold (a fresh instance, empty caches) in every repeat; the median
of the repeats is reported, stemmer off and on, and every score is checked equal (==) first.

    .venv/bin/python bench/scoring.py [--repeats 5] [--output bench/results/scoring.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))
sys.path.insert(0, str(ROOT))

from rouge_score import rouge_scorer  # noqa: E402

from radimpress.scoring import ROUGE_TYPES, RougeScorer  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "openi"


def _read(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def openi_pairs() -> list[tuple[str, str]]:
    """(reference, prediction) for each report and each local model, models fitted cross-split."""
    from radimpress_training.models import get_model_class
    from radimpress_training.models.base import TrainingPair

    splits = {name: _read(SHARED / f"{name}.jsonl") for name in ("train", "dev")}
    pairs: list[tuple[str, str]] = []
    for held_out, fitted_on in (("dev", "train"), ("train", "dev")):
        train = [
            TrainingPair(r["findings"], r["impression"])
            for r in splits[fitted_on]
            if r.get("findings") and r.get("impression")
        ]
        test = [r for r in splits[held_out] if r.get("findings") and r.get("impression")]
        for model_name in ("retrieval", "lead"):
            model = get_model_class(model_name)().fit(train)
            predictions = model.predict([r["findings"] for r in test])
            pairs.extend((r["impression"], p) for r, p in zip(test, predictions, strict=True))
    return pairs


def generated_pairs(count: int = 2400, seed: int = 7) -> list[tuple[str, str]]:
    """Seeded impression-like pairs: a small vocabulary, some multi-line, many repeats."""
    rng = random.Random(seed)
    words = [
        "no",
        "acute",
        "cardiopulmonary",
        "abnormality",
        "disease",
        "process",
        "stable",
        "cardiomegaly",
        "mild",
        "pulmonary",
        "edema",
        "effusion",
        "pneumothorax",
        "opacity",
        "left",
        "right",
        "lower",
        "lobe",
        "atelectasis",
        "unchanged",
        "clear",
        "lungs",
        "heart",
        "size",
        "normal",
        "limits",
    ]
    stock = []
    for _ in range(300):
        lines = [
            " ".join(rng.choice(words) for _ in range(rng.randint(2, 14))).capitalize() + "."
            for _ in range(rng.choice((1, 1, 1, 2, 3)))
        ]
        stock.append(
            "\n".join(
                f"{i + 1}. {line}" if len(lines) > 1 else line for i, line in enumerate(lines)
            )
        )
    return [(rng.choice(stock), rng.choice(stock)) for _ in range(count)]


def _time(func, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "scoring.json"))
    args = parser.parse_args(argv)

    if (SHARED / "dev.jsonl").exists():
        source = "openi train+dev: reference vs retrieval and lead predictions"
        pairs = openi_pairs()
    else:
        source = "generated (../shared/data absent)"
        pairs = generated_pairs()

    result: dict = {
        "pairs": len(pairs),
        "source": source,
        "repeats": args.repeats,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "runs": {},
    }
    for use_stemmer in (False, True):
        reference = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=use_stemmer)
        expected = [reference.score(r, p) for r, p in pairs]
        got = RougeScorer(use_stemmer).score_many(pairs)
        mismatches = sum(
            tuple(e[k]) != tuple(g[k]) for e, g in zip(expected, got, strict=True) for k in e
        )
        if mismatches:
            print(f"error: {mismatches} scores differ from rouge-score", file=sys.stderr)
            return 1
        del expected, got  # a large live heap would slow both timed runs through the GC

        def run_reference(stem: bool = use_stemmer) -> None:
            scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=stem)
            for r, p in pairs:
                scorer.score(r, p)

        def run_ours(stem: bool = use_stemmer) -> None:
            RougeScorer(stem).score_many(pairs)

        reference_s = statistics.median(_time(run_reference, args.repeats))
        ours_s = statistics.median(_time(run_ours, args.repeats))
        result["runs"]["stemmer" if use_stemmer else "no_stemmer"] = {
            "rouge_score_pairs_per_s": round(len(pairs) / reference_s, 1),
            "radimpress_pairs_per_s": round(len(pairs) / ours_s, 1),
            "speedup": round(reference_s / ours_s, 2),
            "identical_scores": True,
        }

    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
