"""`radimpress evaluate`: trains, generates, scores with the pipeline's code, writes three files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from radimpress.scoring import RougeScorer
from radimpress_training.models import DEFAULT_MODEL
from radimpress_workstation.cli import main

TRAIN = [
    {"study_id": "t1", "findings": "Heart normal. Lungs clear.", "impression": "Normal chest."},
    {
        "study_id": "t2",
        "findings": "Heart normal. Lungs clear. Old rib fracture XXXX.",
        "impression": "Normal chest.",
    },
    {"study_id": "t3", "findings": "Large left effusion.", "impression": "Left effusion."},
    {"study_id": "t4", "findings": "Heart enlarged.", "impression": "Cardiomegaly since XXXX."},
]
TEST = [
    {"study_id": "d1", "findings": "Heart normal. Lungs clear.", "impression": "Normal chest."},
    {"study_id": "d2", "findings": "Small left effusion.", "impression": "Small left effusion."},
    {"study_id": "d3", "findings": "Heart enlarged since ___.", "impression": "Cardiomegaly."},
]


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("model", [None, "retrieval", "lead"])
def test_evaluate_writes_predictions_scores_and_summary(tmp_path: Path, model, capsys) -> None:
    train, test = write(tmp_path / "train.jsonl", TRAIN), write(tmp_path / "test.jsonl", TEST)
    out = tmp_path / "out"
    args = ["evaluate", "--train", str(train), "--test", str(test), "--output", str(out)]
    assert main(args + (["--model", model] if model else [])) == 0

    predictions = read_jsonl(out / "predictions.jsonl")
    scores = read_jsonl(out / "scores.jsonl")
    summary = json.loads((out / "summary.json").read_text())
    assert [p["study_id"] for p in predictions] == ["d1", "d2", "d3"]
    name = model or DEFAULT_MODEL
    assert summary["models"] == [name]
    assert summary["train_reports"] == 4 and summary["test_reports"] == 3
    result = summary["per_model"][name]
    assert result["training_seconds"] >= 0 and result["generation_seconds"] >= 0

    scorer = RougeScorer()
    for name in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
        expected = [
            scorer.score(t["impression"], p["generated"])[name].fmeasure
            for t, p in zip(TEST, predictions, strict=True)
        ]
        assert [s[name]["fmeasure"] for s in scores] == expected
        assert result["rouge_f1_mean"][name] == pytest.approx(sum(expected) / 3)
    printed = capsys.readouterr().out
    assert "3 reports" in printed and "effusion" not in printed.lower()


def test_default_model_output(tmp_path: Path) -> None:
    train, test = write(tmp_path / "train.jsonl", TRAIN), write(tmp_path / "test.jsonl", TEST)
    args = ["evaluate", "--train", str(train), "--test", str(test), "--output", str(tmp_path / "o")]
    assert main(args) == 0
    generated = [p["generated"] for p in read_jsonl(tmp_path / "o" / "predictions.jsonl")]
    # select: the neighbours' template; on four training reports the selector has too little
    # evidence to add the effusion sentence. Placeholders in the test file's convention ("___").
    assert generated == [
        "Normal chest.",
        "Left effusion.",
        "Cardiomegaly since ___.",
    ]


def test_evaluate_errors_are_clear(tmp_path: Path, capsys) -> None:
    train = write(tmp_path / "train.jsonl", TRAIN)
    no_refs = write(tmp_path / "test.jsonl", [{"study_id": "x", "findings": "Clear."}])
    base = ["evaluate", "--train", str(train), "--output", str(tmp_path / "o")]
    assert main([*base, "--test", str(no_refs)]) == 2
    err = capsys.readouterr().err
    assert "radimpress evaluate: error: no valid report" in err and "test.jsonl" in err
    assert not (tmp_path / "o").exists()  # nothing written on error
    # An unknown model is an argparse usage error: same form, same exit code, the models listed.
    with pytest.raises(SystemExit) as usage:
        main([*base, "--test", str(train), "--model", "nope"])
    assert usage.value.code == 2
    err = capsys.readouterr().err
    assert "radimpress evaluate: error: argument --model: invalid choice: 'nope'" in err
    assert "restate" in err


def test_several_models_are_all_trained_scored_and_tabled(tmp_path: Path, capsys) -> None:
    """Issue 18 item 7: every --model is evaluated (not only the last) with clinical agreement,
    and the printed tables are `run`'s."""
    train, test = write(tmp_path / "train.jsonl", TRAIN), write(tmp_path / "test.jsonl", TEST)
    out = tmp_path / "out"
    argv = ["evaluate", "--train", str(train), "--test", str(test), "--output", str(out)]
    assert main([*argv, "--model", "lead", "--model", "retrieval"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["models"] == ["lead", "retrieval"]
    predictions = read_jsonl(out / "predictions.jsonl")
    assert [(p["model"], p["study_id"]) for p in predictions] == [
        ("lead", "d1"), ("lead", "d2"), ("lead", "d3"),
        ("retrieval", "d1"), ("retrieval", "d2"), ("retrieval", "d3"),
    ]  # fmt: skip
    scores = read_jsonl(out / "scores.jsonl")
    # lead copies the findings' first sentence: "Heart normal." / "Small left effusion." /
    # "Heart enlarged since ___." agree clinically with "Normal chest." / "Small left
    # effusion." / "Cardiomegaly." (No Finding, Pleural Effusion, Cardiomegaly).
    lead = [s["clinical"] for s in scores if s["model"] == "lead"]
    assert [c["f1"] for c in lead] == [1.0, 1.0, 1.0]
    assert all(c["missed"] == [] and c["invented"] == [] for c in lead)
    assert summary["per_model"]["lead"]["clinical_f1_mean"] == 1.0
    printed = capsys.readouterr().out
    assert "Mean ROUGE F1 per model and dataset, with clinical F1" in printed
    assert "Distribution of per-report ROUGE F1 and clinical F1" in printed
    table_rows = [line.split() for line in printed.splitlines() if line.startswith("test ")]
    assert [r[1] for r in table_rows][:2] == ["lead", "retrieval"]  # both in the mean table
    assert "Clinical F1" in printed
    assert "  lead vs retrieval: ROUGE-L " in printed
    assert "  lead vs retrieval: clinical F1 " in printed
    assert "effusion" not in printed.lower()
