"""bench/quality.py's clinical helpers on hand-written pairs (no shared data, no model runs)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from radimpress.clinical.labeler import label_text

BENCH = Path(__file__).resolve().parents[2] / "bench" / "quality.py"


@pytest.fixture(scope="module")
def quality():
    spec = importlib.util.spec_from_file_location("bench_quality", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REFERENCES = {
    "a": "No acute cardiopulmonary abnormality.",
    "b": "Cardiomegaly with small right pleural effusion.",
    "c": "Right upper lobe opacity, possible pneumonia.",
}
GENERATED = {
    "a": "Normal chest exam.",  # a paraphrase of a normal impression: full agreement
    "b": "Cardiomegaly.",  # misses the effusion
    "c": "No acute disease.",  # calls an abnormal study normal
}


def test_clinical_means_on_three_pairs(quality) -> None:
    references = {study: label_text(text) for study, text in REFERENCES.items()}
    agreements = quality.clinical_per_report(GENERATED, references)
    assert agreements["a"].f1 == 1.0
    assert agreements["b"].missed == ("Pleural Effusion",)
    assert (agreements["b"].precision, agreements["b"].recall) == (1.0, 0.5)
    assert agreements["c"].f1 == 0.0
    assert agreements["c"].invented == ()  # "No Finding" is not a finding (issue 18 item 4)
    assert agreements["c"].missed == ("Lung Opacity", "Pneumonia")

    means = quality.clinical_means([agreements[s] for s in "abc"])
    assert means["precision"] == pytest.approx((1.0 + 1.0 + 0.0) / 3)
    assert means["recall"] == pytest.approx((1.0 + 0.5 + 0.0) / 3)
    assert means["f1"] == pytest.approx((1.0 + 2 / 3 + 0.0) / 3)
    assert means["missed_positive_reports"] == 2
    assert means["missed_positive_share"] == pytest.approx(2 / 3)
    assert means["reports"] == 3


def test_clinical_f1_joins_rouge_in_the_paired_difference(quality) -> None:
    ours = {"a": {"rouge1": 0.5, "rouge2": 0.2, "rougeL": 0.4, "clinical_f1": 1.0}}
    base = {"a": {"rouge1": 0.4, "rouge2": 0.2, "rougeL": 0.4, "clinical_f1": 0.5}}
    difference = quality._difference(ours, base)
    assert set(difference) == {"rouge1", "rouge2", "rougeL", "clinical_f1"}
    assert difference["clinical_f1"] == {"mean": 0.5, "ci95_low": 0.5, "ci95_high": 0.5}


def test_table_marks_published_rows_as_rouge_only(quality) -> None:
    clinical = {
        ("restate", "dev"): {"precision": 1.0, "recall": 1.0, "f1": 1.0},
        ("restate", "cv"): {"precision": 1.0, "recall": 1.0, "f1": 1.0},
    }
    for value in clinical.values():
        value.update(missed_positive_share=0.0, missed_positive_reports=0, reports=1)
    table = quality.clinical_table({"restate": 0.7}, clinical, [])
    published = [row for row in table if row["clinical"] is None]
    assert {row["system"] for row in published} == set(quality.REFERENCE)
    assert all("ROUGE only" in row["note"] for row in published)
    text = quality.format_clinical_table(table)
    assert "published ROUGE only" in text
    assert "baseline" in text
