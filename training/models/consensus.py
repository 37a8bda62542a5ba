"""`consensus`: nearest neighbours over findings, then the minimum-Bayes-risk impression among them.

Why this works on chest X-ray reports: radiologists dictate from templates, so a study whose
findings read like a training study's (same sentences, same words) was usually summarised with
the same phrasing. Copying the single nearest neighbour's impression (the `retrieval` model) bets
everything on one report; here the k nearest neighbours vote: among their impressions we answer
the one with the highest similarity-weighted ROUGE against all of them, the candidate that is
expected to score best when the true impression looks like the neighbours'.

Findings are matched on words and on whole sentences (a template sentence is a strong signal of
who wrote the report and how they summarise), after de-identification placeholders are
normalised (`radimpress.deid`), so `XXXX`, `___` and `[** **]` sources look alike. The answer is
written in the placeholder convention of the training impressions, unless the findings it answers
show another one explicitly (`XXXX`, `[** **]`).

Standard library plus numpy (the inverted index), so it trains and answers ~2,000 reports in
seconds on a CPU; it runs in the local job backend, never in a Lambda.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from radimpress import deid
from radimpress.scoring import RougeScorer
from radimpress_training.models.base import ImpressionModel, TrainingPair

_WORD = re.compile(r"[a-z0-9]+|___")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
STATE_FILE = "consensus.json"


def features(findings: str) -> list[str]:
    """Words plus one feature per whole sentence (normalised placeholders, lower case)."""
    text = deid.normalize(findings).lower()
    words = _WORD.findall(text)
    sentences = ["s:" + " ".join(_WORD.findall(s)) for s in _SENTENCE_END.split(text)]
    return words + [s for s in sentences if s != "s:"]


def _majority_convention(texts: Iterable[str]) -> str | None:
    """The placeholder convention most training impressions use (None when none has one)."""
    conventions = Counter(deid.detect(text) for text in texts)
    conventions.pop(None, None)
    return conventions.most_common(1)[0][0].value if conventions else None


class ConsensusModel(ImpressionModel):
    name = "consensus"

    def __init__(self, neighbours: int = 10, sharpness: float = 3.0) -> None:
        self.neighbours = neighbours
        self.sharpness = sharpness
        self._findings: list[str] = []
        self._impressions: list[str] = []  # canonical placeholders
        self._convention: str | None = None
        self._idf: dict[str, float] = {}
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._most_frequent = 0
        self._scorer = RougeScorer(use_stemmer=False)

    # ---- training -------------------------------------------------------------------------

    def fit(self, pairs: Sequence[TrainingPair]) -> ConsensusModel:
        if not pairs:
            raise ValueError("consensus needs at least one training pair")
        self._convention = _majority_convention(p.impression for p in pairs)
        self._findings = [p.findings for p in pairs]
        self._impressions = [deid.normalize(p.impression) for p in pairs]
        self._index()
        return self

    def _index(self) -> None:
        docs = [features(text) for text in self._findings]
        frequency: Counter[str] = Counter()
        for doc in docs:
            frequency.update(set(doc))
        total = len(docs)
        self._idf = {t: math.log((1 + total) / (1 + df)) + 1 for t, df in frequency.items()}
        rows: dict[str, list[int]] = {}
        weights: dict[str, list[float]] = {}
        for row, doc in enumerate(docs):
            for term, weight in self._vector(doc).items():
                rows.setdefault(term, []).append(row)
                weights.setdefault(term, []).append(weight)
        counts = Counter(self._impressions)
        self._most_frequent = self._impressions.index(counts.most_common(1)[0][0])
        # Inverted index as arrays: a query adds one column per term to a dense score vector.
        self._postings = {
            t: (np.asarray(rows[t], dtype=np.int64), np.asarray(weights[t], dtype=np.float64))
            for t in rows
        }

    def _vector(self, doc: list[str]) -> dict[str, float]:
        counts = Counter(t for t in doc if t in self._idf)
        weights = {t: (1 + math.log(c)) * self._idf[t] for t, c in counts.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        return {t: w / norm for t, w in weights.items()}

    # ---- generation -----------------------------------------------------------------------

    def neighbours_of(self, findings: str) -> list[tuple[int, float]]:
        """The k most similar training reports as (row, cosine), most similar first."""
        scores = np.zeros(len(self._findings), dtype=np.float64)
        for term, weight in self._vector(features(findings)).items():
            rows, weights = self._postings[term]
            scores[rows] += weight * weights
        k = min(self.neighbours, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        ranked = sorted(((int(r), float(scores[r])) for r in top), key=lambda i: (-i[1], i[0]))
        # Nothing in common with any training report: the most frequent impression.
        return [item for item in ranked if item[1] > 0] or [(self._most_frequent, 1.0)]

    def _utility(self, reference: str, candidate: str) -> float:
        s = self._scorer.score(reference, candidate)
        return s["rouge1"].fmeasure + s["rouge2"].fmeasure + s["rougeL"].fmeasure

    def _choose(self, findings: str) -> str:
        near = self.neighbours_of(findings)
        weights = [(self._impressions[row], max(sim, 0.0) ** self.sharpness) for row, sim in near]
        candidates = list(dict.fromkeys(text for text, _ in weights))
        if len(candidates) == 1:
            return candidates[0]

        def expected(candidate: str) -> float:
            return sum(w * self._utility(ref, candidate) for ref, w in weights)

        # max() keeps the first of equals, i.e. the candidate of the nearest neighbour.
        return max(candidates, key=expected)

    def predict(self, findings: Sequence[str]) -> list[str]:
        if not self._impressions:
            raise RuntimeError("consensus model is not trained")
        out = []
        for text in findings:
            # The pipeline hands findings over normalised ("___"), so only an explicit XXXX or
            # [** **] in them says more than the convention of the training impressions.
            convention = deid.detect(text)
            if convention in (None, deid.Convention.MIMIC):
                convention = self._convention
            out.append(deid.render(self._choose(text), convention))
        return out

    # ---- persistence ----------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {"neighbours": self.neighbours, "sharpness": self.sharpness}

    def save(self, directory: str | Path) -> None:
        """Keeps the training pairs (canonical impressions) and rebuilds the index on load."""
        super().save(directory)
        payload = {
            "convention": self._convention,
            "findings": self._findings,
            "impressions": self._impressions,
        }
        (Path(directory) / STATE_FILE).write_text(json.dumps(payload), encoding="utf-8")

    @classmethod
    def from_state(cls, state: dict[str, Any], directory: Path) -> ConsensusModel:
        payload = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
        model = cls(neighbours=state["neighbours"], sharpness=state["sharpness"])
        model._convention = payload["convention"]
        model._findings = payload["findings"]
        model._impressions = payload["impressions"]
        model._index()
        return model
