"""Open-i / Indiana University chest X-ray reports -> our input format.

Two public shapes are read: the original folder of XML files (``ecgen-radiology/*.xml``, one
report each: ``<uId id="CXR1"/>`` and ``<AbstractText Label="FINDINGS">``-style sections) and the
widely mirrored CSV (``indiana_reports.csv``: ``uid, findings, impression, indication,
comparison``, where uid 1 is study CXR1). Background is ``Indication: ... Comparison: ...``, as
in the MEDIQA files. Reports without both findings and impression are dropped and counted.
All reports go to one split (``--split``, default ``train``): Open-i has no official split.
"""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from radimpress_training.prepare.output import PrepareSummary, SplitWriter
from radimpress_training.prepare.sections import DropReason, Sections, squash

NOT_XML = "file is not well-formed XML"
NO_ID = "no study id"


def _study_id(uid: str) -> str:
    uid = uid.strip()
    return f"CXR{uid}" if uid.isdigit() else uid


def _sections(fields: dict[str, str]) -> Sections | DropReason:
    findings = squash(fields.get("findings") or "")
    impression = squash(fields.get("impression") or "")
    if not findings:
        return DropReason.NO_FINDINGS
    if not impression:
        return DropReason.NO_IMPRESSION
    background = [
        f"{label}: {value}"
        for label, value in (
            ("Indication", squash(fields.get("indication") or "")),
            ("Comparison", squash(fields.get("comparison") or "")),
        )
        if value
    ]
    return Sections(findings=findings, impression=impression, background=" ".join(background))


def _xml_reports(folder: Path, summary: PrepareSummary) -> Iterator[tuple[str, dict[str, str]]]:
    for path in sorted(folder.glob("*.xml")):
        summary.read += 1
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError:
            summary.dropped[NOT_XML] += 1
            continue
        uid = root.find(".//uId")
        study = uid.get("id", "") if uid is not None else ""
        if not study:
            summary.dropped[NO_ID] += 1
            continue
        fields = {
            (node.get("Label") or "").lower(): "".join(node.itertext())
            for node in root.iter("AbstractText")
        }
        yield _study_id(study), fields


def _csv_reports(path: Path, summary: PrepareSummary) -> Iterator[tuple[str, dict[str, str]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = {name.strip().lower(): name for name in reader.fieldnames or ()}
        missing = {"uid", "findings", "impression"} - set(columns)
        if missing:
            raise ValueError(f"{path}: CSV lacks column(s) {', '.join(sorted(missing))}")
        for row in reader:
            summary.read += 1
            fields = {key: row.get(name) or "" for key, name in columns.items()}
            if not fields["uid"].strip():
                summary.dropped[NO_ID] += 1
                continue
            yield _study_id(fields["uid"]), fields


def prepare_openi(source: str | Path, out_dir: str | Path, split: str = "train") -> PrepareSummary:
    """Read an XML folder or the mirrored CSV and write ``<out>/<split>.jsonl``."""
    source = Path(source)
    summary = PrepareSummary(source=str(source))
    if source.is_dir():
        reports = _xml_reports(source, summary)
    elif source.suffix.lower() == ".csv":
        reports = _csv_reports(source, summary)
    else:
        raise ValueError(f"{source}: expected a folder of Open-i XML files or the reports CSV")
    with SplitWriter(out_dir, summary) as writer:
        for study, fields in reports:
            sections = _sections(fields)
            if isinstance(sections, DropReason):
                summary.dropped[sections.value] += 1
                continue
            writer.write(split, study, sections)
    return summary
