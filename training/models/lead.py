"""`lead`: the untrained baseline that stands in for the pre-trained model locally.

It answers with the first sentence of the findings, the classic lead baseline of summarisation:
like a pre-trained model that has never seen a radiology impression, it copies rather than
summarises, and it needs no training data and no download.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from radimpress import deid
from radimpress_training.models.base import ImpressionModel, TrainingPair

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def first_sentence(text: str) -> str:
    text = " ".join(text.split())
    return _SENTENCE_END.split(text, maxsplit=1)[0] if text else ""


class LeadSentenceModel(ImpressionModel):
    name = "lead"
    needs_training = False

    def fit(self, pairs: Sequence[TrainingPair]) -> LeadSentenceModel:
        return self

    def predict(self, findings: Sequence[str], convention: str | None = None) -> list[str]:
        return [deid.render(first_sentence(text), convention) for text in findings]
