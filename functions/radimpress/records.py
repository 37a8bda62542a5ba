"""The input contract: radiology report files as hospitals send them.

A file is either a JSON array of report objects or JSON Lines of the same objects (the MEDIQA 2021
field names: ``study_id``, ``subject_id``, ``findings``, ``impression``, ``background``). It is read
as a stream, so a file of any size costs memory for one record at a time, plus a digest and a
position per id seen (:mod:`radimpress.seen_ids`).
The reading itself (streaming, hostile input) is :mod:`radimpress.json_records`; this module
checks each record it yields.

Every record comes out either as a :class:`Report` or as a :class:`Rejection` that names its
position, its id and the field at fault. Reasons never quote the report text: findings and
impressions are patient data, and rejections end up in logs and execution history. What a sender
chose and a rejection names (the id, the source) is escaped by :func:`printable`.

A study id is kept and compared in one form (:func:`normalize_id`): an integer is its digits; a
string loses zero-width characters and surrounding white space, other spaces read as U+0020 and
it is put in Unicode NFC. Ids that look the same are then one study (a repeat is a duplicate); an
id with nothing visible left, or with a control, line-separator or bidi-control character, is
rejected without being echoed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from radimpress.json_records import (
    _NOT_JSON,
    NoRecords,
    UnreadableFile,
    _DuplicateKeys,
    _Hostile,
    iter_raw_records,
    printable,
)
from radimpress.seen_ids import SeenIds

__all__ = ["NoRecords", "UnreadableFile", "normalize_id", "printable"]

MAX_ID_CHARS = 128
MAX_TEXT_CHARS = 20_000


class Purpose(StrEnum):
    """What a file is for: training needs reference impressions, inference does not."""

    TRAIN = "train"
    INFER = "infer"


@dataclass(frozen=True)
class Report:
    """One valid report. ``impression`` is None for inference files that carry no reference."""

    study_id: str
    findings: str
    impression: str | None = None
    background: str = ""
    subject_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Every field that is set, in field order (one records.jsonl line). Built directly:
        dataclasses.asdict's deep copies were a third of the ingest Lambda's time."""
        return {name: v for name in _REPORT_FIELDS if (v := getattr(self, name)) is not None}


_REPORT_FIELDS = tuple(f.name for f in fields(Report))
_CONTRACT_FIELDS = frozenset(_REPORT_FIELDS)


@dataclass(frozen=True)
class Rejection:
    """A record set aside, with a reason naming where it is and what is wrong (never the text)."""

    position: int
    reason: str
    study_id: str | None = None
    field: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self, source: str = "") -> str:
        """One line naming the record; what a sender chose (source, id, field) is escaped."""
        where = f"{printable(source)}: " if source else ""
        ident = f" (study_id={printable(self.study_id)})" if self.study_id is not None else ""
        what = f" field '{printable(self.field)}':" if self.field else ""
        return f"{where}record {self.position}{ident}:{what} {printable(self.reason)}"


@dataclass
class ValidationSummary:
    """Counts and rejections of one file, in a form the CLI and the ingest Lambda both print."""

    source: str
    file_format: str = ""
    records_read: int = 0
    accepted: int = 0
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len(self.rejections)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.file_format,
            "records_read": self.records_read,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "rejections": [r.to_dict() for r in self.rejections],
        }


# --------------------------------------------------------------------------------------------
# Record validation
# --------------------------------------------------------------------------------------------


# Invisible characters an id may carry by accident (copied from a web page or a spreadsheet):
# dropped, so that "AB" and "A<U+200B>B" are one study.
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
# Spaces other than U+0020 inside an id (no-break, thin, ideographic, ...) read as a space.
_SPACES = dict.fromkeys(
    map(ord, "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
        "\u200a\u202f\u205f\u3000"),
    " ",
)  # fmt: skip
# What an id may not hold at all: controls, line and paragraph separators, bidi controls (they
# change how the id and the text around it are shown, so two ids that look alike would differ).
_NOT_IN_ID = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def normalize_id(value: str) -> str:
    """The id a string stands for: zero-width characters dropped, Unicode NFC, other spaces as
    U+0020, surrounding white space stripped. Ids that look the same are then equal."""
    if value.isascii():
        return value.strip()
    text = unicodedata.normalize("NFC", value.translate(_ZERO_WIDTH))
    return text.translate(_SPACES).strip()


def _identifier(value: Any) -> str | None:
    """Ids may be strings or integers (MIMIC uses integers); anything else is not an id.

    An integer is its decimal digits, so 1, "1" and " 1 " are one study; a string is
    :func:`normalize_id` of it, or "" when nothing visible is left.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return normalize_id(value)
    return None


# A \\ud800-\\udfff escape without its pair: valid JSON, but no UTF-8 text can hold it.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_PROBLEM = "holds a lone surrogate escape (\\ud800-\\udfff without its pair), not text"


def _has_lone_surrogate(text: str) -> bool:
    """isascii() is a flag test in CPython, so ASCII text (most reports) costs no regex."""
    return not text.isascii() and _LONE_SURROGATE.search(text) is not None


def _check_text(record: dict[str, Any], name: str, required: bool) -> tuple[str | None, str | None]:
    """Return (text, problem) for one text field."""
    value = record.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, ("is required and missing or empty" if required else None)
    if not isinstance(value, str):
        return None, f"must be a string, got {type(value).__name__}"
    if len(value) > MAX_TEXT_CHARS:
        return None, f"is longer than {MAX_TEXT_CHARS} characters ({len(value)})"
    if _has_lone_surrogate(value):
        return None, _SURROGATE_PROBLEM
    return value, None


def _named(field: str | None) -> str | None:
    """Name a field only if the contract knows it: a sender's own field names may be text."""
    return field if field in _CONTRACT_FIELDS else None


def _unsafe_record(position: int, value: Any) -> Rejection | None:
    """A record that is JSON but cannot be taken as it is: unreadable, or a field named twice."""
    if isinstance(value, _Hostile):
        return Rejection(position, value.reason, field=_named(value.field))
    if isinstance(value, _DuplicateKeys):
        known = [k for k in value.duplicates if k in _CONTRACT_FIELDS]
        if known:
            return Rejection(position, "names this field more than once", field=known[0])
        return Rejection(position, "names a field outside the contract more than once")
    return None


def _study_id(raw_id: Any) -> tuple[str, str | None]:
    """(the normalized id, None) or ("", why ``raw_id`` is not a usable study id)."""
    if raw_id is None or raw_id == "":
        return "", "is required and missing or empty"
    study_id = _identifier(raw_id)
    if study_id is None:
        return "", "must be a string or integer"
    if not study_id:
        return "", "is empty once white space and zero-width characters are removed"
    if study_id.isascii() and study_id.isprintable() and len(study_id) <= MAX_ID_CHARS:
        return study_id, None  # most ids: nothing more to check
    if _has_lone_surrogate(study_id):
        return "", _SURROGATE_PROBLEM
    if len(study_id) > MAX_ID_CHARS or _NOT_IN_ID.search(study_id) is not None:
        return "", (
            f"must be at most {MAX_ID_CHARS} printable characters "
            "(no control, line-separator or bidi-control character)"
        )
    return study_id, None


def validate_record(
    position: int, value: Any, purpose: Purpose, seen_ids: SeenIds | dict[str, int]
) -> Report | Rejection:
    """Check one parsed record against the contract; ``seen_ids`` maps id -> first position."""
    if (unsafe := _unsafe_record(position, value)) is not None:
        return unsafe
    if not isinstance(value, dict):
        kind = "invalid JSON" if value is _NOT_JSON else f"a JSON {type(value).__name__}"
        return Rejection(position, f"record is {kind}, not a JSON object")
    study_id, problem = _study_id(value.get("study_id"))
    if problem is not None:
        return Rejection(position, problem, field="study_id")
    if study_id in seen_ids:
        return Rejection(
            position,
            f"duplicate study_id (first seen at record {seen_ids[study_id]})",
            study_id=study_id,
            field="study_id",
        )
    subject_raw = value.get("subject_id")
    subject_id = _identifier(subject_raw) if subject_raw not in (None, "") else None
    if subject_raw not in (None, "") and not subject_id:
        problem = (
            "must be a string or integer"
            if subject_id is None
            else "is empty once white space and zero-width characters are removed"
        )
        return Rejection(position, problem, study_id, "subject_id")
    if subject_id is not None and _has_lone_surrogate(subject_id):
        return Rejection(position, _SURROGATE_PROBLEM, study_id, "subject_id")
    texts: dict[str, str | None] = {}
    for name, required in (
        ("findings", True),
        ("impression", purpose is Purpose.TRAIN),
        ("background", False),
    ):
        checked, text_problem = _check_text(value, name, required)
        if text_problem:
            return Rejection(position, text_problem, study_id=study_id, field=name)
        texts[name] = checked
    seen_ids[study_id] = position
    return Report(
        study_id=study_id,
        findings=texts["findings"] or "",
        impression=texts["impression"],
        background=texts["background"] or "",
        subject_id=subject_id,
    )


def read_reports(
    binary: IO[bytes], purpose: Purpose, source: str, summary: ValidationSummary | None = None
) -> Iterator[Report | Rejection]:
    """Stream a report file, yielding each record as a Report or a Rejection.

    Raises :class:`UnreadableFile` (naming ``source``) when the file as a whole is not readable.
    When ``summary`` is given it is kept up to date as records go by.
    """
    seen_ids = SeenIds()
    for position, value, file_format in iter_raw_records(binary, source):
        outcome = validate_record(position, value, purpose, seen_ids)
        if summary is not None:
            summary.file_format = file_format
            summary.records_read += 1
            if isinstance(outcome, Report):
                summary.accepted += 1
            else:
                summary.rejections.append(outcome)
        yield outcome


def validate_file(
    path: str | Path, purpose: Purpose, each: Callable[[Report], None] | None = None
) -> ValidationSummary:
    """Read a whole file and summarise it (records read, accepted, rejections); ``each`` is
    given every accepted report on the way (a caller with more to learn reads the file once)."""
    summary = ValidationSummary(source=str(path))
    try:
        with open(path, "rb") as handle:
            for outcome in read_reports(handle, purpose, str(path), summary):
                if each is not None and isinstance(outcome, Report):
                    each(outcome)
    except OSError as err:
        raise UnreadableFile(str(path), f"cannot open ({err.strerror})") from None
    return summary
