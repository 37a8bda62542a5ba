"""`retrieval`: nearest-neighbour over findings (TF-IDF cosine), returns that report's impression.

Radiologists reuse phrasing: a study whose findings read like a training study's usually gets a
similar impression. Pure Python and sparse, so it trains in well under a second per thousand
reports on a CPU.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from radimpress_training.models.base import ImpressionModel, TrainingPair

_TOKEN = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class RetrievalModel(ImpressionModel):
    name = "retrieval"

    def __init__(self) -> None:
        self._idf: dict[str, float] = {}
        self._vectors: list[dict[str, float]] = []
        self._impressions: list[str] = []
        self._postings: dict[str, list[int]] = {}

    def _vector(self, text: str) -> dict[str, float]:
        counts = Counter(t for t in tokens(text) if t in self._idf)
        weights = {t: (1 + math.log(c)) * self._idf[t] for t, c in counts.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        return {t: w / norm for t, w in weights.items()}

    def fit(self, pairs: Sequence[TrainingPair]) -> RetrievalModel:
        if not pairs:
            raise ValueError("retrieval needs at least one training pair")
        document_frequency: Counter[str] = Counter()
        for pair in pairs:
            document_frequency.update(set(tokens(pair.findings)))
        total = len(pairs)
        self._idf = {
            t: math.log((1 + total) / (1 + df)) + 1 for t, df in document_frequency.items()
        }
        self._vectors = [self._vector(p.findings) for p in pairs]
        self._impressions = [p.impression for p in pairs]
        self._index()
        return self

    def _index(self) -> None:
        self._postings = {}
        for row, vector in enumerate(self._vectors):
            for term in vector:
                self._postings.setdefault(term, []).append(row)

    def predict(self, findings: Sequence[str]) -> list[str]:
        if not self._impressions:
            raise RuntimeError("retrieval model is not trained")
        out = []
        for text in findings:
            query = self._vector(text)
            scores: Counter[int] = Counter()
            for term, weight in query.items():
                for row in self._postings.get(term, ()):
                    scores[row] += weight * self._vectors[row][term]
            best = max(scores, key=lambda r: (scores[r], -r)) if scores else 0
            out.append(self._impressions[best])
        return out

    def save(self, directory: str | Path) -> None:
        super().save(directory)
        payload = {"idf": self._idf, "vectors": self._vectors, "impressions": self._impressions}
        (Path(directory) / "retrieval.json").write_text(json.dumps(payload), encoding="utf-8")

    @classmethod
    def from_state(cls, state: dict[str, Any], directory: Path) -> RetrievalModel:
        payload = json.loads((directory / "retrieval.json").read_text(encoding="utf-8"))
        model = cls()
        model._idf = payload["idf"]
        model._vectors = payload["vectors"]
        model._impressions = payload["impressions"]
        model._index()
        return model
