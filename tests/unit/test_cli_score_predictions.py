"""`radimpress score` reads the pipeline's own prediction files.

impressions.jsonl of a local run and evaluate's predictions.jsonl carry the text in `generated`
and name their model; a run's file mixes models, so `--model` picks one and a mixed file without
it is refused. Outputs are checked before any work and never left half-written.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from radimpress import json_records
from radimpress_workstation import output_files
from radimpress_workstation.cli import main
from radimpress_workstation.commands import score as score_command

REFERENCES = [
    {"study_id": "S1", "findings": "Heart normal.", "impression": "No acute disease."},
    {"study_id": "S2", "findings": "Small effusion.", "impression": "Small left effusion."},
]
# What a two-model local run writes to <run>/impressions.jsonl.
RUN_IMPRESSIONS = [
    {"study_id": "S1", "model": "pre-trained (lead)", "generated": "Heart normal."},
    {"study_id": "S2", "model": "pre-trained (lead)", "generated": "Small effusion."},
    {"study_id": "S1", "model": "fine-tuned (restate)", "generated": "No acute disease."},
    {"study_id": "S2", "model": "fine-tuned (restate)", "generated": "Left effusion."},
    {"study_id": "S1", "model": "fine-tuned (consensus)", "generated": "No acute disease."},
    {"study_id": "S2", "model": "fine-tuned (consensus)", "generated": "No acute disease."},
]


def _write(path: Path, records: list) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def files(tmp_path: Path) -> tuple[str, str]:
    return (
        _write(tmp_path / "refs.jsonl", REFERENCES),
        _write(tmp_path / "impressions.jsonl", RUN_IMPRESSIONS),
    )


def test_a_runs_impressions_scored_for_one_model(tmp_path, files, capsys) -> None:
    refs, preds = files
    out = tmp_path / "scores.jsonl"
    argv = ["score", "--references", refs, "--predictions", preds, "--output", str(out)]
    assert main([*argv, "--model", "restate"]) == 0
    rows = _rows(out)
    assert [r["study_id"] for r in rows] == ["S1", "S2"]
    assert {r["model"] for r in rows} == {"fine-tuned (restate)"}
    assert rows[0]["rougeL"]["fmeasure"] == 1.0  # restate's S1 equals the reference
    err = capsys.readouterr().err
    assert "left out 4 row(s) of other models (scored: fine-tuned (restate))" in err
    # The full label and the role work too when they name one model.
    assert main([*argv, "--model", "fine-tuned (consensus)"]) == 0
    assert {r["model"] for r in _rows(out)} == {"fine-tuned (consensus)"}
    assert main([*argv, "--model", "pre-trained"]) == 0
    assert {r["model"] for r in _rows(out)} == {"pre-trained (lead)"}


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (
            None,
            "holds the predictions of 3 models (pre-trained (lead), fine-tuned (restate), "
            "fine-tuned (consensus)); pick one with --model NAME",
        ),
        ("fine-tuned", "--model 'fine-tuned' matches 2 models"),
        ("select", "has no rows of model 'select'; models: pre-trained (lead)"),
    ],
)
def test_ambiguous_or_unknown_model_is_refused(tmp_path, files, capsys, model, message) -> None:
    refs, preds = files
    out = tmp_path / "scores.jsonl"
    argv = ["score", "--references", refs, "--predictions", preds, "--output", str(out)]
    assert main([*argv, *(["--model", model] if model else [])]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"radimpress score: error: {message}"), err
    assert err.rstrip().endswith("impressions.jsonl")
    assert not out.exists()


@pytest.mark.parametrize("model", [None, "restate", "fine-tuned", "pre-trained", "select"])
def test_a_model_is_picked_alike_when_the_file_streams_in_small_blocks(
    tmp_path, files, capsys, monkeypatch, model
) -> None:
    """The file is read a block of lines at a time and models are picked as rows stream by: a
    model's rows spread over many blocks give the same rows, counts and refusals as one block."""
    refs, preds = files
    argv = ["score", "--references", refs, "--predictions", preds]
    argv += ["--model", model] if model else []
    outcomes = []
    for chunk in (1 << 16, 40):  # 40 bytes: each line a block of its own
        monkeypatch.setattr(json_records, "QUICK_CHUNK_BYTES", chunk)
        out = tmp_path / f"scores{chunk}.jsonl"
        code = main([*argv, "--output", str(out)])
        captured = capsys.readouterr()
        outcomes.append((code, out.read_bytes() if out.exists() else None, captured.err))
    assert outcomes[0] == outcomes[1]


def test_evaluate_predictions_and_hand_made_files_need_no_model(tmp_path, capsys) -> None:
    refs = _write(tmp_path / "refs.jsonl", REFERENCES)
    evaluate_style = _write(
        tmp_path / "predictions.jsonl",
        [{"study_id": r["study_id"], "model": "restate", "generated": "x"} for r in REFERENCES],
    )
    hand_made = _write(
        tmp_path / "mine.jsonl", [{"study_id": "S1", "impression": "y"}, {"study_id": "S2"}]
    )
    assert main(["score", "--references", refs, "--predictions", evaluate_style]) == 0
    assert {json.loads(x)["model"] for x in capsys.readouterr().out.splitlines()} == {"restate"}
    # A missing text is rejected by position and field name, never by text.
    assert main(["score", "--references", refs, "--predictions", hand_made]) == 1
    err = capsys.readouterr().err
    assert "record 2 (study_id=S2): field 'generated': is required" in err


def test_bad_generated_field_is_named(tmp_path, capsys) -> None:
    refs = _write(tmp_path / "refs.jsonl", REFERENCES)
    preds = _write(
        tmp_path / "p.jsonl",
        [{"study_id": "S1", "generated": 5}, {"study_id": "S2", "generated": "ok"}],
    )
    assert main(["score", "--references", refs, "--predictions", preds]) == 1
    assert "record 1 (study_id=S1): field 'generated': must be a string" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--output", "--summary"])
def test_output_directory_is_an_error_before_any_work(tmp_path, files, capsys, option) -> None:
    refs, preds = files
    folder = tmp_path / "a-folder"
    folder.mkdir()
    argv = ["score", "--references", refs, "--predictions", preds, "--model", "restate"]
    assert main([*argv, option, str(folder)]) == 2
    err = capsys.readouterr().err
    assert err == f"radimpress score: error: {option} must name a file, not a directory, {folder}\n"
    assert list(tmp_path.rglob("*.partial")) == []
    assert list(folder.iterdir()) == []


def test_nothing_partial_is_left_when_writing_fails(tmp_path, files, monkeypatch) -> None:
    refs, preds = files
    out = tmp_path / "scores.jsonl"

    real = score_command.atomic_output

    @contextlib.contextmanager
    def interrupted(path: str) -> Iterator[Any]:
        with real(path) as handle:  # the real partial file, cut off by Ctrl-C mid-write
            handle.write('{"study_id": "S1"')
            raise KeyboardInterrupt
        yield handle  # never reached

    monkeypatch.setattr(score_command, "atomic_output", interrupted)
    argv = ["score", "--references", refs, "--predictions", preds, "--model", "restate"]
    assert main([*argv, "--output", str(out)]) == 130
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_atomic_output_keeps_the_old_file_on_error(tmp_path) -> None:
    target = tmp_path / "x.jsonl"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), output_files.atomic_output(target) as handle:
        handle.write("new\n")
        raise RuntimeError("disk full")
    assert target.read_text() == "old\n"
    assert not output_files.partial_path(target).exists()
    with pytest.raises(output_files.OutputError, match="lies under a file"):
        output_files.check_output_file(target / "y.jsonl")
