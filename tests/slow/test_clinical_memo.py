"""The labeler's sentence memo labels exactly as the whole-text clause path it replaced.

A property test over 4,000+ hand-written, synthetic and recombined texts (hostile joins,
placeholders, case), cold and warm memo: labels and normalisation all equal. The reference path
(every clause of the whole normalised text, no memo, CheXpert aggregation) is written out here.
"""

from __future__ import annotations

from test_clinical_labeler import CASES  # the unit tests' hand-written sentences

from radimpress.clinical.labeler import label_text, normalise


def _reference_mentions(text: str) -> list:
    """The mentions as first found: every clause of the whole normalised text, no memo."""
    from radimpress.clinical import labeler

    normal = normalise(text)
    bounds, start = [], 0
    for match in labeler._SENTENCE.finditer(normal):
        bounds.append((start, match.start()))
        start = match.end()
    bounds.append((start, len(normal)))
    return [
        mention
        for s_start, s_end in bounds
        for c_start, c_end in labeler._split_clause(normal, s_start, s_end)
        for mention in labeler._clause_mentions(normal, c_start, c_end)
    ]


def _many_texts() -> list[str]:
    """Hand-written cases, synthetic reports, and seeded recombinations of their sentences with
    hostile punctuation, case, placeholders, numbers and clause words at the joins."""
    import random

    from radimpress_workstation.synthetic import generate_reports

    texts = [text for text, _, _ in CASES]
    for report in generate_reports(400, 11):
        texts += [report["findings"], report["impression"], report.get("background") or ""]
    rng = random.Random(13)
    pieces = [p for t in texts for p in t.replace("\n", ". ").split(". ") if p]
    joins = [". ", "; ", ".\n", "\n", "! ", " but ", ", which ", " however ", "? ", "1.5 ", " "]
    extras = ["XXXX", "___", "soft tissue", "bone", "pleural", "no", "not", "may", "-", "/", "  "]
    for _ in range(3000):
        parts = [rng.choice(pieces) for _ in range(rng.randint(1, 5))]
        text = ""
        for part in parts:
            if rng.random() < 0.3:
                words = part.split(" ")
                words.insert(rng.randrange(len(words) + 1), rng.choice(extras))
                part = " ".join(words)
            text += (rng.choice(joins) if text else "") + part
        texts.append(text.upper() if rng.random() < 0.1 else text)
    return texts


def test_memoised_sentences_label_exactly_as_whole_text_clauses() -> None:
    from radimpress.clinical import labeler

    texts = [*_many_texts(), "", "  ", "1.", "x\t\ty", "A--B", "xX_x __", "\n\n", "No. ."]
    for cold in (True, False):  # memo empty, then full
        if cold:
            labeler._sentence_memo.clear()
        for text in texts:
            assert label_text(text) == _reference_labels(text), text
            assert normalise(text) == _reference_normalise(text), text
    assert len(labeler._sentence_memo) > 100


def _reference_normalise(text: str) -> str:
    from radimpress.clinical import labeler

    text = labeler._PLACEHOLDER.sub(" xxxx ", text)
    text = labeler._HYPHEN.sub(" ", text).lower()
    return labeler._SPACES.sub(" ", text)


def _reference_labels(text: str) -> dict[str, str]:
    """CheXpert aggregation: per observation positive beats uncertain beats negative; No Finding
    first, positive unless something is positive or uncertain; then CheXpert's order."""
    import re

    from radimpress.clinical.observations import NO_FINDING, OBSERVATIONS

    if not text or not re.search(r"[A-Za-z]", text):
        return {}
    rank = {"negative": 0, "uncertain": 1, "positive": 2}
    best: dict[str, str] = {}
    for mention in _reference_mentions(text):
        current = best.get(mention.observation)
        if current is None or rank[mention.status] > rank[current]:
            best[mention.observation] = mention.status
    abnormal = any(status != "negative" for status in best.values())
    ordered = {name: best[name] for name in OBSERVATIONS if name in best and name != NO_FINDING}
    return {NO_FINDING: "negative" if abnormal else "positive", **ordered}
