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
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import repeat
from operator import itemgetter
from typing import Any

import orjson

from radimpress.json_records import iter_raw_record_batches
from radimpress.records import (
    MAX_ID_CHARS,
    MAX_TEXT_CHARS,
    Purpose,
    Rejection,
    Report,
    UnreadableFile,
    validate_record,
)
from radimpress.records import _has_lone_surrogate as has_lone_surrogate
from radimpress_workstation.side_by_side import idle_second_cpu, run_side_by_side

REFERENCE_FIELDS = ("impression",)
PREDICTION_FIELDS = ("generated", "impression")
# Stands in for findings while validating: scoring never reads findings, and this value never
# leaves the validation call (rejection reasons never quote text).
_NOT_USED = "(findings are not used for scoring)"
_EMPTY_TEXT = "(empty text)"
_LABEL = re.compile(r"^(?P<role>.+?) \((?P<name>.+)\)$")  # "fine-tuned (restate)"
LISTED_MODELS = 10
# A predictions file smaller than this is read after the references, in this process: a child
# process costs more than reading it (about 2 ms).
SIDE_BY_SIDE_BYTES = 1 << 20
_get = dict.get


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


def _one_label(raw: list[tuple[int, Any]]) -> str | None:
    """The label when every record is a plain object whose ``model`` is the same non-blank
    string (what :func:`model_label` then gives each), checked over the column; else None."""
    values = list(map(itemgetter(1), raw))
    if not values or set(map(type, values)) != {dict}:
        return None
    models = set(map(_get, values, repeat("model")))
    if len(models) != 1:
        return None
    label = models.pop()
    if type(label) is not str or not label.strip():
        return None
    return label.strip()


def _listed(labels: Sequence[str]) -> str:
    shown = ", ".join(labels[:LISTED_MODELS])
    more = len(labels) - LISTED_MODELS
    return shown + (f" and {more} more" if more > 0 else "")


class _ModelPicker:
    """Keeps the rows of one model of a file while it streams by, batch after batch.

    Without a model name every labelled model is kept, and :meth:`label` refuses a file of
    several; with one, a label is chosen when the name is its label, model name or role (judged
    on the first row carrying it), rows of other labels are counted and left out, and
    :meth:`label` refuses a name that matches no label or several. Rows naming no model belong
    to whichever model is read.
    """

    def __init__(self, path: str, model: str | None) -> None:
        self.path, self.model = path, model
        self.chosen: dict[str, bool] = {}  # every label seen, in file order: is it the model?
        self.left_out = 0

    def keep(self, batch: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
        label = _one_label(batch)
        if label is not None:  # the usual file: one model throughout, checked in C
            if self._is_chosen(label, batch[0][1]):
                return batch
            self.left_out += len(batch)
            return []
        kept = []
        for position, value in batch:
            label = model_label(value)
            if label is None or self._is_chosen(label, value):
                kept.append((position, value))
            else:
                self.left_out += 1
        return kept

    def _is_chosen(self, label: str, record: dict[str, Any]) -> bool:
        chosen = self.chosen.get(label)
        if chosen is None:
            chosen = self.model is None or self.model in _names(record, label)
            self.chosen[label] = chosen
        return chosen

    def label(self) -> str | None:
        """The label of the rows kept (None: the file names no model and none was asked for)."""
        labels = list(self.chosen)
        if not labels:
            return self.model  # the file names no model: all its rows are the one model
        if self.model is None:
            if len(labels) == 1:
                return labels[0]
            raise UnreadableFile(
                self.path,
                f"holds the predictions of {len(labels)} models ({_listed(labels)}); "
                "pick one with --model NAME",
            )
        chosen = [label for label in labels if self.chosen[label]]
        if not chosen:
            raise UnreadableFile(
                self.path, f"has no rows of model {self.model!r}; models: {_listed(labels)}"
            )
        if len(chosen) > 1:
            raise UnreadableFile(
                self.path,
                f"--model {self.model!r} matches {len(chosen)} models ({_listed(chosen)}); "
                "give the full label",
            )
        return chosen[0]


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


def _quick(value: Any, text_fields: Sequence[str], seen: dict[str, int]) -> tuple[str, str] | None:
    """(study_id, text) of a record ``_validate`` certainly accepts as it is, else None.

    The checks are the contract's, on the parsed object's types, for the common well-formed
    record: a printable ASCII id without surrounding spaces (or an int) not seen before, a
    non-blank text within the limit, and background / subject_id that validation would pass.
    Anything else (a rejection, an id to strip, an empty prediction, non-ASCII id) returns None
    and goes through the full validation, which then decides and words the rejection.
    """
    if type(value) is not dict:  # _DuplicateKeys and _Hostile records are not plain dicts
        return None
    study_id = value.get("study_id")
    if type(study_id) is int:
        study_id = str(study_id)
        if len(study_id) > MAX_ID_CHARS:
            return None
    elif (
        type(study_id) is not str
        or not 0 < len(study_id) <= MAX_ID_CHARS
        or not study_id.isascii()
        or not study_id.isprintable()
        or study_id[0] == " "
        or study_id[-1] == " "
    ):
        return None
    if study_id in seen:
        return None
    for name in text_fields:
        if name in value:
            text = value[name]
            break
    else:
        return None
    if (
        type(text) is not str
        or len(text) > MAX_TEXT_CHARS
        or text.isspace()
        or not text
        or has_lone_surrogate(text)
    ):
        return None
    background = value.get("background")
    if background is not None and (
        type(background) is not str
        or len(background) > MAX_TEXT_CHARS
        or has_lone_surrogate(background)
    ):
        return None
    subject = value.get("subject_id")
    if (
        subject is not None
        and type(subject) is not int
        and (type(subject) is not str or not subject.strip() or has_lone_surrogate(subject))
    ):
        return None
    return study_id, text


def _quick_all(  # noqa: C901  the fast path's checks in a row, each an early return
    values: list[Any], text_fields: Sequence[str], accepted: Mapping[str, Any] | None = None
) -> tuple[list[str], list[str]] | None:
    """(study_ids, texts) of the records when each would pass :func:`_quick` in turn, else None.

    The same checks over whole columns, in C (``map`` over builtins): plain objects, one kind of
    id, ids printable ASCII without surrounding spaces, within the limit, all different and none
    ``accepted`` before (earlier batches), every text in the first text field, a non-blank
    string within the limit, and no lone surrogate in any text, background or subject_id.
    """
    if not values or set(map(type, values)) != {dict}:
        return None
    field = text_fields[0]
    if not all(map(dict.__contains__, values, repeat(field))):
        return None
    ids: list[Any] = list(map(_get, values, repeat("study_id")))
    kinds = set(map(type, ids))
    if kinds == {int}:
        ids = list(map(str, ids))
    elif kinds != {str}:
        return None
    else:
        joined = "".join(ids)
        if not (joined.isascii() and joined.isprintable() and min(map(len, ids)) > 0):
            return None
        if list(map(str.strip, ids)) != ids:
            return None
    if max(map(len, ids)) > MAX_ID_CHARS or len(set(ids)) != len(ids):
        return None
    if accepted and not accepted.keys().isdisjoint(ids):
        return None
    texts = list(map(dict.__getitem__, values, repeat(field)))
    if (
        set(map(type, texts)) != {str}
        or max(map(len, texts)) > MAX_TEXT_CHARS
        or not all(map(str.strip, texts))  # none empty or blank
        or has_lone_surrogate("".join(texts))
    ):
        return None
    for name, allowed in (
        ("background", {str, type(None)}),
        ("subject_id", {str, int, type(None)}),
    ):
        if not any(map(dict.__contains__, values, repeat(name))):
            continue  # no record has the field: nothing to check
        column = list(map(_get, values, repeat(name)))
        kinds = set(map(type, column))
        if not kinds <= allowed:
            return None
        if str in kinds:
            strings = [v for v in column if type(v) is str]
            if has_lone_surrogate("".join(strings)):
                return None
            if name == "background" and max(map(len, strings)) > MAX_TEXT_CHARS:
                return None
            if name == "subject_id" and not all(map(str.strip, strings)):
                return None
    return ids, texts


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
    file may mix models and ``model`` picks one (see the module docstring). Records are checked
    a batch at a time (one block of lines), so a file's full records are never all held.
    """
    result = ImpressionFile(source=path)
    seen = _SeenIds()
    try:
        with open(path, "rb") as handle:
            picker = _ModelPicker(path, model) if by_model else None
            for _, batch in iter_raw_record_batches(handle, path, orjson.loads):
                if picker is not None:
                    batch = picker.keep(batch)
                result.records_read += len(batch)
                _accept(batch, text_fields, empty_allowed, seen, result)
    except OSError as err:
        raise UnreadableFile(path, f"cannot open ({(err.strerror or '').lower()})") from None
    if picker is not None:
        result.model, result.other_model_rows = picker.label(), picker.left_out
    return result


@dataclass
class _SeenIds:
    """Where each accepted id was read, for the rejection of a repeat ("first seen at record N").

    A batch the quick path takes whole only notes its ids and positions; the map that the
    record-by-record validation reads is filled from the notes when a batch first goes that way
    (in a clean file, never).
    """

    noted: list[tuple[list[str], list[int]]] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)

    def all(self) -> dict[str, int]:
        for ids, positions in self.noted:
            self.positions.update(zip(ids, positions, strict=True))
        self.noted.clear()
        return self.positions


def _accept(
    batch: list[tuple[int, Any]],
    text_fields: Sequence[str],
    empty_allowed: bool,
    seen: _SeenIds,
    result: ImpressionFile,
) -> None:
    """Add one batch's texts to ``result``, its bad records to its rejections."""
    impressions = result.impressions
    quick_batch = _quick_all(list(map(itemgetter(1), batch)), text_fields, impressions)
    if quick_batch is not None:
        ids, texts = quick_batch
        impressions.update(zip(ids, texts, strict=True))
        seen.noted.append((ids, list(map(itemgetter(0), batch))))  # not the batch's records
        return
    positions = seen.all()
    for position, value in batch:
        quick = _quick(value, text_fields, positions)
        if quick is not None:
            positions[quick[0]] = position
            impressions[quick[0]] = quick[1]
            continue
        outcome = _validate(position, value, text_fields, empty_allowed, positions)
        if isinstance(outcome, Report):
            impressions[outcome.study_id] = outcome.impression or ""
        else:
            result.rejections.append(outcome)


def read_predictions(path: str, model: str | None = None) -> ImpressionFile:
    """A predictions file (``generated`` or ``impression``, one model or ``model`` picked)."""
    return read_impressions(
        path, empty_allowed=True, text_fields=PREDICTION_FIELDS, model=model, by_model=True
    )


def read_pair(
    references_path: str, predictions_path: str, model: str | None = None
) -> tuple[ImpressionFile, ImpressionFile]:
    """(references, predictions) as :func:`read_impressions` and :func:`read_predictions` read
    them, the two files side by side (:mod:`side_by_side`) when the predictions are large enough
    to gain from a process of their own and a second CPU is idle."""
    read_references = partial(read_impressions, references_path)
    read_predicted = partial(read_predictions, predictions_path, model)
    try:
        large = os.path.getsize(predictions_path) >= SIDE_BY_SIDE_BYTES
    except OSError:
        large = False  # read here, where the error is reported as usual
    if large and idle_second_cpu():
        return run_side_by_side(read_references, read_predicted)
    return read_references(), read_predicted()
