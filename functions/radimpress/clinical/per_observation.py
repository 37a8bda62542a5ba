"""Per-observation clinical agreement of one model: micro counts per CheXpert observation.

Where `agreement` scores each report, this counts over a model's reports: for every observation,
how many studies the reference and the generated impression both call positive (true positive),
only the generation (false positive), only the reference (false negative) or neither (true
negative), and precision, recall and F1 from those counts.

- Studies counted: those where both the reference and the generated impression are labelled,
  i.e. both texts are non-blank (`label_text` gives `{}` only for blank text). A blank side has
  no labels at all, so it is left out here rather than counted as "all negative".
- Positive = positive or uncertain (`labeler.positive_observations`): the CheXbert convention,
  the same as the per-report clinical F1, so the micro counts and the report F1s agree on what a
  positive is.
- "n/a" (None) where a ratio has no denominator: precision without a generated positive,
  recall without a reference positive, F1 when the observation is positive in neither text of
  any study. F1 = 2 TP / (2 TP + FP + FN), so it is 0, not n/a, when one side has positives and
  they never agree.
- Normal/abnormal: a text is normal when "No Finding" is positive (nothing abnormal, as the
  labeler defines it), abnormal otherwise (a finding, or an abnormality outside the 14 such as a
  granuloma). The confusion matrix is reference normal/abnormal x generated normal/abnormal; it
  equals the "No Finding" row's counts (normal/normal = TP, normal/abnormal = FN,
  abnormal/normal = FP, abnormal/abnormal = TN). Missed and invented findings never name
  "No Finding" (`agreement`); here it is an observation like the others.

Standard library only (the Publish Lambda and the `score` command both use it); counts and
observation names only, never text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from radimpress.clinical.labeler import positive_observations
from radimpress.clinical.observations import NO_FINDING, OBSERVATIONS

NORMAL, ABNORMAL = "normal", "abnormal"
#: The matrix cells as (reference, generated), in reading order.
MATRIX_CELLS: tuple[tuple[str, str], ...] = (
    (NORMAL, NORMAL),
    (NORMAL, ABNORMAL),
    (ABNORMAL, NORMAL),
    (ABNORMAL, ABNORMAL),
)
POSITIVE_RULE = "positive or uncertain counts as positive (CheXbert convention, as clinical F1)"


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


@dataclass
class ObservationCounts:
    """One observation's micro counts over the studies both texts label."""

    observation: str
    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0
    true_negative: int = 0

    @property
    def reference_positive(self) -> int:
        return self.true_positive + self.false_negative

    @property
    def generated_positive(self) -> int:
        return self.true_positive + self.false_positive

    @property
    def precision(self) -> float | None:
        return _ratio(self.true_positive, self.generated_positive)

    @property
    def recall(self) -> float | None:
        return _ratio(self.true_positive, self.reference_positive)

    @property
    def f1(self) -> float | None:
        tp = self.true_positive
        return _ratio(2 * tp, 2 * tp + self.false_positive + self.false_negative)

    def to_dict(self) -> dict[str, object]:
        return {
            "observation": self.observation,
            "true_positive": self.true_positive,
            "false_positive": self.false_positive,
            "false_negative": self.false_negative,
            "true_negative": self.true_negative,
            "reference_positive": self.reference_positive,
            "generated_positive": self.generated_positive,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


def labelled_positives(labels: Mapping[str, str]) -> frozenset[str] | None:
    """The positive observations of a text's labels, or None when nothing was labelled (blank)."""
    return positive_observations(labels) if labels else None


@dataclass
class PerObservation:
    """One model's per-observation counts and normal/abnormal matrix, study by study."""

    studies: int = 0  # both texts labelled
    unlabelled: int = 0  # scored studies left out: the reference or the generation is blank
    counts: dict[str, ObservationCounts] = field(
        default_factory=lambda: {name: ObservationCounts(name) for name in OBSERVATIONS}
    )

    def add_labels(
        self, reference: Mapping[str, str], generated: Mapping[str, str], times: int = 1
    ) -> None:
        """Count one study (``times`` identical ones) from the two texts' `label_text`."""
        self.add(labelled_positives(reference), labelled_positives(generated), times)

    def add(
        self, reference: frozenset[str] | None, generated: frozenset[str] | None, times: int = 1
    ) -> None:
        """Count from the two positive sets (None: that text was blank, the study is left out)."""
        if reference is None or generated is None:
            self.unlabelled += times
            return
        self.studies += times
        for name, counts in self.counts.items():
            in_reference, in_generated = name in reference, name in generated
            if in_reference and in_generated:
                counts.true_positive += times
            elif in_generated:
                counts.false_positive += times
            elif in_reference:
                counts.false_negative += times
            else:
                counts.true_negative += times

    def rows(self) -> list[ObservationCounts]:
        """The 14 observations in CheXpert order."""
        return [self.counts[name] for name in OBSERVATIONS]

    def matrix(self) -> dict[tuple[str, str], int]:
        """(reference, generated) -> studies, normal meaning "No Finding" positive."""
        nf = self.counts[NO_FINDING]
        return {
            (NORMAL, NORMAL): nf.true_positive,
            (NORMAL, ABNORMAL): nf.false_negative,
            (ABNORMAL, NORMAL): nf.false_positive,
            (ABNORMAL, ABNORMAL): nf.true_negative,
        }

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: counts, ratios (None = n/a) and the matrix; no text."""
        return {
            "positive": POSITIVE_RULE,
            "studies": self.studies,
            "unlabelled": self.unlabelled,
            "observations": [row.to_dict() for row in self.rows()],
            "normal_abnormal": {
                f"reference_{ref}_generated_{gen}": count
                for (ref, gen), count in self.matrix().items()
            },
        }
