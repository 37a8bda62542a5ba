"""Issue 18 items 1-3 end to end: what generated the impressions, train/test overlap, and the
training file's rejections, in the console, summary.json, Parquet and report.html.

Expected counts are written by hand from how the files are built here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from radimpress_workstation.cli import main
from radimpress_workstation.synthetic import write_demo_files


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """30 training studies + 3 without an impression; 10 findings studies + 1 that reuses a
    training study_id + 1 whose findings are a training study's, retyped (case, spacing,
    punctuation): 12 findings studies, 2 overlapping."""
    root = tmp_path_factory.mktemp("integrity")
    data = write_demo_files(root / "data", train=30, infer=10, seed=21, with_bad=False)
    train = _lines(data.train)
    infer = _lines(data.infer)
    assert len(train) == 30 and len(infer) == 10
    lacking = [{"study_id": f"noimp-{i}", "findings": "Heart normal."} for i in range(3)]
    reused_id = {**infer[0], "study_id": train[0]["study_id"]}
    reused_id["findings"] = infer[0]["findings"] + " Unchanged."
    retyped = {**infer[1], "study_id": "new-study", "findings": "  " + train[5]["findings"].upper()}
    retyped["findings"] = retyped["findings"].replace(".", " . ")
    return {
        "train": _write(root / "train.jsonl", train + lacking),
        "infer": _write(root / "infer.jsonl", [*infer, reused_id, retyped]),
        "out": root / "out",
    }


def _run(files, capsys, *extra: str) -> tuple[int, Path, str, str]:
    before = set(files["out"].iterdir()) if files["out"].exists() else set()
    argv = ["run", "--train", str(files["train"]), "--infer", str(files["infer"])]
    code = main([*argv, "--model", "restate", "--out", str(files["out"]), *extra])
    captured = capsys.readouterr()
    (folder,) = set(files["out"].iterdir()) - before
    return code, folder, captured.out, captured.err


def test_overlap_rejections_and_generator_are_reported(files, capsys, monkeypatch) -> None:
    from radimpress_workstation import runtime

    def read_again(train: Path, infer: Path) -> dict:
        raise AssertionError("run found the overlap while it checked its inputs: no second read")

    monkeypatch.setattr(runtime, "find_overlap", read_again)
    code, folder, out, err = _run(files, capsys)
    # Item 3: three training records lack an impression -> reported, written, exit 1.
    assert code == 1
    assert "training records: 33  accepted: 30  rejected: 3" in out
    rejected = _lines(folder / "train-rejected.jsonl")
    assert sorted(r["study_id"] for r in rejected) == ["noimp-0", "noimp-1", "noimp-2"]
    assert all(r["field"] == "impression" for r in rejected)
    assert "3 record(s) rejected (training 3, findings 0)" in err
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["training"] == {
        "file": "train.jsonl",
        "records": 33,
        "accepted": 30,
        "rejected": 3,
    }
    # Item 2: one study_id and one findings text come from the training file.
    note = "2 of 12 studies overlap the training file (same study_id 1, same findings text 1)"
    assert f"!! train/test overlap: {note}; scored: their scores may overstate the model" in err
    assert "--exclude-overlap" in err
    overlap = summary["train_overlap"]
    assert (overlap["studies"], overlap["overlapping"], overlap["excluded"]) == (12, 2, False)
    assert (overlap["by_study_id"], overlap["by_findings_text"]) == (1, 1)
    report = next((folder / "results").rglob("report.html")).read_text(encoding="utf-8")
    assert "Train/test overlap:" in report and note in report
    # Item 1: every row says what generated it.
    scores = pq.read_table(next((folder / "results" / "scores").rglob("*.parquet"))).to_pylist()
    assert {(r["model"], r["generator"]) for r in scores} == {
        ("pre-trained (lead)", "local:lead"),
        ("fine-tuned (restate)", "local:restate"),
    }
    assert {r["train_overlap"] for r in scores} == {
        f"{note}; scored: their scores may overstate the model"
    }
    runs = pq.read_table(next((folder / "results" / "runs").rglob("*.parquet"))).to_pylist()
    assert sorted(r["generator"] for r in runs) == ["local:lead", "local:restate"]
    assert "Stand-in" not in report  # local models are what they say they are
    # Paired comparison: the console, summary.json and the report give the same verdicts.
    assert "Paired comparison: mean A - B, 95% paired bootstrap interval" in out
    verdicts = [p["verdict"] for p in summary["paired_comparisons"]]
    assert [(p["model_a"], p["model_b"], p["metric"]) for p in summary["paired_comparisons"]] == [
        ("fine-tuned (restate)", "pre-trained (lead)", "ROUGE-L"),
        ("fine-tuned (restate)", "pre-trained (lead)", "clinical F1"),
    ]
    for verdict in verdicts:
        assert verdict.startswith("fine-tuned (restate) vs pre-trained (lead): ")
        assert f"  {verdict}" in out
        assert verdict in report
    # Patient text never reaches the console.
    assert "Heart normal" not in out + err


def test_exclude_overlap_leaves_the_overlapping_studies_out(files, capsys) -> None:
    code, folder, out, err = _run(files, capsys, "--exclude-overlap")
    assert code == 1  # the training rejections are still there
    assert "fine-tuned (restate): scored 10 + excluded (in training) 2 + rejected 0 = 12" in out
    assert "excluded from the scores" in err
    scores = _lines(folder / "scores.jsonl")
    assert len(scores) == 20  # 10 studies x 2 models
    ids = {r["study_id"] for r in scores}
    assert "new-study" not in ids
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["train_overlap"]["excluded"] is True


def test_the_jumpstart_double_is_labelled_as_a_stand_in(tmp_path, capsys) -> None:
    """Item 1: `run --spec jumpstart-flan-t5-xl` generates with the container double's stand-ins;
    its tables, rows and report must not pass their numbers off as FLAN-T5 XL's."""
    data = write_demo_files(tmp_path / "js", train=20, infer=5, seed=4, with_bad=False)
    out = tmp_path / "out"
    argv = ["run", "--train", str(data.train), "--infer", str(data.infer), "--out", str(out)]
    assert main([*argv, "--spec", "jumpstart-flan-t5-xl", "--quiet"]) == 0
    printed = capsys.readouterr().out
    name = "huggingface-text2text-flan-t5-xl"
    tuned = f"fine-tuned ({name}, stand-in: restate)"
    pretrained = f"pre-trained ({name}, stand-in: first sentence of the findings)"
    assert tuned in printed and pretrained in printed
    assert f"fine-tuned ({name})" not in printed
    (folder,) = out.iterdir()
    scores = pq.read_table(next((folder / "results" / "scores").rglob("*.parquet"))).to_pylist()
    assert {(r["model"], r["generator"]) for r in scores} == {
        (tuned, "double:jumpstart-flan-t5-xl (stand-in: restate)"),
        (pretrained, "double:jumpstart-flan-t5-xl (stand-in: first sentence of the findings)"),
    }
    report = next((folder / "results").rglob("report.html")).read_text(encoding="utf-8")
    assert report.count("Stand-in, not the named model:") == 2
    # Every named query names the generator beside the model.
    saved = tmp_path / "queries"
    assert main(["queries", str(folder / "results"), "--save", str(saved)]) == 0
    capsys.readouterr()
    csvs = sorted(saved.glob("*.csv"))
    assert len(csvs) == 7  # the six of the scores and runs tables, and per-observation agreement
    for path in csvs:
        header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
        assert "generator" in header or "generator_a" in header, path.name
        body = path.read_text(encoding="utf-8")
        assert "double:jumpstart-flan-t5-xl (stand-in:" in body, path.name
