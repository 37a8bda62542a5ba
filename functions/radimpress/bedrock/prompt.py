"""The prompt a hosted LLM gets: the instruction, k similar training reports, then the findings.

Few-shot examples are the training pairs whose findings read most like the report's, found with
BM25 (Okapi, k1=1.2, b=0.75, Lucene's idf) over words. The project's own retrieval model
(``radimpress_training.models.retrieval``) ranks the same way in spirit (TF-IDF cosine) but needs
numpy, SciPy and scikit-learn, which the Lambda package does not carry (docs/contracts.md: no
numpy in a handler's imports); this index is standard library only, so StartTransform can build
it from the training records it reads, in the Lambda, with no extra layer. Search is MaxScore
over impact-sorted postings (each word's reports, highest BM25 term score first): a bounded first
set of candidates sets a bar, and only reports that can still pass it are scored, so the
``EXACT_TOP`` best are exhaustive BM25's (``budget`` caps the work per query; a test checks the
result against scoring every report). bench/bedrock_examples.py, same run, 2 shared cores: 50,000
synthetic training reports build in 3.1 s (262 MB) and answer 2,000 queries in 27 s, 6.7x the
scikit-learn reference's time; Open-i's 1,084 answer its 300 dev queries in 0.7 s. Extrapolated
to MIMIC-CXR's 91,544 (not measured): about 0.5 GB and a minute for 2,000 reports, so that branch
of StartTransform wants 1 GB of memory and a few minutes, not the 60 s default.
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
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from radimpress import deid
from radimpress.bedrock.model_input import Prompt

_WORD = re.compile(r"[a-z0-9]+|___")
K1 = 1.2
B = 0.75
# The first candidates scored per distinct query, and how many best examples are then exact
# (ExampleIndex._scores).
CANDIDATES = 512
EXACT_TOP = 8
# Reports scored in full beyond the first candidates, at most, per distinct query.
BUDGET = 2048
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
        candidates: int = CANDIDATES,
        budget: int = BUDGET,
        max_example_chars: int = MAX_EXAMPLE_CHARS,
    ) -> None:
        self.examples = list(examples)
        self._max_example_chars = max_example_chars
        self._candidates = candidates
        self._budget = budget
        count = len(self.examples)
        self._tf = [Counter(words(example.findings)) for example in self.examples]
        lengths = [sum(c.values()) for c in self._tf]
        average = (sum(lengths) / count) if count else 1.0
        self._norm = [K1 * (1 - B + B * length / (average or 1.0)) for length in lengths]
        self._df = Counter(term for c in self._tf for term in c)
        self._idf = {
            term: math.log(1 + (count - df + 0.5) / (df + 0.5)) for term, df in self._df.items()
        }
        # Each word's reports and its BM25 term score in each, highest first (high counts in
        # short reports), so a common word offers its best reports as candidates, not all.
        postings: dict[str, list[tuple[float, int]]] = {}
        for doc, c in enumerate(self._tf):
            for term, tf in c.items():
                postings.setdefault(term, []).append((-self._term_score(term, doc, tf), doc))
        self._postings: dict[str, tuple[array[int], array[float]]] = {}
        for term, pairs in postings.items():
            pairs.sort()
            docs = array("i", (doc for _, doc in pairs))
            self._postings[term] = (docs, array("d", (-score for score, _ in pairs)))
        self._cache: dict[tuple[str, ...], list[tuple[float, int]]] = {}

    def __len__(self) -> int:
        return len(self.examples)

    def _term_score(self, term: str, doc: int, tf: int) -> float:
        return self._idf[term] * tf * (K1 + 1) / (tf + self._norm[doc])

    def _terms(self, findings: str) -> tuple[str, ...]:
        return tuple(sorted({t for t in words(findings) if t in self._idf}))

    def _score(self, doc: int, terms: tuple[str, ...]) -> float:
        own = self._tf[doc]
        return sum(self._term_score(term, doc, own[term]) for term in terms if term in own)

    def _scores(self, terms: tuple[str, ...]) -> dict[int, float]:
        """BM25 scores of the examples that can be among the ``EXACT_TOP`` best (MaxScore).

        First a bounded candidate set (:meth:`_first_candidates`); the ``EXACT_TOP``-th best
        score among them is the bar. A word adds at most its highest term score (the head of its
        postings) to any report, so a report holding only the words whose highest scores sum to
        no more than the bar cannot pass it: only the other ("essential") words' postings are
        read in full, their term scores summed per report; reports are then scored on the rest,
        best essential sum first, only while they could still pass the bar (which rises as
        better reports are found), at most ``budget`` of them."""
        scores = self._first_candidates(terms)
        best = heapq.nlargest(EXACT_TOP, scores.values())
        heapq.heapify(best)
        highest = {term: self._postings[term][1][0] for term in terms}
        bounded, reach = _bounded_words(highest, best[0] if len(best) == EXACT_TOP else 0.0)
        partial: dict[int, float] = {}
        for term in terms:
            if term not in bounded:
                docs, impacts = self._postings[term]
                for doc, impact in zip(docs, impacts, strict=True):
                    partial[doc] = partial.get(doc, 0.0) + impact
        best_words = sorted(bounded, key=lambda t: (-highest[t], t))
        for doc, essential in sorted(partial.items(), key=_by_score)[: self._budget]:
            bar = best[0] if len(best) == EXACT_TOP else 0.0
            if essential + reach <= bar:
                break  # sorted: no later report can pass the bar either
            if doc in scores:
                continue
            score = self._finish(doc, essential, best_words, highest, reach, bar)
            if score is not None:
                scores[doc] = score
                if len(best) < EXACT_TOP:
                    heapq.heappush(best, score)
                elif score > best[0]:
                    heapq.heapreplace(best, score)
        return scores

    def _first_candidates(self, terms: tuple[str, ...]) -> dict[int, float]:
        """The query's words, rarest first, each offering the ``candidates`` reports it weighs
        most in, until there are that many; each scored in full."""
        scores: dict[int, float] = {}
        for term in sorted(terms, key=lambda t: (self._df[t], t)):
            if len(scores) >= self._candidates:
                break
            for doc in self._postings[term][0][: self._candidates]:
                if doc not in scores:
                    scores[doc] = self._score(doc, terms)
        return scores

    def _finish(
        self,
        doc: int,
        score: float,
        best_words: list[str],
        highest: Mapping[str, float],
        reach: float,
        bar: float,
    ) -> float | None:
        """A report's full score from its essential sum, or None once it cannot pass ``bar``."""
        own = self._tf[doc]
        for term in best_words:
            if score + reach <= bar:
                return None
            reach -= highest[term]
            if term in own:
                score += self._term_score(term, doc, own[term])
        return score

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


def _by_score(item: tuple[int, float]) -> tuple[float, int]:
    return (-item[1], item[0])


def _bounded_words(highest: Mapping[str, float], bar: float) -> tuple[set[str], float]:
    """The words whose highest term scores, lowest first, sum to no more than ``bar``, and
    that sum: a report holding only these words cannot pass the bar."""
    bounded: set[str] = set()
    reach = 0.0
    for term in sorted(highest, key=lambda t: (highest[t], t)):
        if reach + highest[term] > bar:
            break
        reach += highest[term]
        bounded.add(term)
    return bounded, reach


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
