"""Throughput of radimpress.scoring against rouge-score on the same pairs, in one run.

Pairs: with ../shared/data present, every Open-i report (train + dev) scored as the pipeline scores
it, reference impression vs the prediction of each local model: `retrieval` (fitted on the other
split) and `lead` (first sentence of the findings). Without the data, seeded generated pairs of a
similar shape; a seeded generated set with multi-line impressions is always measured too. Each
scorer starts cold (a fresh instance, empty caches) in every round; rounds alternate the two
scorers, stemmer off and on, and every score is checked equal (==) before timing.

    .venv/bin/python bench/scoring.py [--repeats 7] [--output bench/results/scoring.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
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
    """Seeded stress pairs: random word order over 26 radiology words, a third multi-line."""
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


def _timed(func) -> float:
    """CPU seconds of this process: other jobs sharing the cores inflate wall time, not this."""
    gc.collect()
    start = time.process_time()
    func()
    return time.process_time() - start


def measure(pairs: list[tuple[str, str]], use_stemmer: bool, repeats: int) -> dict:
    """Check every score is equal, then time both scorers in alternation, cold each time."""
    reference = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=use_stemmer)
    expected = [reference.score(r, p) for r, p in pairs]
    got = RougeScorer(use_stemmer).score_many(pairs)
    mismatches = sum(
        tuple(e[k]) != tuple(g[k]) for e, g in zip(expected, got, strict=True) for k in e
    )
    if mismatches:
        raise SystemExit(f"error: {mismatches} scores differ from rouge-score")
    del expected, got  # a large live heap would slow both timed runs through the GC

    def run_reference() -> None:
        scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=use_stemmer)
        for r, p in pairs:
            scorer.score(r, p)

    def run_ours() -> None:
        RougeScorer(use_stemmer).score_many(pairs)

    # Alternating runs see the same machine state; the ratio of each round is the speed-up, and
    # the median over rounds is the figure reported.
    rounds = [(_timed(run_reference), _timed(run_ours)) for _ in range(repeats)]
    reference_s = statistics.median(r for r, _ in rounds)
    ours_s = statistics.median(o for _, o in rounds)
    return {
        "rouge_score_pairs_per_s": round(len(pairs) / reference_s, 1),
        "radimpress_pairs_per_s": round(len(pairs) / ours_s, 1),
        "speedup_median": round(statistics.median(r / o for r, o in rounds), 2),
        "speedup_min": round(min(r / o for r, o in rounds), 2),
        "identical_scores": True,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "scoring.json"))
    args = parser.parse_args(argv)

    sets: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    if (SHARED / "dev.jsonl").exists():
        pairs = openi_pairs()
        sets["openi"] = (
            "Open-i train+dev: reference impression vs retrieval and lead predictions",
            pairs,
        )
        sets["openi_distinct"] = (
            "the same with each (reference, prediction) pair once: no gain from the pair memo",
            list(dict.fromkeys(pairs)),
        )
    else:
        print("../shared/data absent: generated pairs only", file=sys.stderr)
    sets["generated"] = (
        "seeded stress pairs: random order over a 26-word vocabulary, about a third multi-line, "
        "so nearly every sentence pair shares tokens (worst case for the rougeLsum union-LCS)",
        generated_pairs(),
    )

    result: dict = {
        "benchmark": "ROUGE-1/2/L/Lsum pairs per second, rouge-score 0.1.2 vs radimpress.scoring",
        "repeats": args.repeats,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "clock": "process CPU time (time.process_time), median of rounds",
        "load_average_at_start": list(os.getloadavg()),
        "pair_sets": {},
    }
    for name, (description, pairs) in sets.items():
        entry = {"description": description, "pairs": len(pairs), "distinct_pairs": len(set(pairs))}
        for use_stemmer in (False, True):
            key = "stemmer" if use_stemmer else "no_stemmer"
            entry[key] = measure(pairs, use_stemmer, args.repeats)
        result["pair_sets"][name] = entry

    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
