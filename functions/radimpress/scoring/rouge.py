"""ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum, bit for bit equal to Google's rouge-score.

The arithmetic is rouge-score's (same divisions in the same order, so the same floats); what is
faster is everything around it: each distinct text is tokenized (one bytes.translate pass for
ASCII), stemmed and profiled once per scorer, identical pairs are scored once, n-gram overlaps
are set intersections when counts allow, LCS lengths are bit-parallel, and rougeLsum keeps
bit-parallel table rows so rouge-score's own traceback picks the very same union-LCS tokens.
Exact shortcuts skip work: texts sharing no token score 0 everywhere; an LCS is at most the
clipped unigram overlap, so an overlap of 1 (or 2 with a shared bigram) is the LCS; and when both
texts are one sentence, rougeLsum's union-LCS is the plain LCS that rougeL already has.

One difference in kind, not in value: where rouge-score returns the integer 0 for an empty text,
this returns 0.0 (``0 == 0.0``), so rows always serialize as floats.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import NamedTuple

from radimpress.scoring.lcs import lcs_length, lcs_positions, match_masks
from radimpress.scoring.tokenize import _ASCII_FOLD, TEXT_CACHE_SIZE, Tokenizer, Tokens, words

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
# Per-pair memo bound. With the per-text profiles (TEXT_CACHE_SIZE, about 3 KB each for an
# impression, 0.5 KB a pair) a full scorer holds at most about 70 MB: fine for a 512 MB Lambda.
PAIR_CACHE_SIZE = 20_000


class Score(NamedTuple):
    """Precision, recall and F1 of one metric (same fields as rouge_score.scoring.Score)."""

    precision: float
    recall: float
    fmeasure: float

    def to_dict(self) -> dict[str, float]:
        return {"precision": self.precision, "recall": self.recall, "fmeasure": self.fmeasure}


_ZERO = Score(0.0, 0.0, 0.0)


def clipped_overlap(target: dict, prediction: dict) -> int:
    """rouge-score's n-gram intersection: the sum over shared n-grams of the smaller count."""
    if len(prediction) < len(target):
        target, prediction = prediction, target
    get = prediction.get
    overlap = 0
    for gram, count in target.items():
        other = get(gram)
        if other:
            overlap += count if count < other else other
    return overlap


def _summary_level_hits(target: _Text, predicted: _Text) -> int:
    """rouge_score._summary_level_lcs's hit count: union-LCS per reference sentence, no reuse.

    The per-text unigram counts are rouge-score's token counters (sentences hold all tokens).
    Exact shortcuts: a candidate sentence sharing no token has an empty LCS; an identical one
    (stock lines repeat across reports) has every position; once the union holds every
    position of the reference sentence no further candidate can change it.
    """
    remaining_reference = dict(target.unigram_counts())
    remaining_candidate = dict(predicted.unigram_counts())
    candidates = predicted.sentence_masks or predicted.build_sentence_masks()
    hits = 0
    for sentence in target.sentences:
        union = 0
        every = (1 << len(sentence)) - 1
        for other, masks in candidates:
            if other == sentence:
                union = every
            elif not masks.keys().isdisjoint(sentence):
                union |= lcs_positions(sentence, other, masks)
            if union == every:
                break
        position = 0
        while union:
            if union & 1:
                token = sentence[position]  # in both texts: it is in a common subsequence
                if remaining_candidate[token] > 0 and remaining_reference[token] > 0:
                    hits += 1
                    remaining_candidate[token] -= 1
                    remaining_reference[token] -= 1
            union >>= 1
            position += 1
    return hits


def tally(items: Iterable) -> dict:
    """How many times each item occurs (rouge-score's token Counter, without its overhead)."""
    counts: dict = {}
    get = counts.get
    for item in items:
        counts[item] = get(item, 0) + 1
    return counts


class _Text:
    """Everything about one text that does not depend on the other text of a pair (cached).

    Most impressions repeat no word and no bigram, so overlaps are set intersections (in C);
    counts, bigrams and LCS masks are built only when a pair needs them.
    """

    __slots__ = (
        "bigram_count",
        "bigram_set",
        "bigrams",
        "bigrams_distinct",
        "length",
        "masks",
        "sentence_masks",
        "sentences",
        "tokens",
        "unigrams",
        "unigrams_distinct",
        "vocabulary",
    )

    def __init__(self, text: str, tokenizer: Tokenizer) -> None:
        if tokenizer.use_stemmer:
            tokens = tokenizer.tokenize(text, cache=False)  # this object is the cache
        elif text.isascii():  # tokenize.words inlined: one C pass, no call frames
            tokens = tuple(text.encode("ascii").translate(_ASCII_FOLD).decode("ascii").split())
        else:
            tokens = tuple(words(text))
        self.tokens = tokens
        self.length = length = len(tokens)
        self.bigram_count = length - 1 if length > 1 else 0
        self.vocabulary = vocabulary = set(tokens)
        self.unigrams_distinct = len(vocabulary) == length
        self.unigrams: dict[str, int] | None = None  # counts: see unigram_counts()
        self.bigram_set: set[tuple[str, str]] | None = None  # see bigram_types()
        self.bigrams_distinct = True
        self.bigrams: dict[tuple[str, str], int] | None = None  # counts: see bigram_counts()
        self.masks: dict[str, int] | None = None  # see matches()
        self.sentence_masks: list[tuple[Tokens, dict[str, int]]] | None = None
        if "\n" in text:
            self.sentences = tokenizer.sentences(text)
        else:
            self.sentences = [tokens] if tokens else []

    def unigram_counts(self) -> dict[str, int]:
        if self.unigrams is None:
            self.unigrams = (
                dict.fromkeys(self.tokens, 1) if self.unigrams_distinct else tally(self.tokens)
            )
        return self.unigrams

    def bigram_types(self) -> set[tuple[str, str]]:
        """The distinct bigrams (and whether each occurs once, ``bigrams_distinct``)."""
        if self.bigram_set is None:
            self.bigram_set = set(pairwise(self.tokens))
            self.bigrams_distinct = len(self.bigram_set) == self.bigram_count
        return self.bigram_set

    def bigram_counts(self) -> dict[tuple[str, str], int]:
        if self.bigrams is None:
            self.bigrams = tally(pairwise(self.tokens))
        return self.bigrams

    def build_sentence_masks(self) -> list[tuple[Tokens, dict[str, int]]]:
        """Each sentence with its match masks, for union-LCS against this text's sentences."""
        if self.sentence_masks is None:
            self.sentence_masks = [(s, match_masks(s)) for s in self.sentences]
        return self.sentence_masks

    def matches(self) -> dict[str, int]:
        """Bit sets of each token's positions, for the bit-parallel LCS."""
        if self.masks is None:
            self.masks = match_masks(self.tokens)
        return self.masks


_new_score = tuple.__new__  # Score(...) without the Python-level __new__ frame: same tuple
Counts = tuple[int, int, int, int, int, int]


def scores_from_counts(counts: Counts) -> dict[str, Score]:
    """The four scores of a pair's :meth:`RougeScorer.counts`: rouge-score's divisions, in its
    order, so the same floats (a zero count gives 0/x = 0.0 and F1 0.0, as rouge-score does)."""
    m, n, overlap1, overlap2, lcs, hits = counts
    precision = overlap1 / (n or 1)
    recall = overlap1 / (m or 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    rouge1 = _new_score(Score, (precision, recall, f1))
    precision = overlap2 / (n - 1 if n > 1 else 1)
    recall = overlap2 / (m - 1 if m > 1 else 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    rouge2 = _new_score(Score, (precision, recall, f1))
    if not (m and n):
        return {"rouge1": rouge1, "rouge2": rouge2, "rougeL": _ZERO, "rougeLsum": _ZERO}
    # rouge_score._score_lcs, and _summary_level_lcs's hits over the same token counts.
    precision = lcs / n
    recall = lcs / m
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    rouge_l = _new_score(Score, (precision, recall, f1))
    if hits == lcs:
        rouge_lsum = rouge_l
    else:
        precision = hits / n
        recall = hits / m
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
        rouge_lsum = _new_score(Score, (precision, recall, f1))
    return {"rouge1": rouge1, "rouge2": rouge2, "rougeL": rouge_l, "rougeLsum": rouge_lsum}


class RougeScorer:
    """Scores one prediction against one reference on rouge1, rouge2, rougeL and rougeLsum.

    ``score(reference, prediction)`` equals
    ``rouge_score.rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer).score(reference,
    prediction)`` field for field. A scorer caches the token processing of each text it has seen,
    so reuse one instance for a whole batch (or a warm Lambda container).
    """

    def __init__(self, use_stemmer: bool = False) -> None:
        self.use_stemmer = use_stemmer
        self._tokenizer = Tokenizer(use_stemmer)
        self._texts: dict[str, _Text] = {}
        self._pairs: dict[tuple[str, str], dict[str, Score]] = {}
        self._by_counts: dict[Counts, dict[str, Score]] = {}

    def _text(self, text: str) -> _Text:
        if not isinstance(text, str):
            raise TypeError(f"texts to score must be str, got {type(text).__name__}")
        profile = _Text(text, self._tokenizer)
        if len(self._texts) >= TEXT_CACHE_SIZE:
            self._texts.clear()
        self._texts[text] = profile
        return profile

    def score(self, reference: str, prediction: str) -> dict[str, Score]:
        """Scores of ``prediction`` against ``reference`` (rouge-score's argument order).

        Identical pairs are common (normal studies, a model that repeats stock impressions), so
        results are memoised per pair; each call gets its own dict.
        """
        key = (reference, prediction)
        cached = self._pairs.get(key)
        if cached is None:
            cached = self._score(reference, prediction)
            if len(self._pairs) >= PAIR_CACHE_SIZE:
                self._pairs.clear()
            self._pairs[key] = cached
        return dict(cached)

    def _score(self, reference: str, prediction: str) -> dict[str, Score]:
        """The scores of one pair, from its counts; equal counts share one (memoised) dict."""
        counts = self.counts(reference, prediction)
        scores = self._by_counts.get(counts)
        if scores is None:
            scores = scores_from_counts(counts)
            if len(self._by_counts) >= PAIR_CACHE_SIZE:
                self._by_counts.clear()
            self._by_counts[counts] = scores
        return scores

    def counts(self, reference: str, prediction: str) -> Counts:
        """(m, n, overlap1, overlap2, lcs, hits): everything the four scores are quotients of.

        m and n are the token counts of reference and prediction, overlap1 and overlap2 the
        clipped unigram and bigram overlaps, lcs the LCS length and hits rougeLsum's union-LCS
        hit count. Scores are computed from these integers by :func:`scores_from_counts`, so a
        caller can memoise scores (and anything made from them) per counts tuple: cheaper to
        hash than floats, and far fewer distinct ones than pairs.

        Written out in one function: at a few microseconds a pair, call overhead is the cost.
        """
        texts = self._texts
        target = texts.get(reference) or self._text(reference)
        predicted = texts.get(prediction) or self._text(prediction)
        m = target.length
        n = predicted.length
        if target is predicted or (m == n and target.tokens == predicted.tokens):
            # Every token, bigram and LCS position matches; rougeLsum's union-LCS hits every
            # token of every sentence when the sentences agree too.
            if target.sentences == predicted.sentences:
                return (m, n, m, target.bigram_count, m, m)
            return (m, n, m, target.bigram_count, m, _summary_level_hits(target, predicted))

        # rouge1 and rouge2: rouge_score._score_ngrams, clipped overlap over max(count, 1).
        if target.unigrams_distinct or predicted.unigrams_distinct:
            # Every count on one side is 1: each shared token adds exactly 1.
            overlap1 = len(target.vocabulary & predicted.vocabulary)
        else:
            overlap1 = clipped_overlap(target.unigram_counts(), predicted.unigram_counts())
        if not overlap1:
            # Nothing shared (the commonest case for unrelated texts): every count is 0.
            return (m, n, 0, 0, 0, 0)
        if overlap1 > 1:
            target_bigrams = target.bigram_set or target.bigram_types()
            predicted_bigrams = predicted.bigram_set or predicted.bigram_types()
            if target.bigrams_distinct or predicted.bigrams_distinct:
                overlap2 = len(target_bigrams & predicted_bigrams)
            else:
                overlap2 = clipped_overlap(target.bigram_counts(), predicted.bigram_counts())
        else:
            overlap2 = 0  # a shared bigram needs two shared unigrams

        # rougeL: the LCS length, bit-parallel (m and n are not 0: a token is shared).
        if overlap1 == 1 or (overlap1 == 2 and overlap2):
            # LCS <= clipped unigram overlap; LCS >= 1 when a token is shared, >= 2 with a bigram.
            lcs = overlap1
        elif m <= n:  # iterate over the shorter sequence; the LCS length is symmetric
            lcs = lcs_length(target.tokens, predicted.masks or predicted.matches(), n)
        else:
            lcs = lcs_length(predicted.tokens, target.masks or target.matches(), m)

        # rougeLsum: rouge_score._summary_level_lcs.
        if len(target.sentences) == 1 and len(predicted.sentences) == 1:
            return (m, n, overlap1, overlap2, lcs, lcs)  # union-LCS is the LCS
        return (m, n, overlap1, overlap2, lcs, _summary_level_hits(target, predicted))

    def score_many(self, pairs: Iterable[tuple[str, str]]) -> list[dict[str, Score]]:
        """Score (reference, prediction) pairs in order, sharing the caches."""
        score = self.score
        return [score(reference, prediction) for reference, prediction in pairs]


def score_rows(scores: dict[str, Score], types: Sequence[str] = ROUGE_TYPES) -> dict[str, dict]:
    """The JSON form of one report's scores: ``{metric: {precision, recall, fmeasure}}``."""
    return {name: scores[name].to_dict() for name in types}
