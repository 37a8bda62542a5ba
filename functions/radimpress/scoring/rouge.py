"""ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum, bit for bit equal to Google's rouge-score.

The arithmetic is rouge-score's (same divisions in the same order, so the same floats); what is
faster is everything around it: cached tokenization and stemming, n-gram counts with
``collections.Counter`` over ``zip``, bit-parallel LCS lengths, and, for rougeLsum, the bit-parallel
table rows plus rouge-score's own traceback so union-LCS picks the very same tokens. A text without
line breaks is one sentence, and when both texts are one sentence rougeLsum's union-LCS is the
plain LCS, which rougeL has already computed.

One difference in kind, not in value: where rouge-score returns the integer 0 for an empty text,
this returns 0.0 (``0 == 0.0``), so rows always serialize as floats.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import NamedTuple

from radimpress.scoring.lcs import lcs_length, lcs_positions, match_masks
from radimpress.scoring.tokenize import Tokenizer, Tokens

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")


class Score(NamedTuple):
    """Precision, recall and F1 of one metric (same fields as rouge_score.scoring.Score)."""

    precision: float
    recall: float
    fmeasure: float

    def to_dict(self) -> dict[str, float]:
        return {"precision": self.precision, "recall": self.recall, "fmeasure": self.fmeasure}


_ZERO = Score(0.0, 0.0, 0.0)


def _fmeasure(precision: float, recall: float) -> float:
    # rouge_score.scoring.fmeasure, operation for operation.
    if precision + recall > 0:
        return 2 * precision * recall / (precision + recall)
    return 0.0


def _ratio_score(hits: int, predicted: int, target: int) -> Score:
    precision = hits / predicted
    recall = hits / target
    return Score(precision, recall, _fmeasure(precision, recall))


def _ngram_score(target: Counter, prediction: Counter, target_n: int, prediction_n: int) -> Score:
    """rouge_score._score_ngrams: clipped overlap over max(count, 1)."""
    get = prediction.get
    overlap = 0
    for gram, count in target.items():
        other = get(gram, 0)
        overlap += count if count < other else other
    precision = overlap / max(prediction_n, 1)
    recall = overlap / max(target_n, 1)
    return Score(precision, recall, _fmeasure(precision, recall))


def _summary_level_hits(reference: list[Tokens], candidate: list[Tokens]) -> int:
    """rouge_score._summary_level_lcs's hit count: union-LCS per reference sentence, no reuse."""
    remaining_reference: Counter = Counter()
    remaining_candidate: Counter = Counter()
    for sentence in reference:
        remaining_reference.update(sentence)
    for sentence in candidate:
        remaining_candidate.update(sentence)
    candidate_masks = [match_masks(sentence) for sentence in candidate]
    hits = 0
    for sentence in reference:
        union = 0
        for other, masks in zip(candidate, candidate_masks, strict=True):
            union |= lcs_positions(sentence, other, masks)
        position = 0
        while union:
            if union & 1:
                token = sentence[position]
                if remaining_candidate[token] > 0 and remaining_reference[token] > 0:
                    hits += 1
                    remaining_candidate[token] -= 1
                    remaining_reference[token] -= 1
            union >>= 1
            position += 1
    return hits


class RougeScorer:
    """Scores one prediction against one reference on rouge1, rouge2, rougeL and rougeLsum.

    ``score(reference, prediction)`` equals
    ``rouge_score.rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer).score(reference,
    prediction)`` field for field. A scorer keeps its tokenization caches, so reuse one instance
    for a whole batch.
    """

    def __init__(self, use_stemmer: bool = False) -> None:
        self.use_stemmer = use_stemmer
        self._tokenizer = Tokenizer(use_stemmer)

    def _sentences(self, text: str, tokens: Tokens) -> list[Tokens]:
        if "\n" not in text:
            return [tokens] if tokens else []
        return self._tokenizer.sentences(text)

    def score(self, reference: str, prediction: str) -> dict[str, Score]:
        """Scores of ``prediction`` against ``reference`` (rouge-score's argument order)."""
        tokenize = self._tokenizer.tokenize
        target = tokenize(reference)
        predicted = tokenize(prediction)
        m = len(target)
        n = len(predicted)

        unigrams_t = Counter(target)
        unigrams_p = Counter(predicted)
        rouge1 = _ngram_score(unigrams_t, unigrams_p, m, n)
        rouge2 = _ngram_score(
            Counter(pairwise(target)),
            Counter(pairwise(predicted)),
            max(m - 1, 0),
            max(n - 1, 0),
        )

        if m and n:
            # Iterate over the shorter sequence; the LCS length is symmetric.
            if m <= n:
                lcs = lcs_length(target, match_masks(predicted), n)
            else:
                lcs = lcs_length(predicted, match_masks(target), m)
            rouge_l = _ratio_score(lcs, n, m)
        else:
            lcs = 0
            rouge_l = _ZERO

        target_sentences = self._sentences(reference, target)
        predicted_sentences = self._sentences(prediction, predicted)
        if not target_sentences or not predicted_sentences:
            rouge_lsum = _ZERO
        elif len(target_sentences) == 1 and len(predicted_sentences) == 1:
            # One sentence each: the sentences are the whole token lists and union-LCS is the LCS.
            rouge_lsum = rouge_l
        else:
            hits = _summary_level_hits(target_sentences, predicted_sentences)
            rouge_lsum = _ratio_score(hits, n, m)

        return {"rouge1": rouge1, "rouge2": rouge2, "rougeL": rouge_l, "rougeLsum": rouge_lsum}

    def score_many(self, pairs: Iterable[tuple[str, str]]) -> list[dict[str, Score]]:
        """Score (reference, prediction) pairs in order, sharing the caches."""
        score = self.score
        return [score(reference, prediction) for reference, prediction in pairs]


def score_rows(scores: dict[str, Score], types: Sequence[str] = ROUGE_TYPES) -> dict[str, dict]:
    """The JSON form of one report's scores: ``{metric: {precision, recall, fmeasure}}``."""
    return {name: scores[name].to_dict() for name in types}
