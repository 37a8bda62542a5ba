"""Split a free-text radiology report into FINDINGS, IMPRESSION and the background before them.

Reports mark sections with upper-case headers at the start of a line (``FINDINGS:``,
``IMPRESSION:``, ``CONCLUSION:``, ``FINDINGS AND IMPRESSION:``; MIMIC-CXR writes them indented by
one space). Everything before the findings (the preamble and sections such as INDICATION or
COMPARISON) is the background, written as ``Indication: ... Comparison: ...`` like the Open-i
files. When a header repeats (an addendum), the last one wins, as in the MIT-LCP MIMIC-CXR
section parser. A report without both a findings and an impression section is dropped with a
reason; reasons never quote report text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

# A header: upper-case words (with spaces, slashes, '&', parentheses, hyphens) then a colon, at
# the start of a line. Requires white space or the end after the colon so "TIME:10" is text.
_HEADER = re.compile(r"(?m)^[ \t]*([A-Z][A-Z ()/&,-]*[A-Z)])[ \t]*:(?=\s|$)")

FINDINGS = "findings"
IMPRESSION = "impression"
COMBINED = "findings and impression"
_ALIASES = {
    "finding": FINDINGS,
    "findings": FINDINGS,
    "impression": IMPRESSION,
    "impressions": IMPRESSION,
    "conclusion": IMPRESSION,
    "conclusions": IMPRESSION,
    "findings and impression": COMBINED,
    "findings and impressions": COMBINED,
    "findings/impression": COMBINED,
    "findings / impression": COMBINED,
    "impression and findings": COMBINED,
}


class DropReason(StrEnum):
    """Why a report produced no training pair."""

    NO_FINDINGS = "no findings section"
    NO_IMPRESSION = "no impression section"
    EMPTY_FINDINGS = "empty findings section"
    EMPTY_IMPRESSION = "empty impression section"
    COMBINED_ONLY = "only a combined findings and impression section"


@dataclass(frozen=True)
class Sections:
    findings: str
    impression: str
    background: str


def squash(text: str) -> str:
    """Collapse every run of white space (line wraps of the report) to one space."""
    return " ".join(text.split())


def canonical_header(header: str) -> str:
    name = squash(header).lower()
    return _ALIASES.get(name, name)


def split_sections(text: str) -> list[tuple[str, str]]:
    """(canonical header, body) in order; the text before the first header has header ''."""
    parts: list[tuple[str, str]] = []
    matches = list(_HEADER.finditer(text))
    start = 0
    header = ""
    for match in matches:
        parts.append((header, text[start : match.start()]))
        header = canonical_header(match.group(1))
        start = match.end()
    parts.append((header, text[start:]))
    return [(h, squash(body)) for h, body in parts if h or squash(body)]


def _title(header: str) -> str:
    return header[:1].upper() + header[1:]


def parse_report(text: str) -> Sections | DropReason:
    """The three fields of one report, or why it has none to offer."""
    parts = split_sections(text)
    last: dict[str, tuple[int, str]] = {}
    for position, (header, body) in enumerate(parts):
        if header in (FINDINGS, IMPRESSION, COMBINED):
            last[header] = (position, body)
    if IMPRESSION not in last:
        return DropReason.COMBINED_ONLY if COMBINED in last else DropReason.NO_IMPRESSION
    findings_key = FINDINGS if FINDINGS in last else COMBINED if COMBINED in last else None
    if findings_key is None:
        return DropReason.NO_FINDINGS
    findings_at, findings = last[findings_key]
    impression = last[IMPRESSION][1]
    if not findings:
        return DropReason.EMPTY_FINDINGS
    if not impression:
        return DropReason.EMPTY_IMPRESSION
    background = []
    for header, body in parts[:findings_at]:
        if header in (FINDINGS, IMPRESSION, COMBINED) or not body:
            continue
        if not header and body.upper() == "FINAL REPORT":  # MIMIC-CXR's banner line
            continue
        background.append(f"{_title(header)}: {body}" if header else body)
    return Sections(findings=findings, impression=impression, background=" ".join(background))
