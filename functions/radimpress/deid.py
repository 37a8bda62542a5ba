"""De-identification placeholders: one canonical token whatever the source's convention.

Each source masks protected text its own way: Open-i writes ``XXXX`` (also over ordinary words,
e.g. ``x-XXXX`` for x-ray), MIMIC-CXR and MEDIQA write ``___`` or ``____``, older MIMIC text writes
``[** ... **]``. A model trained on one source and applied to another must see them as the same
thing, so training data and prompts are normalised to :data:`CANONICAL`; the records themselves
keep their original text. :func:`render` writes canonical text back in a given convention, so an
output can follow the convention of the input it was generated for.

Standard library only: the ingest Lambda imports this module.
"""

from __future__ import annotations

import re
from enum import StrEnum

CANONICAL = "___"


class Convention(StrEnum):
    """How a source writes a masked span."""

    OPENI = "XXXX"
    MIMIC = "___"
    BRACKETS = "[** **]"


# One placeholder each; adjacent placeholders stay separate so the mapping keeps their count.
_BRACKETS = re.compile(r"\[\*\*.*?\*\*\]", re.DOTALL)
_XXXX = re.compile(r"(?<![A-Za-z0-9])X{3,}(?![A-Za-z0-9])")
_UNDERSCORES = re.compile(r"_{3,}")
_PATTERNS = {
    Convention.BRACKETS: _BRACKETS,
    Convention.OPENI: _XXXX,
    Convention.MIMIC: _UNDERSCORES,
}


# A literal every match of each pattern contains: a text holding none of them holds no
# placeholder, which a substring search tells faster than the three regular expressions
# (normalize and detect run on every findings text several times a run; most hold none).
_MARKS = {
    Convention.BRACKETS: "[**",
    Convention.OPENI: "XXX",
    Convention.MIMIC: "___",
}


def normalize(text: str) -> str:
    """Replace every placeholder of every known convention with :data:`CANONICAL`."""
    if not any(mark in text for mark in _MARKS.values()):
        return text
    text = _BRACKETS.sub(CANONICAL, text)
    text = _XXXX.sub(CANONICAL, text)
    return _UNDERSCORES.sub(CANONICAL, text)


def detect(text: str) -> Convention | None:
    """The convention ``text`` uses most, or None when it holds no placeholder."""
    counts = {c: len(p.findall(text)) if _MARKS[c] in text else 0 for c, p in _PATTERNS.items()}
    best = max(counts, key=lambda c: counts[c])
    return best if counts[best] else None


def render(text: str, convention: Convention | str | None) -> str:
    """Write the canonical placeholders of ``text`` in ``convention`` (unchanged for None)."""
    if convention is None:
        return text
    convention = Convention(convention)
    if convention is Convention.MIMIC:
        return text
    token = "XXXX" if convention is Convention.OPENI else "[** **]"
    return _UNDERSCORES.sub(token, text)
