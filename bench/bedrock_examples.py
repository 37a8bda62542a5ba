"""Few-shot example retrieval for Bedrock prompts: the Lambda's pure-Python BM25 index against the
project's own retrieval model (scikit-learn TF-IDF cosine), in the same run.

radimpress.bedrock.prompt.ExampleIndex must run inside the StartTransform Lambda (standard library
only), so it is measured against the reference the issue names, radimpress_training.models.
retrieval.RetrievalModel, on the same training reports and queries:

- seconds to build the index and to find k=3 examples for every query (the reference: fit, and
  predict, which finds the top-1 neighbour);
- the resident memory the index adds (RSS after building minus before, this process);
- agreement: the share of queries whose best example has the impression the reference predicts
  (the two rank differently by design: BM25 vs TF-IDF cosine; this shows how often they agree);
- exactness: on up to 300 queries, the share whose best example the bounded candidate search
  finds with the score exhaustive BM25 (every report sharing a word) gives its best.

Cases: synthetic reports (the project's seeded generator) at each ``--sizes`` with 2,000 queries,
and the real Open-i split (1,084 train, 300 dev) when ../shared/data/openi is present.

    .venv/bin/python bench/bedrock_examples.py [--sizes 10000 50000] [--queries 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OPENI = ROOT.parent / "shared" / "data" / "openi"
RESULTS = ROOT / "bench" / "results" / "bedrock_examples.json"


def _rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _case(name: str, train: list[dict[str, Any]], queries: list[dict[str, Any]]) -> dict[str, Any]:
    from radimpress.bedrock.prompt import ExampleIndex, examples_from_records
    from radimpress_training.models import TrainingPair
    from radimpress_training.models.retrieval import RetrievalModel

    examples = examples_from_records(train)
    before = _rss_bytes()
    started = time.perf_counter()
    index = ExampleIndex(examples)
    built = time.perf_counter() - started
    index_bytes = _rss_bytes() - before
    started = time.perf_counter()
    best = [index.nearest(q["findings"], 3) for q in queries]
    searched = time.perf_counter() - started

    started = time.perf_counter()
    reference = RetrievalModel().fit([TrainingPair(e.findings, e.impression) for e in examples])
    ref_built = time.perf_counter() - started
    started = time.perf_counter()
    predicted = reference.predict([q["findings"] for q in queries])
    ref_searched = time.perf_counter() - started

    agree = sum(1 for b, p in zip(best, predicted, strict=True) if b and b[0].impression == p)
    sample = queries[:300]
    exact = sum(1 for q in sample if _bounded_best_is_exact(index, q["findings"]))
    return {
        "case": name,
        "training_reports": len(examples),
        "queries": len(queries),
        "bm25_build_s": round(built, 3),
        "bm25_search_s": round(searched, 3),
        "bm25_index_rss_mb": round(index_bytes / 1e6, 1),
        "reference_fit_s": round(ref_built, 3),
        "reference_predict_s": round(ref_searched, 3),
        "build_ratio_vs_reference": round(built / ref_built, 2) if ref_built else None,
        "search_ratio_vs_reference": round(searched / ref_searched, 2) if ref_searched else None,
        "top1_agreement_with_reference": round(agree / len(queries), 3),
        "top1_score_equals_exhaustive_bm25": round(exact / len(sample), 3),
        "queries_with_3_examples": sum(1 for b in best if len(b) == 3),
    }


def _bounded_best_is_exact(index: Any, findings: str) -> bool:
    """Whether the bounded search's best score equals exhaustive BM25's best score."""
    terms = index._terms(findings)
    bounded = index.ranked(findings, 1)
    every = {doc for term in terms for doc in index._postings[term][0]}
    best = max(
        (
            sum(index._term_score(t, doc, index._tf[doc][t]) for t in terms if t in index._tf[doc])
            for doc in every
        ),
        default=None,
    )
    if best is None:
        return not bounded
    return bool(bounded) and abs(bounded[0][0] - best) < 1e-9


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--queries", type=int, default=2000)
    args = parser.parse_args(argv)
    from radimpress_workstation.synthetic import generate_reports

    cases = []
    for size in args.sizes:
        train = generate_reports(size, seed=11, prefix="TR")
        queries = generate_reports(args.queries, seed=12, prefix="TE")
        cases.append(_case(f"synthetic-{size}", train, queries))
        print(json.dumps(cases[-1]))
    if (OPENI / "train.jsonl").exists():
        cases.append(
            _case("openi", _read_jsonl(OPENI / "train.jsonl"), _read_jsonl(OPENI / "dev.jsonl"))
        )
        print(json.dumps(cases[-1]))
    result = {
        "benchmark": "bedrock_examples",
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared)",
        "cases": cases,
    }
    RESULTS.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
