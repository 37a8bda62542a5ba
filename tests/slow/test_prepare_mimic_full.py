"""`prepare mimic` over every study of the real MEDIQA split (93,544 synthetic one-line reports)."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import pytest

from radimpress_training.prepare.mimic import prepare_mimic


@pytest.mark.shared_data
def test_full_split_through_a_zip_of_every_split_study(shared_data: Path, tmp_path: Path) -> None:
    """All 93,544 split studies (synthetic one-line reports) + 1 outside: 91,544 / 2,000 out."""
    split = shared_data / "mediqa_mimic_split_train_dev.csv"
    reports = tmp_path / "mimic-cxr-reports.zip"
    body = " FINDINGS: Lungs clear.\n IMPRESSION: Normal.\n"
    with split.open(newline="") as handle, zipfile.ZipFile(reports, "w") as archive:
        for row in csv.DictReader(handle):
            subject = row["subject_id"]
            archive.writestr(f"files/p{subject[:2]}/p{subject}/s{row['study_id']}.txt", body)
        archive.writestr("files/p10/p10000000/s1.txt", body)
    summary = prepare_mimic(reports, split, tmp_path / "out").to_dict()
    assert summary["kept"] == {"train": 91_544, "dev": 2_000}
    assert summary["dropped"] == {"study not in the split file": 1}
    with (tmp_path / "out" / "dev.jsonl").open() as handle:
        assert sum(1 for _ in handle) == 2_000
