"""The prompt a hosted LLM gets: the instruction, k similar training reports, then the findings.

Few-shot examples are the training pairs whose findings read most like the report's, found with
BM25 (Okapi, k1=1.2, b=0.75, Lucene's idf) over words. The project's own retrieval model
(``radimpress_training.models.retrieval``) ranks the same way in spirit (TF-IDF cosine) but needs
numpy, SciPy and scikit-learn, which the Lambda package does not carry (docs/contracts.md: no
numpy in a handler's imports); this index is standard library only, so StartTransform can build
it from the training records it reads, in the Lambda, with no extra layer. It stays fast by
gathering candidates only from the query's rarer words (document frequency at most ``max_df`` of
the training reports), adding the next rarest word's reports only while there are too few, and
scoring those candidates on every query word: a query of common words ("Lungs are clear. No
effusion.") never scores the whole training set.
Identical queries are answered once (normal studies repeat word for word).

De-identification: records keep their sender's placeholder convention (``XXXX``, ``___``,
``[** **]``; ``radimpress.deid``). The findings go into the prompt as they came in; the examples
are rendered in the same convention, and the instruction names its token, so the model sees one
convention and answers in it. A training pair of the same study is never its own example.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from radimpress import deid
from radimpress.bedrock.model_input import Prompt

_WORD = re.compile(r"[a-z0-9]+|___")
K1 = 1.2
B = 0.75
MAX_DF = 0.1
# An example longer than this (findings + impression) is passed over, never cut: a long prompt
# costs tokens on every report and can overflow a small model's context.
MAX_EXAMPLE_CHARS = 3000
# Candidates kept per distinct query (enough for k examples after the exclusions above).
CACHED_CANDIDATES = 64

SYSTEM = (
    "You are a radiologist. You write the IMPRESSION section of a radiology report from its "
    "FINDINGS section: a short summary of the findings that matter, in the style of the "
    "examples. Answer with the impression text only, without a heading or any other words."
)
_PLACEHOLDERS = (
    " Words removed to protect patient privacy are written {token}: write {token} wherever "
    "you need such a word, and never guess what was removed."
)


@dataclass(frozen=True)
class Example:
    """One training report: its findings and the impression its radiologist wrote."""

    findings: str
    impression: str
    study_id: str | None = None


def examples_from_records(records: Iterable[Mapping[str, object]]) -> list[Example]:
    """The training records that have both findings and an impression, as examples."""
    out = []
    for record in records:
        findings, impression = record.get("findings"), record.get("impression")
        if isinstance(findings, str) and isinstance(impression, str) and impression.strip():
            study_id = record.get("study_id")
            out.append(Example(findings, impression, None if study_id is None else str(study_id)))
    return out


def words(text: str) -> list[str]:
    """The words BM25 compares: lower-cased, placeholders of every convention as one token."""
    return _WORD.findall(deid.normalize(text).lower())


class ExampleIndex:
    """BM25 over the examples' findings; :meth:`nearest` gives the k best for a report."""

    def __init__(
        self,
        examples: Sequence[Example],
        *,
        max_df: float = MAX_DF,
        max_example_chars: int = MAX_EXAMPLE_CHARS,
    ) -> None:
        self.examples = list(examples)
        self._max_example_chars = max_example_chars
        count = len(self.examples)
        counts = [Counter(words(example.findings)) for example in self.examples]
        self._lengths = [sum(c.values()) for c in counts]
        average = (sum(self._lengths) / count) if count else 1.0
        self._norm = [K1 * (1 - B + B * length / (average or 1.0)) for length in self._lengths]
        frequency = Counter(term for c in counts for term in c)
        self._idf = {
            term: math.log(1 + (count - df + 0.5) / (df + 0.5)) for term, df in frequency.items()
        }
        self._df = frequency
        self._rare_limit = max(1, int(max_df * count))
        # Postings of every word, and each report's own counts of the common words only (small),
        # so candidates found through rare words are scored on common words too.
        self._postings: dict[str, list[tuple[int, int]]] = {}
        self._common: list[dict[str, int]] = []
        for doc, c in enumerate(counts):
            for term, tf in c.items():
                self._postings.setdefault(term, []).append((doc, tf))
            self._common.append({t: tf for t, tf in c.items() if frequency[t] > self._rare_limit})
        self._cache: dict[tuple[str, ...], list[tuple[float, int]]] = {}

    def __len__(self) -> int:
        return len(self.examples)

    def _term_score(self, term: str, doc: int, tf: int) -> float:
        return self._idf[term] * tf * (K1 + 1) / (tf + self._norm[doc])

    def _terms(self, findings: str) -> tuple[str, ...]:
        return tuple(sorted({t for t in words(findings) if t in self._idf}))

    def _scores(self, terms: tuple[str, ...]) -> dict[int, float]:
        """BM25 score of the candidate examples for a query's (known, distinct) words.

        Candidates come from the rare words' postings; while they are fewer than
        ``CACHED_CANDIDATES``, the rarest remaining word's postings join them. Every candidate
        is scored on every query word."""
        searched = [t for t in terms if self._df[t] <= self._rare_limit]
        common = sorted((t for t in terms if self._df[t] > self._rare_limit), key=self._rarity)
        candidates = {doc for t in searched for doc, _ in self._postings[t]}
        while common and len(candidates) < CACHED_CANDIDATES:
            term = common.pop(0)
            searched.append(term)
            candidates.update(doc for doc, _ in self._postings[term])
        scores: dict[int, float] = {}
        for term in searched:
            for doc, tf in self._postings[term]:
                scores[doc] = scores.get(doc, 0.0) + self._term_score(term, doc, tf)
        for doc in scores:
            own = self._common[doc]
            for term in common:
                count = own.get(term)
                if count:
                    scores[doc] += self._term_score(term, doc, count)
        return scores

    def _rarity(self, term: str) -> tuple[int, str]:
        return self._df[term], term

    def ranked(self, findings: str, limit: int | None = None) -> list[tuple[float, int]]:
        """(score, example index) of the candidates, best first (ties: lower index first);
        the first ``limit`` only when given."""
        scores = self._scores(self._terms(findings))
        pairs = ((score, doc) for doc, score in scores.items())
        if limit is None:
            return sorted(pairs, key=_best_first)
        return heapq.nsmallest(limit, pairs, key=_best_first)

    def nearest(self, findings: str, k: int, exclude_study_id: str | None = None) -> list[Example]:
        """The ``k`` examples whose findings score best, excluding the report's own study and
        examples longer than ``max_example_chars``."""
        if k <= 0:
            return []
        terms = self._terms(findings)
        top = self._cache.get(terms)
        if top is None:
            top = self.ranked(findings, CACHED_CANDIDATES)
            self._cache[terms] = top
        chosen = self._choose(top, k, exclude_study_id)
        if len(chosen) < k and len(top) == CACHED_CANDIDATES:  # all cached ones passed over
            chosen = self._choose(self.ranked(findings), k, exclude_study_id)
        return chosen

    def _choose(
        self, ranked: list[tuple[float, int]], k: int, exclude_study_id: str | None
    ) -> list[Example]:
        chosen: list[Example] = []
        for _, doc in ranked:
            example = self.examples[doc]
            if exclude_study_id is not None and example.study_id == exclude_study_id:
                continue
            if len(example.findings) + len(example.impression) > self._max_example_chars:
                continue
            chosen.append(example)
            if len(chosen) == k:
                break
        return chosen


def _best_first(pair: tuple[float, int]) -> tuple[float, int]:
    return (-pair[0], pair[1])


def _one_line(text: str) -> str:
    return " ".join(text.split())


def build_prompt(findings: str, examples: Sequence[Example]) -> Prompt:
    """The instruction and the user turn for one report: the examples, most similar first, in
    the findings' placeholder convention, then the findings as they came in."""
    convention = deid.detect(findings)
    token = convention.value if convention is not None else deid.CANONICAL
    system = SYSTEM + _PLACEHOLDERS.format(token=token)
    parts = []
    if examples:
        parts.append("Examples of findings and the impression written for them:")
        for example in examples:
            shown_findings = deid.render(deid.normalize(_one_line(example.findings)), convention)
            shown_impression = deid.render(
                deid.normalize(_one_line(example.impression)), convention
            )
            parts.append(f"FINDINGS: {shown_findings}\nIMPRESSION: {shown_impression}")
        parts.append("Now write the impression for these findings.")
    parts.append(f"FINDINGS: {_one_line(findings)}\nIMPRESSION:")
    return Prompt(system=system, user="\n\n".join(parts))
