"""Clinical agreement of a generated impression with its reference: positive-observation P/R/F1.

ROUGE rewards wording; this rewards the same findings. Both texts are labelled
(`radimpress.clinical.labeler`); an observation counts as positive when it is positive or
uncertain (the CheXbert convention). For precision, recall and F1 "No Finding" is an observation
like the others, so a normal reference paraphrased as another normal impression agrees fully, and a
generation that calls an abnormal study normal (or a normal study abnormal) scores F1 0.

The missed and invented lists name findings, which "No Finding" is not: missed = a positive
observation of the reference absent from the generation (a finding the model left out); invented =
a positive observation of the generation absent from the reference (a finding the model made up).
A normal study called abnormal has invented findings and missed none; an abnormal study called
normal has missed findings and invented none.

Edge cases (positive sets R for the reference, G for the generation):
- R and G both empty (both texts blank): precision = recall = F1 = 1.0, nothing to disagree on.
- G empty, R not (blank generation): precision 1.0 (nothing invented), recall 0.0, F1 0.0.
- R empty, G not (blank reference): precision 0.0, recall 1.0, F1 0.0.
Any text with a word in it has at least one positive ("No Finding" when nothing is abnormal), so
the empty cases arise only from blank text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from radimpress.clinical.labeler import label_text, positive_observations
from radimpress.clinical.observations import NO_FINDING


@dataclass(frozen=True)
class ClinicalAgreement:
    """One report's agreement; observation lists are sorted by name."""

    precision: float
    recall: float
    f1: float
    missed: tuple[str, ...]
    invented: tuple[str, ...]
    reference_positive: tuple[str, ...]
    generated_positive: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: floats and lists of observation names (never report text)."""
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "missed": list(self.missed),
            "invented": list(self.invented),
            "reference_positive": list(self.reference_positive),
            "generated_positive": list(self.generated_positive),
        }


def agreement_from_labels(
    reference_labels: Mapping[str, str], generated_labels: Mapping[str, str]
) -> ClinicalAgreement:
    """Agreement of two label mappings from `label_text` (label each reference once, reuse)."""
    reference = positive_observations(reference_labels)
    generated = positive_observations(generated_labels)
    shared = len(reference & generated)
    precision = shared / len(generated) if generated else 1.0
    recall = shared / len(reference) if reference else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return ClinicalAgreement(
        precision=precision,
        recall=recall,
        f1=f1,
        missed=tuple(sorted(reference - generated - {NO_FINDING})),
        invented=tuple(sorted(generated - reference - {NO_FINDING})),
        reference_positive=tuple(sorted(reference)),
        generated_positive=tuple(sorted(generated)),
    )


def clinical_agreement(reference: str | None, generated: str | None) -> ClinicalAgreement:
    """Agreement of a generated impression with the reference impression (None = blank)."""
    return agreement_from_labels(label_text(reference), label_text(generated))
