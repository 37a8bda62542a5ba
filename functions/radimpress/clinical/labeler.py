"""Negation- and uncertainty-aware labels for chest X-ray text over the 14 CheXpert observations.

NegEx/ConText-style rules on precompiled regular expressions, standard library only. medspacy's
ConText and negspacy were considered: both need spaCy (tens of MB plus compiled extensions and a
language model) in a Score Lambda whose zip is limited to 250 MB unzipped, while their value here,
trigger lists with a scope, is a few dozen lines we can tune on expert labels and run in
milliseconds.

How a text is read: normalise (lower case, hyphens as spaces, `XXXX`/`___` placeholders as the
neutral word `xxxx`), split into sentences and then clauses (at "but", "however", "which", ...),
find mentions of each observation, and give each mention a status from the triggers in its clause:
a post-trigger shortly after it ("... is not excluded", "... has resolved") wins, else the nearest
trigger before it or inside it ("no", "without", "negative for", "may", "cannot exclude"), else
positive. Uncertainty triggers are matched first, so the "not" in "cannot exclude" is no negation;
pseudo-negations ("no change in", "no increase") are masked. Per observation, mentions aggregate
CheXpert-style: positive beats uncertain beats negative. "No Finding" is positive when the text
says something and nothing abnormal (any observation or other abnormality such as a granuloma) is
positive or uncertain, else negative.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from radimpress.clinical.observations import MENTIONS, NO_FINDING, OBSERVATIONS

POSITIVE = "positive"
UNCERTAIN = "uncertain"
NEGATIVE = "negative"

_RANK = {NEGATIVE: 0, UNCERTAIN: 1, POSITIVE: 2}

# Characters after a mention that a post-trigger may start within to apply to it ("the opacity in
# the left lower lobe has resolved").
_POST_WINDOW = 60

_PLACEHOLDER = re.compile(r"x{2,}|_{2,}", re.IGNORECASE)
_HYPHEN = re.compile(r"(?<=\w)[-/](?=\w)")
_SPACES = re.compile(r"[ \t]+")
_LETTER = re.compile(r"[A-Za-z]")
# Sentence ends: a full stop not inside a number (1.5 cm), semicolons, line breaks, "?" is kept as
# an uncertainty trigger in its own right. Written so that every alternative starts with its
# character ((?<!\d)\. as \.(?<!\d\.)): the regex engine then jumps between those characters
# instead of trying the look-behind at every position (twice as fast, the same matches).
_SENTENCE = re.compile(r"\.(?:(?<!\d\.)(?!\d)|(?=\s))|[;\n\r!]")
_CLAUSE = re.compile(
    r"\b(?:but|however|although|though|whereas|while|except|aside from|apart from|other than|"
    r"with the exception of|which|otherwise|now|there (?:is|are) (?=\w)(?!no\b))\b"
)

_PSEUDO = re.compile(
    r"\b(?:no|without|not) (?:(?:significant|substantial|appreciable|definite|interval|other|"
    r"signiﬁcant|marked|acute|gross|real) )?(?:change|changes|changed|increase|increased|"
    r"decrease|decreased|worsening|progression|improvement)\b|\bnot (?:only|significantly "
    r"changed|necessarily)\b|\bno longer (?:enlarged)\b"
)

_PRE_UNCERTAIN = re.compile(
    r"\b(?:cannot|can not|can't|could not|not) (?:be )?(?:entirely |completely |totally )?"
    r"(?:exclude|excluded|rule out|ruled out|be ruled out|excluded)\b|"
    r"\b(?:may|might|could|possibl\w*|probabl\w*|likely|suspect\w*|suspicious|suspicion|"
    r"concern(?:ing)?|question\w*|suggest\w*|borderline|equivocal|versus|vs|differential|"
    r"consider\w*|atypical|presum\w*|represent\w*|indeterminate|perhaps|favou?r\w*|worrisome|"
    r"uncertain|unclear|suggestion|rule out|r o)\b|\?"
)
_POST_UNCERTAIN = re.compile(
    r"^[^.]*?\b(?:(?:is|are|was) )?(?:not (?:entirely |completely )?(?:excluded|ruled out)|"
    r"cannot be (?:entirely |completely )?(?:excluded|ruled out)|(?:is|are) (?:possible|"
    r"suspected|questioned|not excluded)|versus|vs)\b"
)
_UNCERTAIN_NEGATION = re.compile(r"(?:cannot|can not|can't|could not|not) .*")
# Uncertainty words that read as part of a negated list ("no consolidation, suspicious opacity or
# effusion", "no opacity to suggest pneumonia") whenever a negation comes earlier in the clause.
_LIST_UNCERTAINTY = re.compile(
    r"suspicio\w*|suggest\w*|concern\w*|worrisome|questionabl\w*|convincing|definite|apparent"
)
_PRE_NEGATIVE = re.compile(
    r"\b(?:no|not|without|negative for|free of|clear of|absence of|absent|nor|neither|none|"
    r"no evidence of|resolution of|resolved|resolving|removal of|removed|rather than|"
    r"exclude|excluded|ruled out)\b"
)
_POST_NEGATIVE = re.compile(
    r"^[^.]*?\b(?:(?:has|have) (?:\w+ )?(?:resolved|cleared|been removed|been (?:\w+ )?resolved)|"
    r"(?:is|are|was|were) (?:no longer|not) (?:\w+ )?(?:seen|identified|present|visualized|"
    r"demonstrated|evident|noted|appreciated|visible|detected|enlarged)|resolved|"
    r"not (?:seen|identified|present|visualized|demonstrated|evident|noted|appreciated|visible)|"
    r"(?:is|are) absent|removed|(?:is|are|was|were|appears?|remains?) (?:within (?:the )?)?"
    r"(?:normal|limits of normal|normal limits))\b"
)

_LIST_JOIN = re.compile(r"[\s,]*(?:(?:and|or)\s+)?(?:\w+\s+){0,3}")


@dataclass(frozen=True)
class Mention:
    """One mention of an observation: where it is in the normalised text, and its status."""

    observation: str
    start: int
    end: int
    status: str


def _compile(patterns: Iterable[str]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(f"(?:{p})" for p in patterns) + r")")


_MENTION_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, _compile(patterns)) for name, patterns in MENTIONS.items()
)


def normalise(text: str) -> str:
    """Lower case, placeholders as `xxxx`, hyphens and slashes inside words as spaces."""
    # Each substitution only where it can match (most texts have no placeholder or hyphen).
    if "__" in text or "xx" in text or "XX" in text or "xX" in text or "Xx" in text:
        text = _PLACEHOLDER.sub(" xxxx ", text)
    if "-" in text or "/" in text:
        text = _HYPHEN.sub(" ", text)
    text = text.lower()
    if "  " in text or "\t" in text:
        text = _SPACES.sub(" ", text)
    return text


def _split_clause(text: str, start: int, end: int) -> Iterable[tuple[int, int]]:
    if start >= end:
        return
    cut = start
    for match in _CLAUSE.finditer(text, start, end):
        if match.start() > cut:
            yield cut, match.start()
        cut = match.start()
    yield cut, end


def _spans(pattern: re.Pattern[str], text: str, start: int, end: int) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(text, start, end)]


def _overlaps(span: tuple[int, int], others: list[tuple[int, int]]) -> bool:
    return any(span[0] < o_end and o_start < span[1] for o_start, o_end in others)


def _clause_mentions(text: str, start: int, end: int) -> list[Mention]:
    found: list[tuple[str, int, int]] = []
    for name, pattern in _MENTION_PATTERNS:
        for match in pattern.finditer(text, start, end):
            found.append((name, match.start(), match.end()))
    if not found:
        return []
    pseudo = _spans(_PSEUDO, text, start, end)
    uncertain = [s for s in _spans(_PRE_UNCERTAIN, text, start, end) if not _overlaps(s, pseudo)]
    negative = [
        s
        for s in _spans(_PRE_NEGATIVE, text, start, end)
        if not _overlaps(s, pseudo) and not _overlaps(s, uncertain)
    ]
    mention_spans = [(s, e) for _, s, e in found]
    # "No definite/suspicious/apparent X": an uncertainty word governed by a negation before it,
    # with no mention between, is part of that negation.
    uncertain = [
        u
        for u in uncertain
        if not any(
            n_end <= u[0] and not any(n_end <= m_s < u[0] for m_s, _ in mention_spans)
            for _, n_end in negative
        )
        or _UNCERTAIN_NEGATION.fullmatch(text, u[0], u[1])
    ]
    uncertain = [
        u
        for u in uncertain
        if not (
            _LIST_UNCERTAINTY.fullmatch(text, u[0], u[1])
            and any(n_end <= u[0] for _, n_end in negative)
        )
    ]
    triggers = sorted([(s, UNCERTAIN) for s in uncertain] + [(s, NEGATIVE) for s in negative])
    mentions = []
    for name, m_start, m_end in found:
        status = _post_status(text, m_end, end, mention_spans)
        if status is None:
            status = POSITIVE
            for (t_start, t_end), kind in triggers:
                if t_start >= m_end:
                    break
                if _overlaps((t_start, t_end), mention_spans) and not (m_start <= t_start < m_end):
                    # A trigger word inside another mention ("pleural effusion or pneumothorax":
                    # "or" is not inside) only governs that mention.
                    continue
                status = kind
        mentions.append(Mention(name, m_start, m_end, status))
    return mentions


def _post_status(
    text: str, m_end: int, clause_end: int, mention_spans: list[tuple[int, int]]
) -> str | None:
    window_end = min(clause_end, m_end + _POST_WINDOW)
    window = text[m_end:window_end]
    for pattern, kind in ((_POST_NEGATIVE, NEGATIVE), (_POST_UNCERTAIN, UNCERTAIN)):
        match = pattern.search(window)
        if match is None:
            continue
        trigger_start = m_end + match.end()
        # Another mention between this one and the trigger takes the trigger for itself, unless
        # they are joined as a list ("cardiomegaly and effusion have resolved").
        between = [s for s in mention_spans if m_end <= s[0] < trigger_start]
        if kind == UNCERTAIN and between:
            continue
        if between and not _LIST_JOIN.fullmatch(text[m_end : between[0][0]]):
            continue
        return kind
    return None


# A sentence's mentions depend on the sentence alone, so they are remembered by its text: reports
# repeat stock sentences ("no pleural effusion or pneumothorax") far more often than whole texts.
# Alone because nothing reads past a sentence's end (clause splitting and every search are bounded
# by it) and nothing before its start tells: the character before is a sentence end (not a word
# character, as the start of a string reads to \b), and no lookbehind can match across it, being
# letters and spaces, \d or \w only (tests/unit/test_clinical_labeler.py checks every pattern).
_MEMO_SIZE = 100_000  # sentences remembered at once; a full memo is simply cleared
_sentence_memo: dict[str, tuple[tuple[str, int, int, str], ...]] = {}


def _sentence_mentions(sentence: str) -> tuple[tuple[str, int, int, str], ...]:
    """(observation, start, end, status) of each mention in one sentence of normalised text,
    offsets in the sentence: every clause's ``_clause_mentions``, remembered by the sentence."""
    found = _sentence_memo.get(sentence)
    if found is None:
        found = tuple(
            (m.observation, m.start, m.end, m.status)
            for c_start, c_end in _split_clause(sentence, 0, len(sentence))
            for m in _clause_mentions(sentence, c_start, c_end)
        )
        if len(_sentence_memo) >= _MEMO_SIZE:
            _sentence_memo.clear()
        _sentence_memo[sentence] = found
    return found


def _labels(best: dict[str, str]) -> dict[str, str]:
    """A text's labels from each observation's strongest status: No Finding first (positive when
    nothing is positive or uncertain), then the mentioned observations in CheXpert's order."""
    abnormal = any(status != NEGATIVE for status in best.values())
    labels = {name: best[name] for name in OBSERVATIONS if name in best and name != NO_FINDING}
    return {NO_FINDING: NEGATIVE if abnormal else POSITIVE, **labels}


def label_text(text: str | None) -> dict[str, str]:
    """Observation -> "positive" | "uncertain" | "negative" for the observations `text` mentions.

    Observations not mentioned are absent. "No Finding" is present whenever the text has a word
    in it. Empty or missing text gives an empty mapping.
    """
    if not text or not _LETTER.search(text):
        return {}
    # Sentence by sentence (``_SENTENCE.split`` gives the text between sentence ends), each
    # observation keeping its strongest status.
    best: dict[str, str] = {}
    rank = _RANK
    for sentence in _SENTENCE.split(normalise(text)):
        if sentence:
            for name, _, _, status in _sentence_mentions(sentence):
                current = best.get(name)
                if current is None or rank[status] > rank[current]:
                    best[name] = status
    return _labels(best)


def positive_observations(labels: Mapping[str, str]) -> frozenset[str]:
    """Observations labelled positive or uncertain (uncertain counts as positive: CheXbert)."""
    return frozenset(name for name, status in labels.items() if status in (POSITIVE, UNCERTAIN))
