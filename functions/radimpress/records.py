"""The input contract: radiology report files as hospitals send them.

A file is either a JSON array of report objects or JSON Lines of the same objects (the MEDIQA 2021
field names: ``study_id``, ``subject_id``, ``findings``, ``impression``, ``background``). It is read
as a stream, so a file of any size costs memory for one record (plus the set of ids seen) at a time.

Every record comes out either as a :class:`Report` or as a :class:`Rejection` that names its
position, its id and the field at fault. Reasons never quote the report text: findings and
impressions are patient data, and rejections end up in logs and execution history.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

CHUNK_CHARS = 1 << 20
MAX_ID_CHARS = 128
MAX_TEXT_CHARS = 20_000


class Purpose(StrEnum):
    """What a file is for: training needs reference impressions, inference does not."""

    TRAIN = "train"
    INFER = "infer"


class UnreadableFile(ValueError):
    """The file as a whole cannot be read: empty, not JSON, or not UTF-8."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


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
        where = f"{source}: " if source else ""
        ident = f" (study_id={self.study_id})" if self.study_id is not None else ""
        what = f" field '{self.field}':" if self.field else ""
        return f"{where}record {self.position}{ident}:{what} {self.reason}"


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
# Streaming JSON: arrays and JSON Lines
# --------------------------------------------------------------------------------------------


class _TextStream:
    """UTF-8 text read in chunks from a binary stream, with a sliding buffer."""

    def __init__(self, binary: IO[bytes], source: str) -> None:
        self._binary = binary
        self._source = source
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.buffer = ""
        self.pos = 0
        self.eof = False
        self.consumed_chars = 0

    def fill(self) -> bool:
        """Append the next chunk to the buffer; False at end of file."""
        if self.eof:
            return False
        raw = self._binary.read(CHUNK_CHARS)
        try:
            text = self._decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as err:
            offset = self.consumed_chars + len(self.buffer)
            raise UnreadableFile(
                self._source, f"not UTF-8 text (invalid byte near character {offset})"
            ) from err
        if not raw:
            self.eof = True
        if self.pos > CHUNK_CHARS:
            self.consumed_chars += self.pos
            self.buffer = self.buffer[self.pos :]
            self.pos = 0
        self.buffer += text
        return bool(raw) or bool(text)

    def skip_whitespace(self) -> str:
        """Move past white space; return the next character or '' at end of file."""
        while True:
            while self.pos < len(self.buffer) and self.buffer[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.buffer):
                return self.buffer[self.pos]
            if not self.fill():
                return ""

    def offset(self) -> int:
        return self.consumed_chars + self.pos


_DECODER = json.JSONDecoder()


def _iter_json_array(stream: _TextStream, source: str) -> Iterator[Any]:
    """Yield each element of a top-level JSON array without holding the array in memory."""
    stream.pos += 1  # the opening '['
    expect_value = True
    first = True
    while True:
        char = stream.skip_whitespace()
        if char == "":
            raise UnreadableFile(source, "not valid JSON: the array is not closed")
        if char == "]" and (first or not expect_value):
            stream.pos += 1
            if stream.skip_whitespace() != "":
                raise UnreadableFile(
                    source, f"not valid JSON: data after the array at character {stream.offset()}"
                )
            return
        if not expect_value:
            if char != ",":
                raise UnreadableFile(
                    source, f"not valid JSON: expected ',' or ']' at character {stream.offset()}"
                )
            stream.pos += 1
            expect_value = True
            continue
        while True:
            try:
                value, end = _DECODER.raw_decode(stream.buffer, stream.pos)
            except json.JSONDecodeError as err:
                # An element cut by the chunk boundary: read more and try again.
                if not stream.eof and stream.fill():
                    continue
                raise UnreadableFile(
                    source, f"not valid JSON at character {stream.consumed_chars + err.pos}"
                ) from None
            except ValueError:
                # Python refuses integers of more than 4,300 digits (int_max_str_digits).
                raise UnreadableFile(
                    source, f"a number too long to read after character {stream.offset()}"
                ) from None
            # A number at the very end of the buffer may continue in the next chunk.
            if end == len(stream.buffer) and not stream.eof and stream.fill():
                continue
            break
        stream.pos = end
        first = False
        expect_value = False
        yield value


_NOT_JSON = object()


def _iter_json_lines(stream: _TextStream) -> Iterator[tuple[int, Any]]:
    """Yield (line number, parsed value or _NOT_JSON) for every non-blank line."""
    line_number = 0
    while True:
        newline = stream.buffer.find("\n", stream.pos)
        while newline < 0 and stream.fill():
            newline = stream.buffer.find("\n", stream.pos)
        if newline < 0:
            line = stream.buffer[stream.pos :]
            stream.pos = len(stream.buffer)
        else:
            line = stream.buffer[stream.pos : newline]
            stream.pos = newline + 1
        line_number += 1
        if line.strip():
            try:
                value = json.loads(line)
            except ValueError:  # invalid JSON, or an integer too long for Python to read
                value = _NOT_JSON
            yield line_number, value
        if newline < 0:
            return


def iter_raw_records(binary: IO[bytes], source: str) -> Iterator[tuple[int, Any, str]]:
    """Yield (position, raw value, format) for each record of a JSON array or JSON Lines file.

    The position is the 1-based element index in an array and the line number in JSON Lines.
    A JSON Lines line that is not JSON is yielded as ``_NOT_JSON`` so it becomes a rejection;
    a file in which no line at all is JSON is unreadable.
    """
    stream = _TextStream(binary, source)
    first = stream.skip_whitespace()
    if first == "":
        raise UnreadableFile(source, "empty file")
    if first == "[":
        for index, value in enumerate(_iter_json_array(stream, source), start=1):
            yield index, value, "json"
        return
    if first != "{":
        raise UnreadableFile(source, "not JSON: expected a JSON array or JSON Lines of objects")
    any_json = False
    for line_number, value in _iter_json_lines(stream):
        if value is _NOT_JSON and not any_json:
            raise UnreadableFile(source, f"not valid JSON on line {line_number}")
        any_json = True
        yield line_number, value, "jsonl"


# --------------------------------------------------------------------------------------------
# Record validation
# --------------------------------------------------------------------------------------------


def _identifier(value: Any) -> str | None:
    """Ids may be strings or integers (MIMIC uses integers); anything else is not an id."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _check_text(record: dict[str, Any], name: str, required: bool) -> tuple[str | None, str | None]:
    """Return (text, problem) for one text field."""
    value = record.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, ("is required and missing or empty" if required else None)
    if not isinstance(value, str):
        return None, f"must be a string, got {type(value).__name__}"
    if len(value) > MAX_TEXT_CHARS:
        return None, f"is longer than {MAX_TEXT_CHARS} characters ({len(value)})"
    return value, None


def validate_record(
    position: int, value: Any, purpose: Purpose, seen_ids: dict[str, int]
) -> Report | Rejection:
    """Check one parsed record against the contract; ``seen_ids`` maps id -> first position."""
    if not isinstance(value, dict):
        kind = "invalid JSON" if value is _NOT_JSON else f"a JSON {type(value).__name__}"
        return Rejection(position, f"record is {kind}, not a JSON object")
    raw_id = value.get("study_id")
    study_id = _identifier(raw_id)
    if study_id is None:
        problem = (
            "is required and missing or empty"
            if raw_id in (None, "")
            else "must be a string or integer"
        )
        return Rejection(position, problem, field="study_id")
    if len(study_id) > MAX_ID_CHARS or any(ord(c) < 32 for c in study_id):
        return Rejection(
            position,
            f"must be at most {MAX_ID_CHARS} printable characters",
            field="study_id",
        )
    if study_id in seen_ids:
        return Rejection(
            position,
            f"duplicate study_id (first seen at record {seen_ids[study_id]})",
            study_id=study_id,
            field="study_id",
        )
    subject_raw = value.get("subject_id")
    subject_id = _identifier(subject_raw)
    if subject_raw not in (None, "") and subject_id is None:
        return Rejection(position, "must be a string or integer", study_id, "subject_id")
    texts: dict[str, str | None] = {}
    for name, required in (
        ("findings", True),
        ("impression", purpose is Purpose.TRAIN),
        ("background", False),
    ):
        text, problem = _check_text(value, name, required)
        if problem:
            return Rejection(position, problem, study_id=study_id, field=name)
        texts[name] = text
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
    seen_ids: dict[str, int] = {}
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


def validate_file(path: str | Path, purpose: Purpose) -> ValidationSummary:
    """Read a whole file and summarise it (records read, accepted, rejections)."""
    summary = ValidationSummary(source=str(path))
    try:
        with open(path, "rb") as handle:
            for _ in read_reports(handle, purpose, str(path), summary):
                pass
    except OSError as err:
        raise UnreadableFile(str(path), f"cannot open ({err.strerror})") from None
    return summary


def split_outcomes(outcomes: Iterable[Report | Rejection]) -> tuple[list[Report], list[Rejection]]:
    """Separate an outcome stream into accepted reports and rejections (for small files)."""
    reports: list[Report] = []
    rejections: list[Rejection] = []
    for outcome in outcomes:
        (reports if isinstance(outcome, Report) else rejections).append(outcome)
    return reports, rejections


def load_reports(path: str | Path, purpose: Purpose) -> tuple[list[Report], list[Rejection]]:
    """Read a file into memory: for the CLI and local models, never for the Lambdas."""
    with open(path, "rb") as handle:
        return split_outcomes(read_reports(handle, purpose, str(path)))
