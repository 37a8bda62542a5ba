"""run_outputs._overlap_key: the findings text two files are compared by (train/test overlap).

It must be the expression it replaced, ``" ".join(re.sub("[^0-9a-z]+", " ", text).split())`` of
the de-identified, lower-cased text, on every input: the byte table serves ASCII text only.
"""

from __future__ import annotations

import random
import re

from radimpress import deid
from radimpress_workstation.run_outputs import _overlap_key

# Letters and digits, punctuation and every ASCII space, placeholders, and characters whose
# lower case is or is not ASCII (Kelvin sign -> k, dotted I -> i + combining dot, sharp s).
ALPHABET = [*"aZ09 .,;:-_/()\t\n\r\x0b\x0c\x00\x7f", "[**Name**]", "XXXX", "___"]
ALPHABET += ["\u212a", "\u0130", "\u00df", "\u00e9", "\u2028", "\u00a0", "\U0001f600"]


def _reference(text: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", deid.normalize(text).lower()).split())


def test_the_key_is_the_expressions_on_every_kind_of_text() -> None:
    rng = random.Random(19)
    texts = ["", "   ", "No acute disease.", "Heart size NORMAL; lungs clear (2 views)."]
    texts += ["".join(rng.choices(ALPHABET, k=rng.randint(1, 40))) for _ in range(20_000)]
    mismatched = [t for t in texts if _overlap_key(t) != _reference(t)]
    assert not mismatched, mismatched[:3]
    assert _overlap_key("Heart size NORMAL; lungs clear.") == "heart size normal lungs clear"
