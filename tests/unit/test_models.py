"""Local models: the registry, the default model's behaviour, and save/load fidelity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from radimpress_training.models import base
from radimpress_training.models.base import TrainingPair
from radimpress_training.models.consensus import ConsensusModel
from radimpress_training.models.restate import RestateModel, terse

NORMAL_A = "Heart size normal. Lungs are clear. No effusion or pneumothorax."
NORMAL_B = "The heart is normal in size. The mediastinum is unremarkable. The lungs are clear."
PAIRS = [
    TrainingPair(NORMAL_A, "Normal chest."),
    TrainingPair(NORMAL_A + " Mild spine degeneration.", "Normal chest."),
    TrainingPair(NORMAL_A + " Old rib fracture.", "No acute disease."),
    TrainingPair(NORMAL_B, "No acute cardiopulmonary abnormality."),
    TrainingPair(NORMAL_B + " Calcified granuloma.", "No acute cardiopulmonary abnormality."),
    TrainingPair(
        "Large right pleural effusion. Heart size normal.", "1. Large right pleural effusion."
    ),
    TrainingPair("Since XXXX the heart is enlarged. Lungs are clear.", "Cardiomegaly since XXXX."),
]


def test_registry_lists_and_loads_every_model() -> None:
    assert base.DEFAULT_MODEL in base.available_models()
    assert {"consensus", "lead", "retrieval"} <= set(base.available_models())
    assert {"consensus", "restate"} <= set(base.available_models())
    for name in base.available_models():
        assert base.get_model_class(name).name == name
    with pytest.raises(KeyError, match="local models: consensus"):
        base.get_model_class("nope")


def test_consensus_follows_the_template_of_similar_findings() -> None:
    model = ConsensusModel(neighbours=3).fit(PAIRS)
    out = model.predict([NORMAL_A + " Small nodule.", NORMAL_B, "Moderate right pleural effusion."])
    assert out == [
        "Normal chest.",
        "No acute cardiopulmonary abnormality.",
        "1. Large right pleural effusion.",
    ]


def test_consensus_prefers_the_majority_over_the_single_nearest() -> None:
    # The nearest report says "No acute disease." but most near neighbours say "Normal chest.".
    model = ConsensusModel(neighbours=3, sharpness=1.0).fit(PAIRS)
    assert model.predict([NORMAL_A + " Old rib fracture."]) == ["Normal chest."]
    assert ConsensusModel(neighbours=1).fit(PAIRS).predict([NORMAL_A + " Old rib fracture."]) == [
        "No acute disease."
    ]


def test_consensus_answers_in_the_placeholder_convention_it_can_tell() -> None:
    model = ConsensusModel(neighbours=1).fit(PAIRS)
    # Explicit conventions in the findings win.
    assert model.predict(["Since [**2101-2-3**] the heart is enlarged."]) == [
        "Cardiomegaly since [** **]."
    ]
    # Canonical "___" (what the pipeline hands over) or nothing: the training impressions' one.
    assert model.predict(["Since ___ the heart is enlarged. Lungs are clear."]) == [
        "Cardiomegaly since XXXX."
    ]
    assert model.predict(["The heart is enlarged. Lungs are clear."]) == [
        "Cardiomegaly since XXXX."
    ]
    mimic = [TrainingPair(p.findings, p.impression.replace("XXXX", "___")) for p in PAIRS]
    assert ConsensusModel(neighbours=1).fit(mimic).predict(["Since XXXX the heart is big."]) == [
        "Cardiomegaly since XXXX."
    ]
    assert ConsensusModel(neighbours=1).fit(mimic).predict(["The heart is enlarged."]) == [
        "Cardiomegaly since ___."
    ]


@pytest.mark.parametrize("name", ["consensus", "restate", "retrieval", "lead"])
def test_saved_model_reloads_and_predicts_identically(name: str, tmp_path: Path) -> None:
    model = base.get_model_class(name)().fit(PAIRS)
    queries = [NORMAL_A, NORMAL_B + " Tiny granuloma.", "Effusion on the right.", ""]
    before = model.predict(queries)
    model.save(tmp_path)
    manifest = json.loads((tmp_path / base.MANIFEST).read_text())
    assert manifest["model"] == name
    assert base.load_model(tmp_path).predict(queries) == before


def test_findings_unlike_any_training_report_get_the_most_frequent_impression() -> None:
    model = ConsensusModel().fit([*PAIRS, TrainingPair("Lungs clear.", "Normal chest.")])
    assert model.predict(["zzz qqq", ""]) == ["Normal chest."] * 2
    extra = TrainingPair("Lungs clear.", "No acute disease.")
    model = ConsensusModel().fit([*PAIRS, extra, extra])
    assert model.predict(["zzz qqq"]) == ["No acute disease."]


def test_untrained_and_empty_training_fail_clearly() -> None:
    with pytest.raises(RuntimeError, match="not trained"):
        ConsensusModel().predict(["x"])
    with pytest.raises(ValueError, match="at least one"):
        ConsensusModel().fit([])


# ---- restate: the consensus template plus the positive findings that training restates ------


def test_restate_adds_positive_findings_of_a_kind_training_impressions_restate() -> None:
    consensus = ConsensusModel().fit(PAIRS)
    model = RestateModel().fit(PAIRS)
    # "Large right pleural effusion." is restated by its impression: similar sentences are too.
    query = NORMAL_A.replace(
        "No effusion or pneumothorax.", "There is a small left pleural effusion."
    )
    assert model.predict([query]) == [
        consensus.predict([query])[0] + " Small left pleural effusion."
    ]
    # Incidental findings that training impressions leave out stay out (the template alone).
    for query in (NORMAL_A + " Mild spine degeneration.", NORMAL_B + " Calcified granuloma."):
        assert model.predict([query]) == consensus.predict([query])


def test_restate_never_restates_normal_statements_or_what_the_template_says() -> None:
    model = RestateModel().fit(PAIRS)
    assert model.restate_probabilities(
        ["No pleural effusion.", "The lungs are clear.", "Moderate right pleural effusion."]
    ) == [0.0, 0.0, 1.0]
    # The template already names the effusion: nothing is added twice.
    assert model.predict(["Large right pleural effusion."]) == ["1. Large right pleural effusion."]


def test_restate_threshold_and_limit() -> None:
    # "Large pleural effusion." is named by the template; the other two are restated in order.
    query = "Small right pleural effusion. Small left pleural effusion. Large pleural effusion."
    template = "1. Large right pleural effusion."
    assert ConsensusModel().fit(PAIRS).predict([query]) == [template]
    assert RestateModel(threshold=1.01).fit(PAIRS).predict([query]) == [template]
    assert RestateModel(max_restated=1).fit(PAIRS).predict([query]) == [
        template + " Small right pleural effusion."
    ]
    assert RestateModel().fit(PAIRS).predict([query]) == [
        template + " Small right pleural effusion. Small left pleural effusion."
    ]


def test_restate_weighs_in_whether_similar_reports_restated_anything() -> None:
    model = RestateModel(neighbours=1).fit(PAIRS)

    def report_share(findings: str) -> float:
        return model._report_share(model.neighbours_of(findings))

    assert report_share("Large right pleural effusion. Heart size normal.") == 1.0
    assert report_share(NORMAL_A) == 0.0
    # With all the weight on the reports, a restatable sentence in a study like the normal ones
    # stays out, and the same sentence in a study like the abnormal one is restated.
    only_reports = RestateModel(neighbours=1, report_weight=1.0).fit(PAIRS)
    normal_like = NORMAL_A + " Small left pleural effusion."
    assert only_reports.predict([normal_like]) == ["Normal chest."]
    assert RestateModel(neighbours=1, report_weight=0.0).fit(PAIRS).predict([normal_like]) == [
        "Normal chest. Small left pleural effusion."
    ]
    assert only_reports.predict(["Small left pleural effusion. Heart size normal."]) == [
        "1. Large right pleural effusion. Small left pleural effusion."
    ]


def test_terse_drops_dictation_filler() -> None:
    assert terse("There is a small left pleural effusion.") == "Small left pleural effusion."
    assert terse("Calcified granuloma is noted.") == "Calcified granuloma."
    assert terse("There are bilateral nodules") == "Bilateral nodules."
    assert terse("Mild cardiomegaly.") == "Mild cardiomegaly."


def test_restated_findings_follow_the_answer_placeholder_convention() -> None:
    model = RestateModel().fit(PAIRS)  # training impressions write XXXX
    (explicit,) = model.predict(["Large right pleural effusion since XXXX. Small left effusion."])
    (canonical,) = model.predict(["Large right pleural effusion since ___. Small left effusion."])
    assert "since XXXX" in explicit and "since XXXX" in canonical and "___" not in canonical
    mimic = [TrainingPair(p.findings, p.impression.replace("XXXX", "___")) for p in PAIRS]
    (answer,) = RestateModel().fit(mimic).predict(["Large right pleural effusion since XXXX."])
    assert "since XXXX" in answer


def test_restate_saves_its_settings_and_reloads_identically(tmp_path: Path) -> None:
    model = RestateModel(neighbours=3, threshold=0.5, max_restated=2, min_overlap=1).fit(PAIRS)
    queries = [NORMAL_A + " Small left pleural effusion.", "Moderate right effusion.", "", "zzz"]
    before = model.predict(queries)
    model.save(tmp_path)
    loaded = base.load_model(tmp_path)
    assert isinstance(loaded, RestateModel)
    assert loaded.state() == model.state()
    assert loaded.predict(queries) == before


def test_restate_untrained_and_empty_training_fail_clearly() -> None:
    with pytest.raises(RuntimeError, match="not trained"):
        RestateModel().predict(["x"])
    with pytest.raises(ValueError, match="at least one"):
        RestateModel().fit([])
