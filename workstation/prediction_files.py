"""Predictions and references files: ``study_id`` -> impression, read like the pipeline's input.

Both files are in the input format (JSON array or JSON Lines, validated by radimpress.records).
Only ``study_id`` and ``impression`` matter, so a predictions file of just those two fields is
valid: findings are neither needed nor checked. An empty predicted impression is a real (bad)
model output and is kept to be scored; an empty reference cannot be scored and is rejected.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from radimpress.records import (
    Purpose,
    Rejection,
    Report,
    UnreadableFile,
    iter_raw_records,
    validate_record,
)

# Stands in for findings while validating: scoring never reads findings, and this value never
# leaves the validation call (rejection reasons never quote text).
_NOT_USED = "(findings are not used for scoring)"
_EMPTY_PREDICTION = "(empty prediction)"


@dataclass
class ImpressionFile:
    """The impressions of one file by study_id, in file order, with what was set aside."""

    source: str
    records_read: int = 0
    impressions: dict[str, str] = field(default_factory=dict)
    rejections: list[Rejection] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "records_read": self.records_read,
            "accepted": len(self.impressions),
            "rejected": len(self.rejections),
            "rejections": [r.to_dict() for r in self.rejections],
        }


def _outcomes(binary: IO[bytes], source: str, empty_allowed: bool) -> Iterator[Report | Rejection]:
    """Validate each record as a TRAIN record (impression required) whose findings are ignored."""
    seen: dict[str, int] = {}
    for position, value, _format in iter_raw_records(binary, source):
        empty = False
        if isinstance(value, dict):
            value = {**value, "findings": _NOT_USED}
            impression = value.get("impression")
            if empty_allowed and isinstance(impression, str) and not impression.strip():
                empty = True
                value["impression"] = _EMPTY_PREDICTION
        outcome = validate_record(position, value, Purpose.TRAIN, seen)
        if empty and isinstance(outcome, Report):
            outcome = Report(outcome.study_id, outcome.findings, "")
        yield outcome


def read_impressions(path: str, empty_allowed: bool = False) -> ImpressionFile:
    """Read ``study_id`` -> ``impression`` from a report file; raises UnreadableFile."""
    result = ImpressionFile(source=path)
    try:
        with open(path, "rb") as handle:
            for outcome in _outcomes(handle, path, empty_allowed):
                result.records_read += 1
                if isinstance(outcome, Report):
                    result.impressions[outcome.study_id] = outcome.impression or ""
                else:
                    result.rejections.append(outcome)
    except OSError as err:
        raise UnreadableFile(path, f"cannot open ({err.strerror})") from None
    return result
