"""Throughput of radimpress.scoring against rouge-score on the same pairs, in one run.

Two cases. The kernel case times the ROUGE functions alone, in this process. The end-to-end
case times whole processes as a user runs them: `radimpress score` on 20,000 reference /
prediction pairs written as JSON Lines files against the plain rouge-score script
(ROUGE_SCORE_SCRIPT below: read both files, score, write one JSON line per study), interpreter
start, imports, reading and writing included; `radimpress score` is run with its default
clinical agreement and with --no-clinical (ROUGE only, what the script computes), and every
ROUGE number of both outputs is checked equal (==).

Pairs: with ../shared/data present, every Open-i report (train + dev) scored as the pipeline scores
it, reference impression vs the prediction of each local model: `retrieval` (fitted on the other
split) and `lead` (first sentence of the findings). Without the data, seeded generated pairs of a
similar shape; a seeded generated set with multi-line impressions is always measured too. Each
scorer starts cold (a fresh instance, empty caches) in every round; rounds alternate the two
scorers, stemmer off and on, and every score is checked equal (==) before timing.

    .venv/bin/python bench/scoring.py [--repeats 7] [--e2e-repeats 9] [--e2e-pairs 20000]
        [--output bench/results/scoring.json]
"""

from __future__ import annotations

import argparse
import compileall
import gc
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
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


# The baseline of the end-to-end case: what a user writes with rouge-score (argv: references,
# predictions, output), ten lines of code.
ROUGE_SCORE_SCRIPT = """\
import json, sys
from rouge_score import rouge_scorer
types = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
scorer = rouge_scorer.RougeScorer(types, use_stemmer=False)
refs = {r["study_id"]: r["impression"] for r in map(json.loads, open(sys.argv[1]))}
preds = {r["study_id"]: r["generated"] for r in map(json.loads, open(sys.argv[2]))}
with open(sys.argv[3], "w") as out:
    for sid, ref in refs.items():
        s = scorer.score(ref, preds[sid])
        out.write(json.dumps({"study_id": sid, **{k: s[k]._asdict() for k in types}}) + "\\n")
"""


def synthetic_files(folder: Path, count: int, seed: int = 7) -> dict:
    """Write ``count`` Open-i-like reports (workstation/synthetic.py) and seeded predictions.

    A prediction is what a mix of models would write: the reference itself (stock impressions,
    a fifth), another study's impression (a third), the findings' leading sentences (a fifth),
    or the reference with a sentence or a word dropped (the rest), so pairs repeat about as
    often as they do across a hospital's normal studies, not more.
    """
    from radimpress_workstation.synthetic import generate_reports

    reports = generate_reports(count, seed)
    rng = random.Random(seed + 1)
    predictions = []
    for report in reports:
        impression = report["impression"]
        draw = rng.random()
        if draw < 0.2:
            text = impression
        elif draw < 0.53:
            text = rng.choice(reports)["impression"]
        elif draw < 0.73:
            sentences = report["findings"].split(". ")
            text = ". ".join(sentences[: rng.randint(1, 3)]).rstrip(".") + "."
        else:
            words = impression.split()
            if len(words) > 3:
                del words[rng.randrange(len(words))]
            text = " ".join(words)
        predictions.append({"study_id": report["study_id"], "generated": text, "model": "mix"})
    references = folder / "references.jsonl"
    predicted = folder / "predictions.jsonl"
    for path, rows in ((references, reports), (predicted, predictions)):
        with path.open("w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row) + "\n" for row in rows)
    pairs = {(r["impression"], p["generated"]) for r, p in zip(reports, predictions, strict=True)}
    return {
        "references": references,
        "predictions": predicted,
        "pairs": count,
        "distinct_pairs": len(pairs),
        "distinct_texts": len({t for pair in pairs for t in pair}),
        "bytes": references.stat().st_size + predicted.stat().st_size,
    }


def _one_cpu() -> None:
    """Run the child on one CPU: `radimpress score` then uses no second process."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def _process(command: list[str], one_cpu: bool = False) -> tuple[float, float]:
    """(wall seconds, CPU seconds user + system) of one child process run to its end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        command,
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_one_cpu if one_cpu else None,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _rouge_numbers(path: Path) -> dict[str, tuple]:
    """study_id -> every ROUGE (precision, recall, fmeasure) of one output file."""
    out = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            out[str(row["study_id"])] = tuple(
                (row[m]["precision"], row[m]["recall"], row[m]["fmeasure"]) for m in ROUGE_TYPES
            )
    return out


def end_to_end(pairs: int, repeats: int) -> dict:
    """Whole processes on ``pairs`` pairs: the rouge-score script vs `radimpress score`."""
    load = list(os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="radimpress-bench-") as tmp:
        folder = Path(tmp)
        data = synthetic_files(folder, pairs)
        script = folder / "rouge_score_script.py"
        script.write_text(ROUGE_SCORE_SCRIPT, encoding="utf-8")
        radimpress = Path(sys.executable).parent / "radimpress"
        names = ("rouge_score", "clinical", "rouge", "rouge_one_cpu")
        outputs = {name: folder / f"{name}.jsonl" for name in names}
        common = ["score", "--references", str(data["references"])]
        common += ["--predictions", str(data["predictions"])]
        commands = {
            "rouge_score": [
                sys.executable,
                str(script),
                str(data["references"]),
                str(data["predictions"]),
                str(outputs["rouge_score"]),
            ],
            "clinical": [str(radimpress), *common, "--output", str(outputs["clinical"])],
            "rouge": [
                str(radimpress),
                *common,
                "--no-clinical",
                "--output",
                str(outputs["rouge"]),
            ],
            "rouge_one_cpu": [
                str(radimpress),
                *common,
                "--no-clinical",
                "--output",
                str(outputs["rouge_one_cpu"]),
            ],
        }
        one_cpu = {"rouge_one_cpu"}
        # Both sides run from bytecode, as installed: rouge-score's site-packages hold .pyc
        # files; this checkout's are written here (git-ignored __pycache__), since a
        # PYTHONDONTWRITEBYTECODE environment would otherwise recompile every module each run.
        for package in (ROOT / "functions" / "radimpress", ROOT / "workstation"):
            compileall.compile_dir(package, quiet=1)
        # Every command once untimed (warm file cache), then every ROUGE number compared.
        for name, command in commands.items():
            subprocess.run(
                command,
                check=True,
                stdout=subprocess.DEVNULL,
                preexec_fn=_one_cpu if name in one_cpu else None,
            )
        expected = _rouge_numbers(outputs["rouge_score"])
        for name in ("clinical", "rouge", "rouge_one_cpu"):
            if _rouge_numbers(outputs[name]) != expected:
                raise SystemExit(f"error: radimpress score ({name}) differs from rouge-score")
        # Rounds alternate the three processes, so each round sees the same machine state.
        rounds = [
            {name: _process(command, name in one_cpu) for name, command in commands.items()}
            for _ in range(repeats)
        ]

    def figures(name: str) -> dict:
        walls = [r[name][0] for r in rounds]
        cpus = [r[name][1] for r in rounds]
        entry: dict = {"wall_s_median": round(statistics.median(walls), 3)}
        entry["cpu_s_median"] = round(statistics.median(cpus), 3)
        if name != "rouge_score":
            ratios = [r["rouge_score"][0] / r[name][0] for r in rounds]
            cpu_ratios = [r["rouge_score"][1] / r[name][1] for r in rounds]
            entry["speedup_wall_median"] = round(statistics.median(ratios), 2)
            entry["speedup_wall_min"] = round(min(ratios), 2)
            entry["speedup_cpu_median"] = round(statistics.median(cpu_ratios), 2)
        entry["wall_s_rounds"] = [round(w, 3) for w in walls]
        return entry

    return {
        "description": (
            "whole processes on JSON Lines files, interpreter start and imports included: "
            "the 10-line rouge-score script (ROUGE_SCORE_SCRIPT in bench/scoring.py) vs "
            "`radimpress score` with clinical agreement (its default) and with --no-clinical "
            "(ROUGE only, as the script); every ROUGE number of both outputs equal (==). "
            "`radimpress score` reads its two files side by side (a forked child reads the "
            "predictions) and scores half the distinct pairs in a worker process when a second "
            "CPU is idle, so its CPU time exceeds its wall time; the one-CPU case pins it to one "
            "CPU (no second process)"
        ),
        "data": (
            "workstation/synthetic.py reports (seed 7) and seeded predictions mixing copies, "
            "other studies' impressions, leading findings sentences and edited references"
        ),
        "pairs": data["pairs"],
        "distinct_pairs": data["distinct_pairs"],
        "distinct_texts": data["distinct_texts"],
        "input_bytes": data["bytes"],
        "clock": "wall time of each child process (and its CPU time), median of alternating rounds",
        "bytecode": "compiled before timing on both sides (compileall on this checkout)",
        "cpus": os.cpu_count(),
        "load_average_at_start": load,
        "load_average_at_end": list(os.getloadavg()),
        "rounds": repeats,
        "rouge_score_script": figures("rouge_score"),
        "radimpress_score_clinical": figures("clinical"),
        "radimpress_score_no_clinical": figures("rouge"),
        "radimpress_score_no_clinical_one_cpu": figures("rouge_one_cpu"),
        "identical_rouge_numbers": True,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--e2e-repeats", type=int, default=9)
    parser.add_argument("--e2e-pairs", type=int, default=20_000)
    parser.add_argument(
        "--only-e2e", action="store_true", help="the end-to-end case alone (kernel figures kept)"
    )
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "scoring.json"))
    args = parser.parse_args(argv)
    output = Path(args.output)
    if args.only_e2e:
        kept = json.loads(output.read_text(encoding="utf-8"))
        kept["end_to_end"] = end_to_end(args.e2e_pairs, args.e2e_repeats)
        kept["load_average_at_end"] = list(os.getloadavg())
        output.write_text(json.dumps(kept, indent=2) + "\n", encoding="utf-8")
        print(json.dumps(kept["end_to_end"], indent=2))
        return 0

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
    result["end_to_end"] = end_to_end(args.e2e_pairs, args.e2e_repeats)
    result["load_average_at_end"] = list(os.getloadavg())

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
