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
