"""`radimpress prepare openi` on small XML and CSV samples written here."""

from __future__ import annotations

import json
from pathlib import Path

from radimpress_training.prepare.openi import prepare_openi
from radimpress_workstation.cli import main

XML = """<?xml version="1.0" encoding="utf-8"?>
<eCitation><meta type="rr"/><uId id="{uid}"/>
<MedlineCitation><Article><Abstract>
<AbstractText Label="COMPARISON">None.</AbstractText>
<AbstractText Label="INDICATION">XXXX-year-old with cough</AbstractText>
<AbstractText Label="FINDINGS">{findings}</AbstractText>
<AbstractText Label="IMPRESSION">{impression}</AbstractText>
</Abstract></Article></MedlineCitation></eCitation>
"""


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_xml_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ecgen-radiology"
    folder.mkdir()
    (folder / "1.xml").write_text(
        XML.format(uid="CXR1", findings="The lungs\n are clear.", impression="Normal chest x-XXXX.")
    )
    (folder / "2.xml").write_text(XML.format(uid="CXR2", findings="", impression="Normal."))
    (folder / "3.xml").write_text("<eCitation><uId id='CXR3'/>")
    summary = prepare_openi(folder, tmp_path / "out", split="dev").to_dict()
    assert summary["read"] == 3
    assert summary["kept"] == {"dev": 1}
    assert summary["dropped"] == {"file is not well-formed XML": 1, "no findings section": 1}
    assert read_jsonl(tmp_path / "out" / "dev.jsonl") == [
        {
            "study_id": "CXR1",
            "findings": "The lungs are clear.",
            "impression": "Normal chest x-XXXX.",
            "background": "Indication: XXXX-year-old with cough Comparison: None.",
        }
    ]


def test_mirrored_csv_through_the_cli(tmp_path: Path, capsys) -> None:
    source = tmp_path / "indiana_reports.csv"
    source.write_text(
        "uid,MeSH,Problems,image,indication,comparison,findings,impression\n"
        '1,normal,normal,Xray Chest PA and Lateral,"Positive TB test",None.,'
        '"The cardiac silhouette is normal.","Normal chest x-XXXX."\n'
        "2,x,x,x,,,Heart is enlarged.,\n"
        '3,x,x,x,,,"Effusion, right.",Right effusion.\n'
    )
    assert main(["prepare", "openi", "--input", str(source), "--out", str(tmp_path / "o")]) == 0
    assert "read 3, kept 2, dropped 1" in capsys.readouterr().out
    rows = read_jsonl(tmp_path / "o" / "train.jsonl")
    assert [r["study_id"] for r in rows] == ["CXR1", "CXR3"]
    assert rows[0]["background"] == "Indication: Positive TB test Comparison: None."
    assert rows[1]["background"] == ""
    # The output is valid input for the rest of the pipeline.
    assert main(["validate", "--purpose", "train", str(tmp_path / "o" / "train.jsonl")]) == 0


def _csv(path: Path, count: int) -> Path:
    rows = "".join(f'{i},x,x,x,,,"Finding {i}.","Impression {i}."\n' for i in range(1, count + 1))
    path.write_text("uid,MeSH,Problems,image,indication,comparison,findings,impression\n" + rows)
    return path


def test_empty_input_and_missing_paths_are_errors_and_nothing_is_written(tmp_path, capsys):
    empty_folder = tmp_path / "empty"
    empty_folder.mkdir()
    header_only = _csv(tmp_path / "header.csv", 0)
    no_kept = tmp_path / "nokept.csv"
    no_kept.write_text("uid,findings,impression\n1,Heart is enlarged.,\n")
    out = tmp_path / "o"
    for source, message in (
        (tmp_path / "missing", "no such file or folder"),
        (empty_folder, "no Open-i XML file (*.xml) in the folder"),
        (header_only, "holds no report"),
        (no_kept, "no report kept (read 1, dropped 1: no impression section 1)"),
    ):
        assert main(["prepare", "openi", "--input", str(source), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err == f"radimpress prepare: error: {message}, {source}\n"
        assert not out.exists(), source  # no folder, no prepare-summary.json


def test_an_error_while_writing_leaves_nothing(tmp_path, monkeypatch) -> None:
    from radimpress_training.prepare import output

    source = _csv(tmp_path / "r.csv", 3)
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return json.dumps(*args, **kwargs)

    monkeypatch.setattr(output.json, "dumps", broken)
    assert main(["prepare", "openi", "--input", str(source), "--out", str(out)]) == 2
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_dev_fraction_writes_a_seeded_train_dev_pair_by_study(tmp_path, capsys) -> None:
    source = _csv(tmp_path / "r.csv", 40)
    argv = ["prepare", "openi", "--input", str(source), "--dev-fraction", "0.25", "--seed", "3"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    printed = capsys.readouterr().out
    assert "train: 30 reports, 30 subjects" in printed and "dev: 10 reports" in printed
    train = {r["study_id"] for r in read_jsonl(tmp_path / "a" / "train.jsonl")}
    dev = {r["study_id"] for r in read_jsonl(tmp_path / "a" / "dev.jsonl")}
    assert len(train) == 30 and len(dev) == 10 and not train & dev
    assert train | dev == {f"CXR{i}" for i in range(1, 41)}
    # The same seed gives the same pair; another seed another one.
    assert main([*argv, "--out", str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "dev.jsonl").read_text() == (tmp_path / "a" / "dev.jsonl").read_text()
    assert main([*argv[:-1], "4", "--out", str(tmp_path / "c")]) == 0
    assert (tmp_path / "c" / "dev.jsonl").read_text() != (tmp_path / "a" / "dev.jsonl").read_text()
    summary = json.loads((tmp_path / "a" / "prepare-summary.json").read_text())
    assert summary["kept"] == {"dev": 10, "train": 30}
    assert summary["splits"]["dev"]["reports"] == 10
    assert summary["splits"]["train"]["impression_words_mean"] == 2.0
    assert summary["settings"] == {"dev_fraction": 0.25, "seed": 3}


def test_dev_fraction_out_of_range_is_an_error(tmp_path, capsys) -> None:
    source = _csv(tmp_path / "r.csv", 4)
    argv = ["prepare", "openi", "--input", str(source), "--out", str(tmp_path / "o")]
    assert main([*argv, "--dev-fraction", "1.5"]) == 2
    assert "--dev-fraction must be in [0, 1)" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
