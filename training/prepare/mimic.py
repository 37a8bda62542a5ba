"""MIMIC-CXR reports zip + MEDIQA 2021 split CSV -> train/dev files in our input format.

``mimic-cxr-reports.zip`` holds ``files/p10/p10000032/s50414267.txt``: the study id comes from the
file name, the subject id from the folder. The split CSV (``study_id,subject_id,split``) decides
which studies are kept and in which file; MEDIQA's split has 91,544 train and 2,000 dev studies.
The zip is read entry by entry (never extracted), so memory holds one report and the split ids.
"""

from __future__ import annotations

import csv
import re
import zipfile
from pathlib import Path

from radimpress_training.prepare.output import PrepareSummary, SplitWriter
from radimpress_training.prepare.sections import DropReason, parse_report

_REPORT_PATH = re.compile(r"(?:^|/)files/p\d+/p(\d+)/s(\d+)\.txt$")
NOT_IN_SPLIT = "study not in the split file"
SUBJECT_MISMATCH = "subject id differs from the split file"
MISSING = "split study missing from the zip"
NOT_UTF8 = "report is not UTF-8 text"


def read_split(path: str | Path) -> dict[str, tuple[str, str]]:
    """study_id -> (subject_id, split) from the MEDIQA split CSV."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"study_id", "subject_id", "split"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: split file lacks column(s) {', '.join(sorted(missing))}")
        split: dict[str, tuple[str, str]] = {}
        for line, row in enumerate(reader, start=2):
            study = (row["study_id"] or "").strip().removeprefix("s")
            if not study:
                raise ValueError(f"{path}: line {line}: empty study_id")
            subject = (row["subject_id"] or "").strip().removeprefix("p")
            split[study] = (subject, (row["split"] or "").strip())
    return split


def prepare_mimic(
    reports_zip: str | Path, split_csv: str | Path, out_dir: str | Path
) -> PrepareSummary:
    """Write ``<out>/<split>.jsonl`` for every split named in the CSV; returns the counts."""
    split = read_split(split_csv)
    summary = PrepareSummary(source=str(reports_zip))
    seen: set[str] = set()
    with zipfile.ZipFile(reports_zip) as archive, SplitWriter(out_dir, summary) as writer:
        for entry in archive.infolist():
            match = _REPORT_PATH.search(entry.filename)
            if entry.is_dir() or not match:
                continue
            subject, study = match.groups()
            summary.read += 1
            if study not in split:
                summary.dropped[NOT_IN_SPLIT] += 1
                continue
            seen.add(study)
            split_subject, split_name = split[study]
            if split_subject and split_subject != subject:
                summary.dropped[SUBJECT_MISMATCH] += 1
                continue
            try:
                text = archive.read(entry).decode("utf-8")
            except UnicodeDecodeError:
                summary.dropped[NOT_UTF8] += 1
                continue
            sections = parse_report(text)
            if isinstance(sections, DropReason):
                summary.dropped[sections.value] += 1
                continue
            writer.write(split_name, study, sections, subject_id=subject)
        absent = len(split) - len(seen)
        if absent:
            summary.dropped[MISSING] += absent
    return summary
