"""Where prepared reports go: one JSON Lines file per split, and the counts that explain them.

Every preparer (MIMIC-CXR, Open-i) writes the project's input format (``study_id``,
``subject_id``, ``findings``, ``impression``, ``background``) so the files can be uploaded to
``incoming/train/...`` or given to ``radimpress evaluate`` as they are. Texts are written as the
source has them (placeholders included); normalisation happens where models read them.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from radimpress_training.prepare.sections import Sections

SUMMARY_FILE = "prepare-summary.json"


@dataclass
class PrepareSummary:
    """Counts only (never text): what was read, kept per split and dropped per reason."""

    source: str
    read: int = 0
    kept: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    files: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "read": self.read,
            "kept": dict(sorted(self.kept.items())),
            "kept_total": sum(self.kept.values()),
            "dropped": dict(sorted(self.dropped.items())),
            "dropped_total": sum(self.dropped.values()),
            "files": self.files,
        }


class SplitWriter:
    """Opens ``<out>/<split>.jsonl`` on first use and appends one record a line."""

    def __init__(self, out_dir: str | Path, summary: PrepareSummary) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.summary = summary
        self._handles: dict[str, IO[str]] = {}

    def write(
        self, split: str, study_id: str, sections: Sections, subject_id: str | None = None
    ) -> None:
        handle = self._handles.get(split)
        if handle is None:
            path = self.out_dir / f"{split}.jsonl"
            handle = self._handles[split] = path.open("w", encoding="utf-8")
            self.summary.files[split] = str(path)
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

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()
        (self.out_dir / SUMMARY_FILE).write_text(
            json.dumps(self.summary.to_dict(), indent=2), encoding="utf-8"
        )

    def __enter__(self) -> SplitWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
