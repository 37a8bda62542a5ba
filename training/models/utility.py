"""ROUGE-1 + ROUGE-2 + ROUGE-L F1 of text pairs, the utility `select`'s choices maximise.

`select` scores hundreds of (reference, candidate) pairs per report: the minimum-Bayes-risk
template compares the impressions of a report's neighbours pairwise, and the wording compares
each option with every pseudo-reference. ``RougeScorer.score`` serves scoring: four metrics
(rougeLsum included), a fresh dict per call and a 20,000-pair memo emptied when full, which at
16,000 reports meant 1.8 million full scores and most of the training time. Here a text gets an
integer id and its token profile is built once, rougeLsum (not part of the utility) is skipped,
and the utility of a pair of ids is memoised in a bounded dict: impressions repeat (4,000
synthetic reports hold about 1,000 distinct ones; Open-i 1,084 hold 418), so most pairs recur.

The arithmetic is ``radimpress.scoring.rouge``'s (itself rouge-score's, same divisions in the same
order) and unit tests hold the sums equal to ``RougeScorer`` bit for bit, so choices do not move.
"""

from __future__ import annotations

from itertools import pairwise

from radimpress.scoring.lcs import lcs_length, match_masks
from radimpress.scoring.rouge import clipped_overlap, tally
from radimpress.scoring.tokenize import Tokenizer

# Memoised pairs (int key -> float, about 100 bytes each): at most about 50 MB, then emptied.
PAIR_CACHE_SIZE = 500_000
# Unregistered texts (pseudo-references, wording options) recur across reports with the same
# template and sentences: their profiles and pair utilities are memoised too, emptied when full.
TEXT_CACHE_SIZE = 50_000
TEXT_PAIR_CACHE_SIZE = 200_000
_ID_BITS = 32


class Profile:
    """What a text brings to any pair: tokens, unigram/bigram sets or counts, LCS masks."""

    __slots__ = (
        "bigram_count",
        "bigram_counts",
        "bigrams",
        "bigrams_distinct",
        "length",
        "masks",
        "tokens",
        "unigram_counts",
        "unigrams_distinct",
        "vocabulary",
    )

    def __init__(self, tokens: tuple[str, ...]) -> None:
        self.tokens = tokens
        self.length = length = len(tokens)
        self.bigram_count = length - 1 if length > 1 else 0
        self.vocabulary = set(tokens)
        self.unigrams_distinct = len(self.vocabulary) == length
        self.unigram_counts = None if self.unigrams_distinct else tally(tokens)
        self.bigrams = set(pairwise(tokens))
        self.bigrams_distinct = len(self.bigrams) == self.bigram_count
        self.bigram_counts = None if self.bigrams_distinct else tally(pairwise(tokens))
        self.masks = match_masks(tokens)


def _f1(overlap: int, predicted: int, target: int) -> float:
    precision = overlap / (predicted or 1)
    recall = overlap / (target or 1)
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def utility(target: Profile, predicted: Profile) -> float:
    """F1 of rouge1 + rouge2 + rougeL of ``predicted`` against ``target`` (the reference)."""
    m = target.length
    n = predicted.length
    if target is predicted or (m == n and target.tokens == predicted.tokens):
        if not m:
            return 0.0
        return 1.0 + (1.0 if target.bigram_count else 0.0) + 1.0  # no bigram: rouge2 is 0
    if target.unigrams_distinct or predicted.unigrams_distinct:
        overlap1 = len(target.vocabulary & predicted.vocabulary)
    else:
        overlap1 = clipped_overlap(target.unigram_counts, predicted.unigram_counts)
    if not overlap1:
        return 0.0
    if overlap1 > 1:
        if target.bigrams_distinct or predicted.bigrams_distinct:
            overlap2 = len(target.bigrams & predicted.bigrams)
        else:
            overlap2 = clipped_overlap(target.bigram_counts, predicted.bigram_counts)
    else:
        overlap2 = 0
    total = _f1(overlap1, n, m) + _f1(overlap2, predicted.bigram_count, target.bigram_count)
    if overlap1 == 1 or (overlap1 == 2 and overlap2):
        lcs = overlap1  # LCS <= clipped unigram overlap, >= 1 (2) with a shared token (bigram)
    elif m <= n:
        lcs = lcs_length(target.tokens, predicted.masks, n)
    else:
        lcs = lcs_length(predicted.tokens, target.masks, m)
    return total + _f1(lcs, n, m)


class Utility:
    """Utility of text pairs by id, memoised; ids and profiles of registered texts are kept."""

    def __init__(self, cache_size: int = PAIR_CACHE_SIZE) -> None:
        self._tokenizer = Tokenizer(use_stemmer=False)
        self._ids: dict[str, int] = {}
        self._profiles: list[Profile] = []
        self._pairs: dict[int, float] = {}
        self._cache_size = cache_size
        self._texts: dict[str, Profile] = {}
        self._text_pairs: dict[tuple[str, str], float] = {}

    def profile(self, text: str) -> Profile:
        """A text's profile (registered texts keep theirs; others are memoised, bounded)."""
        found = self._texts.get(text)
        if found is None:
            found = Profile(self._tokenizer.tokenize(text, cache=False))
            if len(self._texts) >= TEXT_CACHE_SIZE:
                self._texts.clear()
            self._texts[text] = found
        return found

    def expected(self, references: list[tuple[int, float]], candidate: int) -> float:
        """Weighted utility sum of registered ``candidate`` against the ``(id, weight)``
        references, added in order (the same float as ``sum(w * pair(ref, candidate))``)."""
        get = self._pairs.get
        total = 0.0
        for reference, weight in references:
            value = get((reference << _ID_BITS) | candidate)
            if value is None:
                value = self.pair(reference, candidate)
            total += weight * value
        return total

    def texts(self, reference: str, candidate: str) -> float:
        """Utility of ``candidate`` against ``reference``, any texts, memoised (bounded)."""
        key = (reference, candidate)
        value = self._text_pairs.get(key)
        if value is None:
            value = utility(self.profile(reference), self.profile(candidate))
            if len(self._text_pairs) >= TEXT_PAIR_CACHE_SIZE:
                self._text_pairs.clear()
            self._text_pairs[key] = value
        return value

    def register(self, text: str) -> int:
        """The id of ``text`` (its profile kept for :meth:`pair`)."""
        found = self._ids.get(text)
        if found is None:
            found = self._ids[text] = len(self._profiles)
            self._profiles.append(Profile(self._tokenizer.tokenize(text, cache=False)))
        return found

    def pair(self, reference: int, candidate: int) -> float:
        """Utility of registered ``candidate`` against registered ``reference``."""
        key = (reference << _ID_BITS) | candidate
        value = self._pairs.get(key)
        if value is None:
            value = utility(self._profiles[reference], self._profiles[candidate])
            if len(self._pairs) >= self._cache_size:
                self._pairs.clear()
            self._pairs[key] = value
        return value
