"""Per-observation clinical agreement: micro counts, n/a rule, normal/abnormal matrix."""

from __future__ import annotations

import pytest
from per_observation_data import EXPECTED, GENERATED, MATRIX, REFERENCES, STUDIES, UNLABELLED

from radimpress.clinical.labeler import label_text
from radimpress.clinical.observations import OBSERVATIONS
from radimpress.clinical.per_observation import PerObservation


def _tally(model: str) -> PerObservation:
    tally = PerObservation()
    for study, reference in REFERENCES.items():
        tally.add_labels(label_text(reference), label_text(GENERATED[model][study]))
    return tally


@pytest.mark.parametrize("model", ["select", "lead"])
def test_hand_counted_set(model):
    tally = _tally(model)
    assert tally.studies == STUDIES[model]
    assert tally.unlabelled == UNLABELLED[model]
    assert [row.observation for row in tally.rows()] == list(OBSERVATIONS)
    for row in tally.rows():
        expected = EXPECTED[model].get(row.observation)
        if expected is None:  # positive in neither text: n/a, not 0
            expected = (0, 0, 0, STUDIES[model], None, None, None)
        got = (
            row.true_positive,
            row.false_positive,
            row.false_negative,
            row.true_negative,
            row.precision,
            row.recall,
            row.f1,
        )
        assert got[:4] == expected[:4], row.observation
        for value, want in zip(got[4:], expected[4:], strict=True):
            assert value == (None if want is None else pytest.approx(want)), row.observation
    assert tally.matrix() == MATRIX[model]


def test_uncertain_counts_as_positive_and_times_weights():
    tally = PerObservation()
    tally.add_labels(label_text("Possible small effusion."), label_text("Pleural effusion."), 3)
    effusion = tally.counts["Pleural Effusion"]
    assert (effusion.true_positive, tally.studies) == (3, 3)


def test_to_dict_is_json_ready_with_na_as_null():
    import json

    out = json.loads(json.dumps(_tally("lead").to_dict()))
    assert out["studies"] == 3 and out["unlabelled"] == 1
    pneumonia = next(o for o in out["observations"] if o["observation"] == "Pneumonia")
    assert pneumonia["f1"] is None and pneumonia["precision"] is None
    assert out["normal_abnormal"] == {
        "reference_normal_generated_normal": 0,
        "reference_normal_generated_abnormal": 1,
        "reference_abnormal_generated_normal": 0,
        "reference_abnormal_generated_abnormal": 2,
    }
