"""`restate`: the `consensus` impression, plus the positive findings radiologists restate.

`consensus` answers with the house template of similar studies (minimum Bayes risk among the
impressions of the nearest training reports). That is right for normal studies, but an abnormal
study's impression usually restates its positive findings ("Mild cardiomegaly.", "Right lower lobe
airspace disease."), and a neighbour's impression rarely names the same ones. This model learns,
from the training pairs, which kinds of findings sentence get restated:

* every training findings sentence that is not a normal/negative statement ("No effusion.",
  "The lungs are clear.") is labelled *restated* when an impression sentence of the same report
  shares at least ``min_overlap`` of its specific words (generic words such as "acute", "disease",
  "normal" do not count);
* at generation, each positive sentence of the findings gets the similarity-weighted share of
  restated sentences among its ``sentence_neighbours`` most similar training sentences (TF-IDF
  over words and word pairs), mixed (``report_weight``) with the weighted share of the nearest
  training *reports* whose impression restated anything (a study that reads like abnormal ones
  is summarised like them); sentences at or above ``threshold`` are restated, most likely
  first, at most ``max_restated``, after the consensus impression, written tersely ("There is
  mild cardiomegaly." -> "Mild cardiomegaly.") and skipped when the consensus impression already
  names them.

All parameters were chosen by 5-fold cross-validation on the training file only. Placeholders
are handled as in `consensus` (canonical inside, the training impressions' convention out).
Sentence similarities use the same sparse TF-IDF and batched top-k search as `consensus`, and each
distinct sentence of a batch is looked up once, so cost grows about linearly with the data.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import sparse as sp

from radimpress import deid
from radimpress_training.models.base import TrainingPair
from radimpress_training.models.consensus import ConsensusModel
from radimpress_training.models.sparse import (
    NeighbourIndex,
    restored_tfidf_vectorizer,
    tfidf_vectorizer,
    under_prefix,
    vocabulary_of,
    weighted_share,
    with_prefix,
)

_WORD = re.compile(r"[a-z0-9]+|___")
# Sentence ends, and the numbered items of impressions ("1. ... 2. ...").
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?!\d)|\s+(?=\d\.\s)")
_NUMBERED = re.compile(r"^\s*\d+\.\s*$")
# A findings sentence that states something normal or absent is never restated.
_NORMAL = re.compile(
    r"^\s*(no|there is no|there are no|negative|without|the lungs are clear|lungs are clear"
    r"|normal|heart size normal|the heart is normal)\b",
    re.IGNORECASE,
)
_FILLER = re.compile(
    r"^(there (is|are) (a |an )?|again (seen|noted) (is |are )?)"
    r"|\s+(is|are) (again )?(seen|noted|present|identified|demonstrated)(?=\.?$)",
    re.IGNORECASE,
)
_STOP = frozenset(
    re.findall(
        r"\S+",
        "the a an is are of and or with in on to there be seen noted at this that which as for "
        "by was were has have from within",
    )
)
# Words every normal impression uses: sharing them does not make a sentence "restated".
_GENERIC = frozenset(
    re.findall(
        r"\S+",
        "no not without negative acute active cardiopulmonary disease abnormality abnormalities "
        "findings finding process normal clear lungs lung heart size evidence radiographic chest "
        "intrathoracic significant change changes otherwise stable unremarkable limits appear "
        "appears",
    )
)


def sentences(text: str) -> list[str]:
    """Sentences (and numbered items) that hold at least one word."""
    parts = (s.strip() for s in _SENTENCE.split(text))
    return [s for s in parts if _WORD.search(s.lower()) and not _NUMBERED.match(s)]


def is_normal_statement(sentence: str) -> bool:
    return bool(_NORMAL.search(sentence))


def specific_words(sentence: str) -> set[str]:
    """The words that say what a sentence is about (no stop, generic, placeholder or number)."""
    return {
        w
        for w in _WORD.findall(sentence.lower())
        if w not in _STOP and w not in _GENERIC and w != deid.CANONICAL and not w.isdigit()
    }


def terse(sentence: str) -> str:
    """A findings sentence as an impression states it: no "There is", no "is noted"."""
    text = _FILLER.sub("", sentence.strip()).strip()
    if not text:
        return sentence.strip()
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def sentence_features(sentence: str) -> list[str]:
    words = _WORD.findall(sentence.lower())
    return words + [f"{a}_{b}" for a, b in itertools.pairwise(words)]


class SentenceIndex:
    """TF-IDF cosine over short texts (words and word pairs), searched in sparse batches."""

    def __init__(self, sentences: list[str]) -> None:
        self.vectorizer = tfidf_vectorizer(sentence_features)
        self.index = NeighbourIndex(sp.csr_matrix(self.vectorizer.fit_transform(sentences)))

    def saved(self) -> tuple[list[str], dict[str, np.ndarray]]:
        """(vocabulary, arrays): the fitted vectorizer's terms by column, and its idf with the
        :meth:`NeighbourIndex.arrays` under ``index.``; :meth:`restore` takes them back."""
        arrays = {"idf": self.vectorizer.idf_, **with_prefix("index.", self.index.arrays())}
        return vocabulary_of(self.vectorizer), arrays

    @classmethod
    def restore(cls, vocabulary: Sequence[str], arrays: Mapping[str, np.ndarray]) -> SentenceIndex:
        """The index :meth:`saved` describes, without refitting the vectorizer or k-means."""
        index = cls.__new__(cls)
        index.vectorizer = restored_tfidf_vectorizer(sentence_features, vocabulary, arrays["idf"])
        index.index = NeighbourIndex.from_arrays(under_prefix("index.", arrays))
        return index

    def top(
        self, sentences: list[str], k: int, exclude: tuple[np.ndarray, np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.index.search(self.vectorizer.transform(sentences), k, exclude)


class RestateModel(ConsensusModel):
    name = "restate"

    def __init__(
        self,
        neighbours: int = 10,
        sharpness: float = 3.0,
        sentence_neighbours: int = 10,
        threshold: float = 0.4,
        max_restated: int = 3,
        min_overlap: int = 2,
        report_weight: float = 0.3,
    ) -> None:
        super().__init__(neighbours=neighbours, sharpness=sharpness)
        self.sentence_neighbours = sentence_neighbours
        self.threshold = threshold
        self.max_restated = max_restated
        self.min_overlap = min_overlap
        self.report_weight = report_weight
        self._restated = np.zeros(0, dtype=np.float64)  # per training findings sentence
        self._report_restates = np.zeros(0, dtype=np.float64)  # per training report
        self._sentences: SentenceIndex | None = None
        self._probabilities: dict[str, float] = {}  # this batch's distinct sentences

    # ---- training -------------------------------------------------------------------------

    def fit(self, pairs: Sequence[TrainingPair]) -> RestateModel:
        super().fit(pairs)  # builds both indexes through _index()
        return self

    def _index(self) -> None:
        super()._index()
        docs: list[str] = []
        labels: list[float] = []
        reports: list[float] = []
        for findings, impression in zip(self._findings, self._impressions, strict=True):
            said = [specific_words(s) for s in sentences(impression)]
            restates = 0.0
            for sentence in sentences(deid.normalize(findings)):
                if is_normal_statement(sentence):
                    continue
                words = specific_words(sentence)
                overlap = max((len(words & s) for s in said), default=0)
                docs.append(sentence)
                labels.append(1.0 if overlap >= self.min_overlap else 0.0)
                restates = max(restates, labels[-1])
            reports.append(restates)
        self._restated = np.asarray(labels, dtype=np.float64)
        self._report_restates = np.asarray(reports, dtype=np.float64)
        self._sentences = SentenceIndex(docs) if docs else None

    # ---- generation -----------------------------------------------------------------------

    def restate_probabilities(self, sentences_: list[str]) -> list[float]:
        """Per sentence, the similarity-weighted share of restated sentences among the most
        similar training ones (0 for normal statements)."""
        out = [0.0] * len(sentences_)
        wanted = [i for i, s in enumerate(sentences_) if not is_normal_statement(s)]
        if self._sentences is None or not wanted:
            return out
        rows, scores = self._sentences.top(
            [sentences_[i] for i in wanted], self.sentence_neighbours
        )
        for i, share in zip(
            wanted, weighted_share(rows, scores, self._restated).tolist(), strict=True
        ):
            out[i] = share
        return out

    def _report_share(self, near: list[tuple[int, float]]) -> float:
        """Weighted share of the ``near`` training reports whose impression restated a finding."""
        weights = np.asarray([max(sim, 0.0) ** self.sharpness for _, sim in near])
        total = float(weights.sum())
        if total <= 0:
            return 0.0
        return float((weights * self._report_restates[[row for row, _ in near]]).sum() / total)

    def _answer_batch(self, texts: list[str]) -> list[str]:
        distinct = list(dict.fromkeys(s for t in texts for s in sentences(deid.normalize(t))))
        self._probabilities = dict(zip(distinct, self.restate_probabilities(distinct), strict=True))
        try:
            return super()._answer_batch(texts)
        finally:
            self._probabilities = {}

    def _choose(self, findings: str, near: list[tuple[int, float]]) -> str:
        template = super()._choose(findings, near)
        share = self._report_share(near)
        scored = []
        for position, sentence in enumerate(sentences(deid.normalize(findings))):
            p = self._probabilities[sentence]
            if p > 0:  # a sentence unlike every restatable one stays out whatever the report
                p = (1 - self.report_weight) * p + self.report_weight * share
            scored.append((p, position, sentence))
        picked = sorted(
            (item for item in scored if item[0] >= self.threshold), key=lambda i: (-i[0], i[1])
        )
        named = specific_words(template)
        extra: list[str] = []
        for _, _, sentence in picked:
            text = terse(sentence)
            if specific_words(text) <= named or text in extra:
                continue
            extra.append(text)
            if len(extra) == self.max_restated:
                break
        return " ".join([template, *extra]) if extra else template

    # ---- persistence ----------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            **super().state(),
            "sentence_neighbours": self.sentence_neighbours,
            "threshold": self.threshold,
            "max_restated": self.max_restated,
            "min_overlap": self.min_overlap,
            "report_weight": self.report_weight,
        }
