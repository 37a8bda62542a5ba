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

Vectors are scikit-learn sparse TF-IDF and neighbours come from a batched sparse top-k search
(`radimpress_training.models.sparse`); identical findings in a batch are answered once, and the
ROUGE scorer memoises impression pairs, so cost grows about linearly with the data. It runs in the
local job backend and on the workstation, never in a Lambda.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from scipy import sparse as sp

from radimpress import deid
from radimpress.scoring import RougeScorer
from radimpress_training.models.base import ImpressionModel, TrainingPair
from radimpress_training.models.sparse import NeighbourIndex, tfidf_vectorizer, unique_index

_WORD = re.compile(r"[a-z0-9]+|___")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
STATE_FILE = "consensus.json"
# Distinct findings answered per batch: bounds the per-batch state the models keep.
PREDICT_BATCH = 4096


def features(findings: str) -> list[str]:
    """Words plus one feature per whole sentence (normalised placeholders, lower case)."""
    text = deid.normalize(findings).lower()
    words = _WORD.findall(text)
    sentences = ["s:" + " ".join(_WORD.findall(s)) for s in _SENTENCE_END.split(text)]
    return words + [s for s in sentences if s != "s:"]


def predict_batched(
    findings: Sequence[str],
    answer_batch: Callable[[list[str]], list[str]],
    trained_convention: str | None,
    given_convention: str | None,
) -> list[str]:
    """Answers in batches, each distinct findings text once, in the right placeholder convention.

    The pipeline hands findings over normalised ("___"), so only an explicit XXXX or [** **] in
    them says more than the convention of the training impressions; a caller that knows the input
    file's convention (``given_convention``) says it outright.
    """
    out: list[str] = []
    for start in range(0, len(findings), PREDICT_BATCH):
        chunk = list(findings[start : start + PREDICT_BATCH])
        distinct, codes = unique_index(chunk)
        answers = answer_batch(distinct)
        for text, code in zip(chunk, codes.tolist(), strict=True):
            wanted: str | None = given_convention or deid.detect(text)
            if wanted in (None, deid.Convention.MIMIC) and given_convention is None:
                wanted = trained_convention
            out.append(deid.render(answers[code], wanted))
    return out


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
        self._vectorizer = tfidf_vectorizer(features)
        self._matrix: sp.csr_matrix | None = None
        self._search: NeighbourIndex | None = None
        self._most_frequent = 0
        self._scorer = RougeScorer(use_stemmer=False)

    # ---- training -------------------------------------------------------------------------

    def fit(self, pairs: Sequence[TrainingPair]) -> ConsensusModel:
        if not pairs:
            raise ValueError(f"{self.name} needs at least one training pair")
        self._convention = _majority_convention(p.impression for p in pairs)
        self._findings = [p.findings for p in pairs]
        self._impressions = [deid.normalize(p.impression) for p in pairs]
        self._index()
        return self

    def _index(self) -> None:
        self._vectorizer = tfidf_vectorizer(features)
        self._matrix = sp.csr_matrix(self._vectorizer.fit_transform(self._findings))
        self._search = NeighbourIndex(self._matrix)
        counts = Counter(self._impressions)
        self._most_frequent = self._impressions.index(counts.most_common(1)[0][0])

    # ---- generation -----------------------------------------------------------------------

    def neighbours_many(self, texts: Sequence[str]) -> list[list[tuple[int, float]]]:
        """Per text, the k most similar training reports as (row, cosine), most similar first."""
        if self._search is None:
            raise RuntimeError(f"{self.name} model is not trained")
        queries = self._vectorizer.transform(list(texts))
        rows, scores = self._search.search(queries, self.neighbours)
        out = []
        for row_list, score_list in zip(rows.tolist(), scores.tolist(), strict=True):
            ranked = [(r, s) for r, s in zip(row_list, score_list, strict=True) if s > 0]
            # Nothing in common with any training report: the most frequent impression.
            out.append(ranked or [(self._most_frequent, 1.0)])
        return out

    def neighbours_of(self, findings: str) -> list[tuple[int, float]]:
        """The k most similar training reports as (row, cosine), most similar first."""
        return self.neighbours_many([findings])[0]

    def _utility(self, reference: str, candidate: str) -> float:
        s = self._scorer.score(reference, candidate)
        return s["rouge1"].fmeasure + s["rouge2"].fmeasure + s["rougeL"].fmeasure

    def _choose(self, findings: str, near: list[tuple[int, float]]) -> str:
        weights = [(self._impressions[row], max(sim, 0.0) ** self.sharpness) for row, sim in near]
        candidates = list(dict.fromkeys(text for text, _ in weights))
        if len(candidates) == 1:
            return candidates[0]

        def expected(candidate: str) -> float:
            return sum(w * self._utility(ref, candidate) for ref, w in weights)

        # max() keeps the first of equals, i.e. the candidate of the nearest neighbour.
        return max(candidates, key=expected)

    def _answer_batch(self, texts: list[str]) -> list[str]:
        """Canonical answers for distinct findings texts."""
        return [
            self._choose(text, near)
            for text, near in zip(texts, self.neighbours_many(texts), strict=True)
        ]

    def predict(self, findings: Sequence[str], convention: str | None = None) -> list[str]:
        if self._matrix is None:
            raise RuntimeError(f"{self.name} model is not trained")
        return predict_batched(findings, self._answer_batch, self._convention, convention)

    # ---- persistence ----------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {"neighbours": self.neighbours, "sharpness": self.sharpness}

    def save(self, directory: str | Path) -> None:
        """Keeps the training pairs (canonical impressions) and rebuilds the index on load."""
        super().save(directory)
        save_training_pairs(
            Path(directory) / STATE_FILE, self._convention, self._findings, self._impressions
        )

    @classmethod
    def from_state(cls, state: dict[str, Any], directory: Path) -> ConsensusModel:
        """``state`` holds every constructor argument (subclasses add theirs to ``state()``)."""
        model = cls(**state)
        model._convention, model._findings, model._impressions = load_training_pairs(
            directory / STATE_FILE
        )
        model._index()
        return model


def save_training_pairs(
    path: Path, convention: str | None, findings: list[str], impressions: list[str]
) -> None:
    """The training pairs a model keeps, as JSON: its indexes are rebuilt from them on load."""
    payload = {"convention": convention, "findings": findings, "impressions": impressions}
    path.write_text(json.dumps(payload), encoding="utf-8")


def load_training_pairs(path: Path) -> tuple[str | None, list[str], list[str]]:
    """(convention, findings, impressions) written by :func:`save_training_pairs`."""
    payload = json.loads(path.read_text(encoding="utf-8"))
    return payload["convention"], payload["findings"], payload["impressions"]
