"""`radimpress label`: CheXpert labels per record as JSON Lines."""

from __future__ import annotations

import json
from pathlib import Path

from radimpress_workstation.cli import main

REPORTS = [
    {
        "study_id": "S1",
        "findings": "Heart is enlarged. No pleural effusion.",
        "impression": "Cardiomegaly. No effusion.",
    },
    {"study_id": "S2", "findings": "Lungs are clear.", "impression": "No acute disease."},
]


def _write(path: Path, records: list) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_labels_of_the_impression_by_default(tmp_path, capsys) -> None:
    out = tmp_path / "labels.jsonl"
    assert main(["label", "--input", _write(tmp_path / "r.jsonl", REPORTS),
                 "--output", str(out)]) == 0  # fmt: skip
    rows = _rows(out)
    assert [r["study_id"] for r in rows] == ["S1", "S2"]
    assert rows[0]["labels"] == {
        "No Finding": "negative",
        "Cardiomegaly": "positive",
        "Pleural Effusion": "negative",
    }
    assert rows[1]["labels"] == {"No Finding": "positive"}  # unmentioned ones are absent
    assert set(rows[0]) == {"study_id", "labels"}
    assert "labelled 2 record(s) (impression), rejected 0" in capsys.readouterr().err


def test_generated_of_one_model_of_a_run(tmp_path) -> None:
    impressions = _write(
        tmp_path / "impressions.jsonl",
        [
            {"study_id": "S1", "model": "pre-trained (lead)", "generated": "Heart is enlarged."},
            {"study_id": "S1", "model": "fine-tuned (restate)", "generated": ""},
        ],
    )
    out = tmp_path / "l.jsonl"
    argv = ["label", "--input", impressions, "--field", "generated", "--output", str(out)]
    assert main(argv) == 2  # two models, no --model
    assert not out.exists()
    assert main([*argv, "--model", "restate"]) == 0
    assert _rows(out) == [{"study_id": "S1", "model": "fine-tuned (restate)", "labels": {}}]


def test_bad_records_are_named_by_position_and_field_never_text(tmp_path, capsys) -> None:
    secret = "Right upper lobe opacity, possible tuberculosis."
    records = [*REPORTS, {"study_id": "S3", "findings": secret}, {"study_id": "S4"}, [1]]
    out = tmp_path / "l.jsonl"
    argv = ["label", "--input", _write(tmp_path / "r.jsonl", records), "--output", str(out)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "record 3 (study_id=S3): field 'impression': is required" in err
    assert "record 4 (study_id=S4): field 'impression'" in err
    assert "record 5: record is a JSON list, not a JSON object" in err
    assert secret not in err and len(_rows(out)) == 2
    assert main([*argv[:-2], "--field", "findings", "--output", str(out)]) == 1
    assert "record 4 (study_id=S4): field 'findings'" in capsys.readouterr().err


def test_unusable_input_and_output(tmp_path, capsys) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["label", "--input", str(empty), "--output", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.startswith("radimpress label: error: ")
    reports = _write(tmp_path / "r.jsonl", REPORTS)
    assert main(["label", "--input", reports, "--output", str(tmp_path)]) == 2
    assert "--output must name a file, not a directory" in capsys.readouterr().err
    no_impressions = _write(tmp_path / "f.jsonl", [{"study_id": "1", "findings": "x"}])
    assert main(["label", "--input", no_impressions, "--output", str(tmp_path / "o")]) == 2
    assert "no record with a valid 'impression' field" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
