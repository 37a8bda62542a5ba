"""`radimpress prepare mimic` on a small synthetic reports zip built here."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import pytest

from radimpress_training.prepare.mimic import prepare_mimic, read_split
from radimpress_workstation.cli import main

REPORT = " FINAL REPORT\n INDICATION: ___ with fever.\n\n FINDINGS:\n {f}\n\n IMPRESSION:\n {i}\n"


def build(tmp_path: Path) -> tuple[Path, Path]:
    reports = tmp_path / "mimic-cxr-reports.zip"
    with zipfile.ZipFile(reports, "w") as archive:
        archive.writestr("files/p10/p10000032/", "")
        archive.writestr(
            "files/p10/p10000032/s50000001.txt", REPORT.format(f="Clear.", i="Normal.")
        )
        archive.writestr("files/p10/p10000032/s50000002.txt", REPORT.format(f="Edema.", i="CHF."))
        archive.writestr("files/p11/p11000001/s50000003.txt", " FINDINGS: Clear.\n")  # no impr.
        archive.writestr("files/p11/p11000001/s50000004.txt", REPORT.format(f="x", i="y"))
        archive.writestr("files/p12/p12000002/s50000005.txt", REPORT.format(f="Ok.", i="Ok."))
        archive.writestr("files/p12/p12000002/s50000006.txt", b"\xff\xfe bad")
        archive.writestr("cxr-study-list.csv.gz", b"not a report")
    split = tmp_path / "split.csv"
    with split.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["study_id", "subject_id", "split"])
        writer.writerow(["50000001", "10000032", "train"])
        writer.writerow(["50000002", "10000032", "dev"])
        writer.writerow(["50000003", "11000001", "train"])
        writer.writerow(["50000005", "99999999", "train"])  # subject differs from the folder
        writer.writerow(["50000006", "12000002", "train"])
        writer.writerow(["59999999", "10000032", "dev"])  # not in the zip
    return reports, split


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_prepare_mimic_writes_splits_and_counts(tmp_path: Path) -> None:
    reports, split = build(tmp_path)
    summary = prepare_mimic(reports, split, tmp_path / "out").to_dict()
    assert summary["read"] == 6
    assert summary["kept"] == {"dev": 1, "train": 1}
    assert summary["dropped"] == {
        "no impression section": 1,
        "report is not UTF-8 text": 1,
        "split study missing from the zip": 1,
        "study not in the split file": 1,
        "subject id differs from the split file": 1,
    }
    train = read_jsonl(tmp_path / "out" / "train.jsonl")
    assert train == [
        {
            "study_id": "50000001",
            "subject_id": "10000032",
            "findings": "Clear.",
            "impression": "Normal.",
            "background": "Indication: ___ with fever.",
        }
    ]
    assert read_jsonl(tmp_path / "out" / "dev.jsonl")[0]["impression"] == "CHF."
    saved = json.loads((tmp_path / "out" / "prepare-summary.json").read_text())
    assert saved == summary


def test_cli_prints_counts_and_rejects_a_bad_split(tmp_path: Path, capsys) -> None:
    reports, split = build(tmp_path)
    assert (
        main(
            [
                "prepare",
                "mimic",
                "--reports",
                str(reports),
                "--split",
                str(split),
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "read 6, kept 2, dropped 5" in out
    assert "Edema" not in out
    bad = tmp_path / "bad.csv"
    bad.write_text("study,split\n1,train\n")
    assert (
        main(
            [
                "prepare",
                "mimic",
                "--reports",
                str(reports),
                "--split",
                str(bad),
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "lacks column(s) study_id, subject_id" in capsys.readouterr().err


@pytest.mark.shared_data
def test_real_mediqa_split_counts(shared_data: Path) -> None:
    split = read_split(shared_data / "mediqa_mimic_split_train_dev.csv")
    counts: dict[str, int] = {}
    for _, name in split.values():
        counts[name] = counts.get(name, 0) + 1
    assert counts == {"train": 91_544, "dev": 2_000}
