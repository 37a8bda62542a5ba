"""Where prepared reports go: one JSON Lines file per split, and the counts that explain them.

Every preparer (MIMIC-CXR, Open-i) writes the project's input format (``study_id``,
``subject_id``, ``findings``, ``impression``, ``background``) so the files can be uploaded to
``incoming/train/...`` or given to ``radimpress evaluate`` as they are. Texts are written as the
source has them (placeholders included); normalisation happens where models read them.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from radimpress_training.prepare.sections import Sections

SUMMARY_FILE = "prepare-summary.json"


class PrepareError(ValueError):
    """Unusable input for a preparer: ``what`` is wrong, ``where`` (a path)."""

    def __init__(self, what: str, where: str | Path) -> None:
        super().__init__(f"{where}: {what}")
        self.what, self.where = what, str(where)


@dataclass
class SplitCounts:
    """What one split holds (counts only)."""

    reports: int = 0
    subjects: set[str] = field(default_factory=set)
    findings_words: int = 0
    impression_words: int = 0
    with_background: int = 0

    def to_dict(self) -> dict[str, Any]:
        n = max(self.reports, 1)
        return {
            "reports": self.reports,
            "subjects": len(self.subjects),
            "findings_words_mean": round(self.findings_words / n, 2),
            "impression_words_mean": round(self.impression_words / n, 2),
            "with_background": self.with_background,
        }


@dataclass
class PrepareSummary:
    """Counts only (never text): what was read, kept per split and dropped per reason."""

    source: str
    read: int = 0
    kept: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    files: dict[str, str] = field(default_factory=dict)
    splits: dict[str, SplitCounts] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)  # e.g. dev_fraction, seed

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "read": self.read,
            "kept": dict(sorted(self.kept.items())),
            "kept_total": sum(self.kept.values()),
            "dropped": dict(sorted(self.dropped.items())),
            "dropped_total": sum(self.dropped.values()),
            "files": self.files,
            "splits": {name: counts.to_dict() for name, counts in sorted(self.splits.items())},
            **({"settings": self.settings} if self.settings else {}),
        }


class SplitWriter:
    """Writes ``<out>/<split>.jsonl``, one record a line, all splits or none (see above)."""

    def __init__(self, out_dir: str | Path, summary: PrepareSummary) -> None:
        self.out_dir = Path(out_dir)
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise PrepareError("the output folder is a file", self.out_dir)
        self._created = not self.out_dir.exists()
        self.summary = summary
        self._handles: dict[str, IO[str]] = {}
        self._partials: dict[str, Path] = {}

    def write(
        self, split: str, study_id: str, sections: Sections, subject_id: str | None = None
    ) -> None:
        handle = self._handles.get(split)
        if handle is None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            partial = self._partials[split] = self.out_dir / f".{split}.jsonl.partial"
            handle = self._handles[split] = partial.open("w", encoding="utf-8")
        record: dict[str, str] = {"study_id": study_id}
        if subject_id is not None:
            record["subject_id"] = subject_id
        record.update(
            findings=sections.findings,
            impression=sections.impression,
            background=sections.background,
        )
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.summary.kept[split] += 1
        counts = self.summary.splits.setdefault(split, SplitCounts())
        counts.reports += 1
        counts.subjects.add(subject_id or study_id)
        counts.findings_words += len(sections.findings.split())
        counts.impression_words += len(sections.impression.split())
        counts.with_background += bool(sections.background)

    def _close_handles(self) -> None:
        for handle in self._handles.values():
            handle.close()

    def commit(self) -> None:
        """Rename every split into place and write the summary; an error if nothing was kept."""
        self._close_handles()
        if not self._partials:
            raise PrepareError(
                f"no report kept (read {self.summary.read}, dropped "
                f"{sum(self.summary.dropped.values())}: "
                + (", ".join(f"{r} {n}" for r, n in sorted(self.summary.dropped.items())) or "-")
                + ")",
                self.summary.source,
            )
        for split, partial in self._partials.items():
            target = self.out_dir / f"{split}.jsonl"
            os.replace(partial, target)
            self.summary.files[split] = str(target)
        (self.out_dir / SUMMARY_FILE).write_text(
            json.dumps(self.summary.to_dict(), indent=2), encoding="utf-8"
        )

    def abort(self) -> None:
        """Remove what this writer wrote (and the folder it created, when left empty)."""
        self._close_handles()
        for partial in self._partials.values():
            partial.unlink(missing_ok=True)
        if self._created and self.out_dir.is_dir() and not any(self.out_dir.iterdir()):
            self.out_dir.rmdir()

    def __enter__(self) -> SplitWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None:
            self.abort()
            return
        try:
            self.commit()
        except BaseException:
            self.abort()
            raise
