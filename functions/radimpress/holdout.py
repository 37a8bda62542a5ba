"""The promotion gate's validation set: a seeded share of a training upload held out of training.

Whether a study is held out depends only on its id (SHA-256 of a fixed seed and the id), so the
same study falls on the same side in every upload and every retry, whatever the record order.
A split too small to judge a model by (fewer than ``MIN_HOLDOUT`` studies) is not made: its
studies go back to training and the gate then follows the ``AutoApprove`` setting alone. The first
``MIN_HOLDOUT`` held-out records wait in memory until the split is known to be big enough, so
nothing is read twice and at most that many records are ever buffered.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

SEED = "radimpress-promotion-holdout-v1"
MIN_HOLDOUT = 20
PERCENT_MAX = 50

Write = Callable[[dict[str, Any]], None]


def held_out(study_id: str, percent: int) -> bool:
    """True for about ``percent`` % of ids, the same ids every time."""
    digest = hashlib.sha256(f"{SEED}\n{study_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 < percent * 100


class HoldoutSplit:
    """Routes each accepted record to training or to the held-out file (``write_holdout`` is
    only called once the split has reached ``MIN_HOLDOUT``; ``finish`` settles the rest)."""

    def __init__(self, percent: int, write_train: Write, write_holdout: Write) -> None:
        if not 0 <= percent <= PERCENT_MAX:
            raise ValueError(f"promotion holdout: {percent} % (0 to {PERCENT_MAX})")
        self.percent = percent
        self._write_train = write_train
        self._write_holdout = write_holdout
        self._waiting: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self.held_out = 0
        self.trained = 0

    def add(self, study_id: str, record: dict[str, Any], train_line: dict[str, Any]) -> None:
        """``record``: the record as records.jsonl holds it (what a transform reads);
        ``train_line``: its training-channel line."""
        if not (record.get("impression") and held_out(study_id, self.percent)):
            self._train(train_line)
            return
        self.held_out += 1
        if self.held_out < MIN_HOLDOUT:
            self._waiting.append((record, train_line))
            return
        for waiting, _ in self._waiting:
            self._write_holdout(waiting)
        self._waiting.clear()
        self._write_holdout(record)

    def finish(self) -> int:
        """The number of held-out studies (0 when too few: they were trained on instead)."""
        if self.held_out < MIN_HOLDOUT:
            for _, train_line in self._waiting:
                self._train(train_line)
            self._waiting.clear()
            self.held_out = 0
        return self.held_out

    def _train(self, train_line: dict[str, Any]) -> None:
        self.trained += 1
        self._write_train(train_line)
