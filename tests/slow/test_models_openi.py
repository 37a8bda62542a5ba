"""The local models on the real Open-i reports (../shared/data; skipped when absent).

Trained on the 1,084 train reports, answering the 300 dev ones: the default model must clearly
beat TF-IDF retrieval on every ROUGE and be at least as good as restate, the model it replaced.
bench/quality.py measures the same thing with intervals; this keeps the bar in the test suite.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from radimpress import deid
from radimpress.scoring import RougeScorer
from radimpress_training.models import base
from radimpress_training.models.base import TrainingPair

pytestmark = pytest.mark.shared_data
METRICS = ("rouge1", "rouge2", "rougeL")


@cache
def dev_means(data: Path, name: str) -> tuple[float, ...]:
    """Mean dev F1 per metric of model ``name`` trained on train (placeholders normalised)."""

    def read(file: str) -> list[dict]:
        with open(data / "openi" / file, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle]

    train, dev = read("train.jsonl"), read("dev.jsonl")
    pairs = [TrainingPair(deid.normalize(r["findings"]), r["impression"]) for r in train]
    predictions = (
        base.get_model_class(name)()
        .fit(pairs)
        .predict([deid.normalize(r["findings"]) for r in dev])
    )
    scorer = RougeScorer(use_stemmer=False)
    scores = [scorer.score(r["impression"], p) for r, p in zip(dev, predictions, strict=True)]
    return tuple(sum(s[m].fmeasure for s in scores) / len(scores) for m in METRICS)


def test_default_model_clearly_beats_retrieval_on_every_rouge(shared_data: Path) -> None:
    ours, retrieval = (
        dev_means(shared_data, base.DEFAULT_MODEL),
        dev_means(shared_data, "retrieval"),
    )
    assert all(a > b + 0.02 for a, b in zip(ours, retrieval, strict=True)), (ours, retrieval)


def test_default_model_is_at_least_as_good_as_restate(shared_data: Path) -> None:
    ours, restate = dev_means(shared_data, base.DEFAULT_MODEL), dev_means(shared_data, "restate")
    assert ours[0] >= restate[0], (ours, restate)
