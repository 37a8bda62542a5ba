"""`retrieval`: nearest-neighbour over findings (TF-IDF cosine), returns that report's impression.

Radiologists reuse phrasing: a study whose findings read like a training study's usually gets a
similar impression. Vectors are scikit-learn sparse TF-IDF and the search is a batched sparse
product (`radimpress_training.models.sparse`), so training and answering stay fast at scale.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse as sp

from radimpress import deid
from radimpress_training.models.base import ImpressionModel, TrainingPair
from radimpress_training.models.sparse import BATCH_CELLS, tfidf_vectorizer

_TOKEN = re.compile(r"[a-z0-9]+")
STATE_FILE = "retrieval.json"


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class RetrievalModel(ImpressionModel):
    name = "retrieval"

    def __init__(self) -> None:
        self._findings: list[str] = []
        self._impressions: list[str] = []
        self._vectorizer = tfidf_vectorizer(tokens)
        self._matrix: sp.csr_matrix | None = None

    def fit(self, pairs: Sequence[TrainingPair]) -> RetrievalModel:
        if not pairs:
            raise ValueError("retrieval needs at least one training pair")
        self._findings = [p.findings for p in pairs]
        self._impressions = [p.impression for p in pairs]
        self._index()
        return self

    def _index(self) -> None:
        self._vectorizer = tfidf_vectorizer(tokens)
        self._matrix = sp.csr_matrix(self._vectorizer.fit_transform(self._findings))

    def predict(self, findings: Sequence[str], convention: str | None = None) -> list[str]:
        if self._matrix is None:
            raise RuntimeError("retrieval model is not trained")
        transposed = sp.csr_matrix(self._matrix.T)
        batch = max(1, BATCH_CELLS // self._matrix.shape[0])
        out: list[str] = []
        for start in range(0, len(findings), batch):
            queries = self._vectorizer.transform(list(findings[start : start + batch]))
            # argmax keeps the first of equal scores: the lowest training row, as before.
            best = np.asarray((queries @ transposed).toarray().argmax(axis=1)).ravel()
            for row in best.tolist():
                text = self._impressions[row]
                if convention is not None:  # the input's convention, not the neighbour's
                    text = deid.render(deid.normalize(text), convention)
                out.append(text)
        return out

    def save(self, directory: str | Path) -> None:
        """Keeps the training pairs; the vectors are rebuilt (deterministically) on load."""
        super().save(directory)
        payload = {"findings": self._findings, "impressions": self._impressions}
        (Path(directory) / STATE_FILE).write_text(json.dumps(payload), encoding="utf-8")

    @classmethod
    def from_state(cls, state: dict[str, Any], directory: Path) -> RetrievalModel:
        payload = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
        model = cls()
        model._findings = payload["findings"]
        model._impressions = payload["impressions"]
        model._index()
        return model
