"""Clinical agreement: findings decide it, wording does not."""

from __future__ import annotations

import dataclasses
import json

import pytest

from radimpress.clinical.agreement import (
    ClinicalAgreement,
    agreement_from_labels,
    clinical_agreement,
)
from radimpress.clinical.labeler import label_text

MISSED_REFERENCE = "Right upper lobe opacity, possible tuberculosis. Small right pleural effusion."


def test_paraphrase_of_a_normal_impression_agrees_fully() -> None:
    result = clinical_agreement("Normal chest exam.", "No acute cardiopulmonary findings.")
    assert (result.precision, result.recall, result.f1) == (1.0, 1.0, 1.0)
    assert result.missed == result.invented == ()
    assert result.reference_positive == ("No Finding",)


def test_a_missed_positive_finding_lowers_f1_and_is_listed() -> None:
    full = clinical_agreement(MISSED_REFERENCE, "Right upper lobe opacity. Small right effusion.")
    partial = clinical_agreement(MISSED_REFERENCE, "Right upper lobe opacity.")
    normal = clinical_agreement(MISSED_REFERENCE, "No acute disease.")
    assert full.f1 == 1.0
    assert partial.missed == ("Pleural Effusion",)
    assert partial.invented == ()
    assert partial.precision == 1.0
    assert partial.recall == 0.5
    assert partial.f1 < full.f1
    # Calling an abnormal study normal misses every finding and invents none: "No Finding" is
    # not a finding (issue 18 item 4).
    assert normal.missed == ("Lung Opacity", "Pleural Effusion")
    assert normal.invented == ()
    assert normal.f1 == 0.0
    assert normal.f1 < partial.f1


def test_an_invented_finding_lowers_precision() -> None:
    result = clinical_agreement("Cardiomegaly.", "Cardiomegaly with small bilateral effusions.")
    assert result.invented == ("Pleural Effusion",)
    assert result.missed == ()
    assert result.recall == 1.0
    assert result.precision == 0.5
    assert result.f1 == pytest.approx(2 / 3)


def test_uncertain_counts_as_positive_and_negated_does_not() -> None:
    assert clinical_agreement("Left lower lobe pneumonia.", "Cannot exclude pneumonia.").f1 == 1.0
    negated = clinical_agreement("Left lower lobe pneumonia.", "No pneumonia.")
    assert negated.missed == ("Pneumonia",)
    assert negated.invented == ()


@pytest.mark.parametrize(
    ("reference", "generated", "expected"),
    [
        (None, "", (1.0, 1.0, 1.0)),
        ("Cardiomegaly.", "", (1.0, 0.0, 0.0)),
        ("", "Cardiomegaly.", (0.0, 1.0, 0.0)),
    ],
)
def test_blank_text_edge_cases(
    reference: str | None, generated: str | None, expected: tuple[float, float, float]
) -> None:
    result = clinical_agreement(reference, generated)
    assert (result.precision, result.recall, result.f1) == expected


def test_agreement_from_labels_matches_the_text_entry_point() -> None:
    reference, generated = "Cardiomegaly. Left effusion.", "Cardiomegaly."
    assert agreement_from_labels(label_text(reference), label_text(generated)) == (
        clinical_agreement(reference, generated)
    )


def test_result_is_frozen_and_serialisable() -> None:
    result = clinical_agreement(MISSED_REFERENCE, "Right upper lobe opacity.")
    assert isinstance(result, ClinicalAgreement)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.f1 = 1.0  # type: ignore[misc]
    data = json.loads(json.dumps(result.to_dict()))
    assert data["missed"] == ["Pleural Effusion"]
    assert data["reference_positive"] == ["Lung Opacity", "Pleural Effusion"]
    assert set(data) == {
        "precision",
        "recall",
        "f1",
        "missed",
        "invented",
        "reference_positive",
        "generated_positive",
    }
    # Scores and observation names only: no report text travels in the row.
    assert "opacity" not in json.dumps(data).lower().replace("lung opacity", "")


def test_no_finding_is_never_missed_nor_invented() -> None:
    """Issue 18 item 4: a normal study called abnormal over-calls; it misses nothing."""
    overcall = clinical_agreement("No acute cardiopulmonary process.", "Mild cardiomegaly.")
    assert overcall.f1 == 0.0
    assert overcall.missed == ()
    assert overcall.invented == ("Cardiomegaly",)
    undercall = clinical_agreement("Mild cardiomegaly.", "No acute cardiopulmonary process.")
    assert undercall.f1 == 0.0
    assert undercall.missed == ("Cardiomegaly",)
    assert undercall.invented == ()
    # Both normal: nothing to list, full agreement.
    normal = clinical_agreement("No acute disease.", "Normal chest.")
    assert (normal.f1, normal.missed, normal.invented) == (1.0, (), ())
