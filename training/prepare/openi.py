"""Open-i / Indiana University chest X-ray reports -> our input format.

Two public shapes are read: the original folder of XML files (``ecgen-radiology/*.xml``, one
report each: ``<uId id="CXR1"/>`` and ``<AbstractText Label="FINDINGS">``-style sections) and the
widely mirrored CSV (``indiana_reports.csv``: ``uid, findings, impression, indication,
comparison``, where uid 1 is study CXR1). Background is ``Indication: ... Comparison: ...``, as
in the MEDIQA files. Reports without both findings and impression are dropped and counted.
Open-i has no official split: all reports go to one split (``--split``, default ``train``), or,
with ``dev_fraction``, a seeded share of the studies goes to ``dev`` (by study id, so the same
seed and source give the same pair, and a study is never in both). A missing source, a folder
without XML files, an empty CSV or a source of which no report is kept is an error
(:class:`PrepareError`) and nothing is written.
"""

from __future__ import annotations

import csv
import random
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from radimpress_training.prepare.output import PrepareError, PrepareSummary, SplitWriter
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
            raise PrepareError(f"the CSV lacks column(s) {', '.join(sorted(missing))}", path)
        for row in reader:
            summary.read += 1
            fields = {key: row.get(name) or "" for key, name in columns.items()}
            if not fields["uid"].strip():
                summary.dropped[NO_ID] += 1
                continue
            yield _study_id(fields["uid"]), fields


DEV_SPLIT = "dev"


def dev_studies(studies: list[str], fraction: float, seed: int) -> set[str]:
    """The studies of the dev split: ``round(n * fraction)`` of them, drawn with ``seed``."""
    unique = sorted(set(studies))
    count = round(len(unique) * fraction)
    if fraction > 0 and len(unique) >= 2:
        count = min(max(count, 1), len(unique) - 1)  # both splits hold something
    return set(random.Random(seed).sample(unique, count))


def prepare_openi(
    source: str | Path,
    out_dir: str | Path,
    split: str = "train",
    dev_fraction: float = 0.0,
    seed: int = 0,
) -> PrepareSummary:
    """Read an XML folder or the mirrored CSV and write ``<out>/<split>.jsonl`` (and, with
    ``dev_fraction``, ``<out>/dev.jsonl``); returns the counts."""
    source = Path(source)
    if not 0.0 <= dev_fraction < 1.0:
        raise PrepareError(f"--dev-fraction must be in [0, 1), not {dev_fraction}", source)
    if dev_fraction and split == DEV_SPLIT:
        raise PrepareError(f"--split {DEV_SPLIT} is the dev split's name; pick another", source)
    summary = PrepareSummary(source=str(source))
    if dev_fraction:
        summary.settings = {"dev_fraction": dev_fraction, "seed": seed}
    if not source.exists():
        raise PrepareError("no such file or folder", source)
    if source.is_dir():
        if not any(source.glob("*.xml")):
            raise PrepareError("no Open-i XML file (*.xml) in the folder", source)
        reports = _xml_reports(source, summary)
    elif source.suffix.lower() == ".csv":
        reports = _csv_reports(source, summary)
    else:
        raise PrepareError("expected a folder of Open-i XML files or the reports CSV", source)
    kept: list[tuple[str, Sections]] = []
    for study, fields in reports:
        sections = _sections(fields)
        if isinstance(sections, DropReason):
            summary.dropped[sections.value] += 1
            continue
        kept.append((study, sections))
    if summary.read == 0:
        raise PrepareError("holds no report", source)
    dev = dev_studies([s for s, _ in kept], dev_fraction, seed) if dev_fraction else set()
    with SplitWriter(out_dir, summary) as writer:
        for study, sections in kept:
            writer.write(DEV_SPLIT if study in dev else split, study, sections)
    return summary
