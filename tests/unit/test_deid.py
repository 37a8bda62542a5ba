"""Placeholder normalisation across the Open-i, MIMIC/MEDIQA and older MIMIC conventions."""

from __future__ import annotations

import pytest

from radimpress import deid


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Comparison: XXXX, XXXX.", "Comparison: ___, ___."),
        ("PA and lateral x-XXXX of the chest", "PA and lateral x-___ of the chest"),
        ("XXXX-year-old male", "___-year-old male"),
        ("Compared to ___ and ____.", "Compared to ___ and ___."),
        ("seen on [**2101-3-4**] by Dr. [**Name (NI) 123**]", "seen on ___ by Dr. ___"),
        ("XXXX/XXXX", "___/___"),
    ],
)
def test_each_convention_becomes_the_canonical_token(text: str, expected: str) -> None:
    assert deid.normalize(text) == expected


def test_ordinary_text_is_untouched() -> None:
    text = "Box X marks the spot; XL size; the_word and __init__ and 3x3 XXy."
    assert deid.normalize(text) == text


def test_normalize_is_idempotent_and_sources_agree() -> None:
    openi = "No change since XXXX XXXX."
    mimic = "No change since ___ ____."
    brackets = "No change since [**Date**] [**Date**]."
    assert deid.normalize(openi) == deid.normalize(mimic) == deid.normalize(brackets)
    assert deid.normalize(deid.normalize(openi)) == deid.normalize(openi)


def test_detect_and_render_round_trip() -> None:
    assert deid.detect("x-XXXX of the chest, XXXX") is deid.Convention.OPENI
    assert deid.detect("since ___") is deid.Convention.MIMIC
    assert deid.detect("on [**2101-1-1**]") is deid.Convention.BRACKETS
    assert deid.detect("nothing masked") is None
    canonical = deid.normalize("x-XXXX and XXXX")
    assert deid.render(canonical, deid.Convention.OPENI) == "x-XXXX and XXXX"
    assert deid.render(canonical, "___") == canonical
    assert deid.render(canonical, None) == canonical
    assert deid.normalize("XXXX, ___ and [** x **]").count(deid.CANONICAL) == 3


def test_the_substring_fast_path_answers_as_the_expressions_do() -> None:
    """normalize and detect skip the regular expressions when no placeholder's literal ("[**",
    "XXX", "___") is in the text; on texts built from the characters that matter, both answer
    exactly what the expressions alone give."""
    import random

    def normalize_reference(text: str) -> str:
        for pattern in (deid._BRACKETS, deid._XXXX, deid._UNDERSCORES):
            text = pattern.sub(deid.CANONICAL, text)
        return text

    def detect_reference(text: str) -> deid.Convention | None:
        counts = {c: len(p.findall(text)) for c, p in deid._PATTERNS.items()}
        best = max(counts, key=lambda c: counts[c])
        return best if counts[best] else None

    rng = random.Random(7)
    alphabet = [
        "X",
        "X",
        "x",
        "_",
        "_",
        "[",
        "*",
        "*",
        "]",
        "a",
        "1",
        " ",
        ".",
        "\n",
        "XXXX",
        "___",
    ]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))) for _ in range(20000)]
    texts += [
        "",
        "XX",
        "__",
        "[*",
        "XXX",
        "___",
        "[** **]",
        "aXXXX",
        "XXXX1",
        "x-XXXX",
        "[**2101**]",
    ]
    for text in texts:
        assert deid.normalize(text) == normalize_reference(text), text
        assert deid.detect(text) == detect_reference(text), text
