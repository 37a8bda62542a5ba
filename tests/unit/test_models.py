"""Local models: the registry, the default model's behaviour, and save/load fidelity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from radimpress_training.models import base
from radimpress_training.models.base import TrainingPair
from radimpress_training.models.consensus import ConsensusModel

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


@pytest.mark.parametrize("name", ["consensus", "retrieval", "lead"])
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


@pytest.mark.shared_data
def test_default_model_beats_retrieval_on_openi_dev(shared_data: Path) -> None:
    from radimpress.scoring import RougeScorer

    def read(name: str) -> list[dict]:
        with open(shared_data / "openi" / name, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle]

    train, dev = read("train.jsonl"), read("dev.jsonl")
    pairs = [TrainingPair(r["findings"], r["impression"]) for r in train]
    scorer = RougeScorer()

    def rouge1(name: str) -> float:
        predictions = base.get_model_class(name)().fit(pairs).predict([r["findings"] for r in dev])
        scores = [
            scorer.score(r["impression"], p)["rouge1"].fmeasure
            for r, p in zip(dev, predictions, strict=True)
        ]
        return sum(scores) / len(scores)

    assert rouge1(base.DEFAULT_MODEL) > rouge1("retrieval") + 0.01
