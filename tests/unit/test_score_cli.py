"""`radimpress score`: rows per study_id equal rouge-score, and nothing is silently dropped."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from rouge_score import rouge_scorer

from radimpress.scoring import ROUGE_TYPES
from radimpress_workstation.commands import score as score_command


def main(argv: list[str]) -> int:
    """`radimpress score ...` through this command's own parser, independent of other commands."""
    parser = argparse.ArgumentParser(prog="radimpress")
    score_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


REFERENCES = [
    {"study_id": "S1", "findings": "Heart normal. Lungs clear.", "impression": "No acute disease."},
    {
        "study_id": "S2",
        "findings": "Small left effusion.",
        "impression": "Small left pleural effusion.\nNo pneumothorax.",
    },
    {"study_id": 3, "findings": "Cardiomegaly.", "impression": "Stable cardiomegaly, running."},
]
PREDICTIONS = [
    {"study_id": "S2", "impression": "Left effusion.\r\nNo pneumothorax seen."},
    {"study_id": "S1", "impression": "No acute cardiopulmonary disease."},
    {"study_id": "3", "impression": "Cardiomegaly runs stable."},
]


def _write(path: Path, records: list, array: bool = False) -> str:
    if array:
        path.write_text(json.dumps(records), encoding="utf-8")
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("use_stemmer", [False, True])
def test_rows_equal_rouge_score_and_follow_reference_order(tmp_path, capsys, use_stemmer) -> None:
    refs = _write(tmp_path / "openi.jsonl", REFERENCES)
    preds = _write(tmp_path / "lead.json", PREDICTIONS, array=True)
    out = tmp_path / "out" / "scores.jsonl"
    argv = ["score", "--references", refs, "--predictions", preds, "--output", str(out)]
    code = main([*argv, "--stemmer"] if use_stemmer else argv)
    assert code == 0
    rows = _rows(out)
    assert [r["study_id"] for r in rows] == ["S1", "S2", "3"]
    assert {(r["dataset"], r["model"]) for r in rows} == {("openi", "lead")}
    reference = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=use_stemmer)
    by_id = {str(p["study_id"]): p["impression"] for p in PREDICTIONS}
    for row, record in zip(rows, REFERENCES, strict=True):
        expected = reference.score(record["impression"], by_id[str(record["study_id"])])
        for metric in ROUGE_TYPES:
            assert row[metric] == expected[metric]._asdict()
    printed = capsys.readouterr()
    assert "Mean F1" in printed.out and "ROUGE-Lsum" in printed.out
    assert "scored 3 study_id(s)" in printed.err


def test_unmatched_and_rejected_records_are_reported(tmp_path, capsys) -> None:
    refs = _write(
        tmp_path / "refs.jsonl",
        [
            *REFERENCES,
            {"study_id": "S4", "findings": "x", "impression": "  "},
            {"study_id": "S5", "findings": "y", "impression": "Clear."},
        ],
    )
    preds = _write(
        tmp_path / "preds.jsonl",
        [
            *PREDICTIONS,
            {"study_id": "S1", "impression": "again"},
            {"study_id": "S9", "impression": "orphan"},
            ["not", "an", "object"],
        ],
    )
    out = tmp_path / "scores.jsonl"
    summary = tmp_path / "summary.json"
    code = main(
        [
            "score",
            "--references",
            refs,
            "--predictions",
            preds,
            "--output",
            str(out),
            "--summary",
            str(summary),
        ]
    )
    assert code == 1
    assert [r["study_id"] for r in _rows(out)] == ["S1", "S2", "3"]
    err = capsys.readouterr().err
    assert "record 4 (study_id=S4): field 'impression': is required" in err
    assert "duplicate study_id" in err and "record 6" in err
    assert "references without a prediction (1): S5" in err
    assert "predictions without a reference (1): S9" in err
    for record in REFERENCES:  # patient text never reaches the log
        assert record["impression"] not in err and record["findings"] not in err
    report = json.loads(summary.read_text())
    assert report["references_without_prediction"] == ["S5"]
    assert report["predictions_without_reference"] == ["S9"]
    assert (report["references"]["rejected"], report["predictions"]["rejected"]) == (1, 2)
    assert report["aggregates"][0]["scored"] == 3


def test_prediction_file_without_findings_and_empty_prediction(tmp_path, capsys) -> None:
    refs = _write(tmp_path / "refs.jsonl", REFERENCES[:2])
    preds = _write(
        tmp_path / "preds.jsonl",
        [
            {"study_id": "S1", "impression": ""},
            {"study_id": "S2", "impression": "No pneumothorax."},
        ],
    )
    code = main(
        ["score", "--references", refs, "--predictions", preds, "--model", "m", "--dataset", "d"]
    )
    assert code == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]  # JSON Lines on stdout
    assert rows[0]["study_id"] == "S1"
    assert rows[0]["rouge1"] == {"precision": 0.0, "recall": 0.0, "fmeasure": 0.0}
    assert rows[1]["rougeLsum"]["precision"] == 1.0
    assert {(r["dataset"], r["model"]) for r in rows} == {("d", "m")}
    assert "Mean F1" in captured.err  # the tables move to stderr


def test_unusable_inputs_exit_2(tmp_path, capsys) -> None:
    refs = _write(tmp_path / "refs.jsonl", REFERENCES)
    missing = str(tmp_path / "nope.jsonl")
    assert main(["score", "--references", refs, "--predictions", missing]) == 2
    err = capsys.readouterr().err
    assert err.startswith("radimpress score: error: cannot open (no such file or directory), ")
    assert err.rstrip().endswith("nope.jsonl")
    broken = tmp_path / "broken.json"
    broken.write_text("[{", encoding="utf-8")
    assert main(["score", "--references", str(broken), "--predictions", refs]) == 2
    assert "broken.json" in capsys.readouterr().err
    others = _write(tmp_path / "others.jsonl", [{"study_id": "Z", "impression": "x"}])
    out = tmp_path / "scores.jsonl"
    assert main(["score", "--references", refs, "--predictions", others, "--output", str(out)]) == 2
    assert "radimpress score: error: no study_id is in both files" in capsys.readouterr().err
    assert not out.exists()  # nothing is written for unusable input
    assert list(tmp_path.glob("*.partial")) == list(tmp_path.glob(".*.partial")) == []


def test_bootstrap_interval_in_table(tmp_path, capsys) -> None:
    refs = _write(tmp_path / "refs.jsonl", REFERENCES)
    preds = _write(tmp_path / "preds.jsonl", PREDICTIONS)
    out = str(tmp_path / "s.jsonl")
    argv = [
        "score",
        "--references",
        refs,
        "--predictions",
        preds,
        "--output",
        out,
        "--bootstrap",
        "50",
    ]
    assert main([*argv, "--seed", "2"]) == 0
    first = capsys.readouterr().out
    assert main([*argv, "--seed", "2"]) == 0
    assert capsys.readouterr().out == first and "[" in first.splitlines()[3]


def test_registered_with_the_cli() -> None:
    from radimpress_workstation.cli import COMMAND_MODULES

    assert "score" in COMMAND_MODULES
