"""The clinical labeler on hand-written sentences, one negation/uncertainty pattern each.

Each sentence is checked for the status of the observation it is about, so a rule that stops
applying (a trigger dropped, a scope too short or too long) fails its own case.
"""

from __future__ import annotations

import time

import pytest

from radimpress.clinical.labeler import (
    NEGATIVE,
    POSITIVE,
    UNCERTAIN,
    label_text,
    normalise,
    positive_observations,
)
from radimpress.clinical.observations import NO_FINDING, OBSERVATIONS

CASES = [
    # Plain positive mentions.
    ("Cardiomegaly.", "Cardiomegaly", POSITIVE),
    ("The heart is mildly enlarged.", "Cardiomegaly", POSITIVE),
    ("Small left pleural effusion.", "Pleural Effusion", POSITIVE),
    ("Right upper lobe pneumonia.", "Pneumonia", POSITIVE),
    ("Left basilar atelectasis.", "Atelectasis", POSITIVE),
    ("Large right pneumothorax.", "Pneumothorax", POSITIVE),
    ("Patchy airspace disease in the right middle lobe.", "Lung Opacity", POSITIVE),
    ("Focal consolidation in the left lower lobe.", "Consolidation", POSITIVE),
    ("Mild interstitial pulmonary edema.", "Edema", POSITIVE),
    ("A 1 cm nodule in the right upper lobe.", "Lung Lesion", POSITIVE),
    ("Widening of the upper mediastinum.", "Enlarged Cardiomediastinum", POSITIVE),
    ("Biapical pleural thickening.", "Pleural Other", POSITIVE),
    ("Healed left rib fractures.", "Fracture", POSITIVE),
    ("Left subclavian pacemaker with leads in the right heart.", "Support Devices", POSITIVE),
    ("Stable cardiomegaly.", "Cardiomegaly", POSITIVE),
    # Negation before the mention.
    ("No pleural effusion.", "Pleural Effusion", NEGATIVE),
    ("Lungs are clear without pneumothorax.", "Pneumothorax", NEGATIVE),
    ("Negative for focal consolidation.", "Consolidation", NEGATIVE),
    ("The lungs are free of focal airspace disease.", "Lung Opacity", NEGATIVE),
    ("No evidence of pneumonia.", "Pneumonia", NEGATIVE),
    ("The heart is not enlarged.", "Cardiomegaly", NEGATIVE),
    ("No definite pleural effusion.", "Pleural Effusion", NEGATIVE),
    ("No focal opacity to suggest pneumonia.", "Pneumonia", NEGATIVE),
    # Negation after the mention, and resolution.
    ("The previously seen left pleural effusion has resolved.", "Pleural Effusion", NEGATIVE),
    ("Resolved right lower lobe pneumonia.", "Pneumonia", NEGATIVE),
    ("Interval resolution of the left basilar atelectasis.", "Atelectasis", NEGATIVE),
    ("Pneumothorax is no longer seen.", "Pneumothorax", NEGATIVE),
    ("Pulmonary vascular congestion appears within normal limits.", "Edema", NEGATIVE),
    # Uncertainty: hedges before and after, and "cannot exclude" beating its own "not".
    ("Cannot exclude pneumonia.", "Pneumonia", UNCERTAIN),
    ("Early pneumonia cannot be excluded.", "Pneumonia", UNCERTAIN),
    ("Pneumonia is not excluded.", "Pneumonia", UNCERTAIN),
    ("This may represent atelectasis.", "Atelectasis", UNCERTAIN),
    ("Possible small right pleural effusion.", "Pleural Effusion", UNCERTAIN),
    ("Findings suspicious for pulmonary edema.", "Edema", UNCERTAIN),
    ("Borderline heart size.", "Cardiomegaly", UNCERTAIN),
    # Pseudo-negation: "no change" keeps the finding present.
    ("No change in the moderate right pleural effusion.", "Pleural Effusion", POSITIVE),
    # Clause boundaries stop a negation's scope.
    ("No pneumothorax, but there is a small left effusion.", "Pleural Effusion", POSITIVE),
    ("No effusion. Left lower lobe consolidation.", "Consolidation", POSITIVE),
    ("Left basilar opacity, possibly atelectasis, no effusion.", "Lung Opacity", POSITIVE),
    ("Left basilar opacity, possibly atelectasis, no effusion.", "Atelectasis", UNCERTAIN),
    ("Left basilar opacity, possibly atelectasis, no effusion.", "Pleural Effusion", NEGATIVE),
    # Placeholders are neutral words: they neither hide nor invent a finding.
    ("Stable XXXX opacity in the right base.", "Lung Opacity", POSITIVE),
    ("Small right ___ effusion.", "Pleural Effusion", POSITIVE),
    ("No XXXX of pneumothorax.", "Pneumothorax", NEGATIVE),
    ("Sternotomy XXXX are intact.", "Support Devices", POSITIVE),
]


@pytest.mark.parametrize(("text", "observation", "status"), CASES)
def test_pattern(text: str, observation: str, status: str) -> None:
    assert label_text(text).get(observation) == status


def test_a_negated_list_negates_every_item() -> None:
    labels = label_text(
        "No pneumonia, effusions, edema, pneumothorax, adenopathy, nodules or masses."
    )
    for name in ("Pneumonia", "Pleural Effusion", "Edema", "Pneumothorax", "Lung Lesion"):
        assert labels[name] == NEGATIVE, name
    assert labels[NO_FINDING] == POSITIVE


def test_a_negated_list_with_hedged_items_stays_negated() -> None:
    labels = label_text(
        "No focal consolidation, suspicious pulmonary opacity, pneumothorax or definite pleural "
        "effusion."
    )
    assert {labels[n] for n in ("Consolidation", "Lung Opacity", "Pneumothorax")} == {NEGATIVE}
    assert labels["Pleural Effusion"] == NEGATIVE
    assert labels[NO_FINDING] == POSITIVE


@pytest.mark.parametrize(
    "text",
    [
        "Normal chest exam.",
        "No acute cardiopulmonary findings.",
        "No acute cardiopulmonary abnormality. Heart size is normal. Lungs are clear.",
        "Heart size and pulmonary vascularity are within normal limits. No pneumothorax.",
    ],
)
def test_no_finding_when_nothing_is_abnormal(text: str) -> None:
    labels = label_text(text)
    assert labels[NO_FINDING] == POSITIVE
    assert positive_observations(labels) == {NO_FINDING}


@pytest.mark.parametrize(
    "text",
    [
        "No acute disease. Small right pleural effusion.",
        "No acute disease. Possible right lower lobe pneumonia.",
        # Abnormal outside the 14 observations: still not "no finding".
        "Calcified granuloma in the right upper lobe. No acute disease.",
        "Small hiatal hernia.",
    ],
)
def test_no_finding_is_negative_when_anything_is_abnormal(text: str) -> None:
    assert label_text(text)[NO_FINDING] == NEGATIVE


def test_aggregation_positive_beats_uncertain_beats_negative() -> None:
    assert label_text("No effusion. Possible effusion. Small effusion.")["Pleural Effusion"] == (
        POSITIVE
    )
    assert label_text("No effusion. Possible effusion.")["Pleural Effusion"] == UNCERTAIN
    assert label_text("Possible effusion. No effusion.")["Pleural Effusion"] == UNCERTAIN
    assert label_text("No effusion.")["Pleural Effusion"] == NEGATIVE


def test_output_shape() -> None:
    labels = label_text("Cardiomegaly. No effusion. Calcified granuloma.")
    # Only the 14 names, in CheXpert's order; unmentioned observations are absent.
    assert list(labels) == [NO_FINDING, "Cardiomegaly", "Pleural Effusion"]
    assert set(labels) <= set(OBSERVATIONS)
    assert len(OBSERVATIONS) == 14
    assert label_text("") == {}
    assert label_text(None) == {}
    assert label_text("  . ") == {}
    assert label_text("Cardiomegaly.") == {NO_FINDING: NEGATIVE, "Cardiomegaly": POSITIVE}


def test_uncertain_counts_as_positive() -> None:
    labels = {"Pneumonia": UNCERTAIN, "Edema": NEGATIVE, "Cardiomegaly": POSITIVE}
    assert positive_observations(labels) == {"Pneumonia", "Cardiomegaly"}


def test_normalise_treats_both_placeholder_styles_alike() -> None:
    assert normalise("Right XXXX effusion") == normalise("Right ___ effusion")
    assert normalise("Right-sided air-space") == "right sided air space"


def test_labels_two_thousand_reports_quickly() -> None:
    report = (
        "The heart is normal in size. The mediastinum is unremarkable. There is patchy opacity in "
        "the left lower lobe, XXXX atelectasis. No pleural effusion or pneumothorax. Degenerative "
        "changes of the spine.. 1. Left basilar atelectasis. 2. No acute cardiopulmonary disease."
    )
    started = time.perf_counter()
    for _ in range(2000):
        label_text(report)
    assert time.perf_counter() - started < 2.0


def test_no_lookbehind_can_see_across_a_sentence_end() -> None:
    """What lets a sentence be labelled alone: every lookbehind is letters and spaces, \\d or
    \\w, none of which matches the sentence end before a sentence's start."""
    import re

    from radimpress.clinical import labeler
    from radimpress.clinical.observations import MENTIONS

    sources = [p for patterns in MENTIONS.values() for p in patterns]
    # Every pattern that runs inside a sentence; the splitter itself runs over whole texts.
    sources += [
        v.pattern
        for v in vars(labeler).values()
        if isinstance(v, re.Pattern) and v is not labeler._SENTENCE
    ]
    behinds = [b for source in sources for b in re.findall(r"\(\?<[!=]([^)]*)\)", source)]
    assert behinds and "soft tissue " in behinds
    for behind in behinds:
        assert re.fullmatch(r"[a-z ]+|\\d|\\w", behind), behind
    assert not re.search(r"\w", ".;\n\r!")


def test_sentence_ends_are_the_plain_rules_written_fast() -> None:
    """_SENTENCE is `(?<!\\d)\\.(?!\\d)|\\.(?=\\s)|;|\\n|\\r|!` rewritten for speed: same matches."""
    import random
    import re

    from radimpress.clinical import labeler

    plain = re.compile(r"(?<!\d)\.(?!\d)|\.(?=\s)|;|\n|\r|!")
    rng = random.Random(5)
    alphabet = "ab1 .;\n\r!?9x-\t"
    texts = [".", "1.", ".1", "1.5 cm.", "a. b", "3. 4", "end.", "x.\n1.2;!"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(3000)]
    for text in texts:
        expected = [m.span() for m in plain.finditer(text)]
        assert [m.span() for m in labeler._SENTENCE.finditer(text)] == expected, repr(text)
