"""Predictions and references files: ``study_id`` -> text, read like the pipeline's input.

One prediction format across ``run``, ``evaluate`` and ``score``: a record names its text in
``generated`` (what the pipeline's impressions.jsonl / scores.jsonl and evaluate's
predictions.jsonl write) or ``impression`` (a hand-made file), and optionally its ``model``. A file
that mixes models (a local run's impressions.jsonl) is read one model at a time: ``model`` picks
the rows whose label, model name or role is that name, and a file of several models read without
one is refused (:class:`UnreadableFile`, exit 2 in the CLI) rather than scored as one model.

Records are validated by radimpress.records (JSON array or JSON Lines; ids, duplicates, text
limits); findings are neither needed nor checked. An empty predicted text is a real (bad) model
output and is kept to be scored; an empty reference cannot be scored and is rejected. Rejections
name the record's position and field, never its text.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from radimpress.records import (
    Purpose,
    Rejection,
    Report,
    UnreadableFile,
    iter_raw_records,
    validate_record,
)

REFERENCE_FIELDS = ("impression",)
PREDICTION_FIELDS = ("generated", "impression")
# Stands in for findings while validating: scoring never reads findings, and this value never
# leaves the validation call (rejection reasons never quote text).
_NOT_USED = "(findings are not used for scoring)"
_EMPTY_TEXT = "(empty text)"
_LABEL = re.compile(r"^(?P<role>.+?) \((?P<name>.+)\)$")  # "fine-tuned (restate)"
LISTED_MODELS = 10


@dataclass
class ImpressionFile:
    """The texts of one file by study_id, in file order, with what was set aside."""

    source: str
    records_read: int = 0
    impressions: dict[str, str] = field(default_factory=dict)
    rejections: list[Rejection] = field(default_factory=list)
    model: str | None = None  # the model label of the rows read (None: the file names none)
    other_model_rows: int = 0  # rows of other models in a mixed file, left out on purpose

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "model": self.model,
            "records_read": self.records_read,
            "other_model_rows": self.other_model_rows,
            "accepted": len(self.impressions),
            "rejected": len(self.rejections),
            "rejections": [r.to_dict() for r in self.rejections],
        }


def model_label(record: Any) -> str | None:
    """The model a record belongs to: its ``model`` label, else ``<role> (<name>)``, else None."""
    if not isinstance(record, dict):
        return None
    label = record.get("model")
    if isinstance(label, str) and label.strip():
        return label.strip()
    role, name = record.get("model_role"), record.get("model_name")
    if isinstance(name, str) and name:
        return f"{role} ({name})" if isinstance(role, str) and role else name
    return None


def _names(record: dict[str, Any], label: str) -> set[str]:
    """Every name a user may pick a record's model by: label, model name, role."""
    names = {label}
    for key in ("model_name", "model_role"):
        if isinstance(record.get(key), str) and record[key]:
            names.add(record[key])
    if match := _LABEL.match(label):
        names.update((match["role"], match["name"]))
    return names


def _listed(labels: Sequence[str]) -> str:
    shown = ", ".join(labels[:LISTED_MODELS])
    more = len(labels) - LISTED_MODELS
    return shown + (f" and {more} more" if more > 0 else "")


def _select(
    raw: list[tuple[int, Any]], path: str, model: str | None
) -> tuple[list[tuple[int, Any]], str | None, int]:
    """The records of one model: (records, their label, rows of other models left out)."""
    labels = list(dict.fromkeys(lbl for _, v in raw if (lbl := model_label(v)) is not None))
    if not labels:
        return raw, model, 0  # the file names no model: all its rows are the one model
    if model is None:
        if len(labels) == 1:
            return raw, labels[0], 0
        raise UnreadableFile(
            path,
            f"holds the predictions of {len(labels)} models ({_listed(labels)}); "
            "pick one with --model NAME",
        )
    chosen = [lbl for lbl in labels if model in _names(_first(raw, lbl), lbl)]
    if not chosen:
        raise UnreadableFile(path, f"has no rows of model {model!r}; models: {_listed(labels)}")
    if len(chosen) > 1:
        raise UnreadableFile(
            path,
            f"--model {model!r} matches {len(chosen)} models ({_listed(chosen)}); "
            "give the full label",
        )
    keep = [(p, v) for p, v in raw if model_label(v) in (None, chosen[0])]
    return keep, chosen[0], len(raw) - len(keep)


def _first(raw: list[tuple[int, Any]], label: str) -> dict[str, Any]:
    return next(v for _, v in raw if model_label(v) == label)


def _validate(
    position: int,
    value: Any,
    text_fields: Sequence[str],
    empty_allowed: bool,
    seen: dict[str, int],
) -> Report | Rejection:
    """Validate one record as a TRAIN record whose ``impression`` is the chosen text field."""
    used = text_fields[0]
    empty = False
    if isinstance(value, dict):
        used = next((name for name in text_fields if name in value), text_fields[0])
        text = value.get(used)
        value = {**value, "findings": _NOT_USED, "impression": text}
        if empty_allowed and isinstance(text, str) and not text.strip():
            empty = True
            value["impression"] = _EMPTY_TEXT
    outcome = validate_record(position, value, Purpose.TRAIN, seen)
    if isinstance(outcome, Rejection):
        if outcome.field == "impression" and used != "impression":
            outcome = dataclasses.replace(outcome, field=used)
        return outcome
    return Report(outcome.study_id, outcome.findings, "" if empty else outcome.impression)


def read_impressions(
    path: str,
    empty_allowed: bool = False,
    *,
    text_fields: Sequence[str] = REFERENCE_FIELDS,
    model: str | None = None,
    by_model: bool = False,
) -> ImpressionFile:
    """Read ``study_id`` -> text from a report or prediction file; raises UnreadableFile.

    ``text_fields``: the field names the text may have, first present wins. ``by_model``: the
    file may mix models and ``model`` picks one (see the module docstring).
    """
    result = ImpressionFile(source=path)
    try:
        with open(path, "rb") as handle:
            raw = [(position, value) for position, value, _ in iter_raw_records(handle, path)]
    except OSError as err:
        raise UnreadableFile(path, f"cannot open ({(err.strerror or '').lower()})") from None
    if by_model:
        raw, result.model, result.other_model_rows = _select(raw, path, model)
    seen: dict[str, int] = {}
    for position, value in raw:
        outcome = _validate(position, value, text_fields, empty_allowed, seen)
        result.records_read += 1
        if isinstance(outcome, Report):
            result.impressions[outcome.study_id] = outcome.impression or ""
        else:
            result.rejections.append(outcome)
    return result


def read_predictions(path: str, model: str | None = None) -> ImpressionFile:
    """A predictions file (``generated`` or ``impression``, one model or ``model`` picked)."""
    return read_impressions(
        path, empty_allowed=True, text_fields=PREDICTION_FIELDS, model=model, by_model=True
    )
