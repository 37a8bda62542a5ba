"""What the synthetic reports say: the normal sentences of each organ, the normal impressions, the
indications, and how each abnormal finding is worded in the findings and in the impression."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

_Option = TypeVar("_Option")

SIDES = ("left", "right", "bilateral")
SIZES = ("small", "moderate", "large")
LOBES = (
    "right upper lobe",
    "right middle lobe",
    "right lower lobe",
    "left upper lobe",
    "lingula",
    "left lower lobe",
)

NORMAL = {
    "heart": (
        "The heart is normal in size.",
        "Heart size is within normal limits.",
        "The cardiomediastinal silhouette is within normal limits.",
        "Normal heart size.",
        "The heart size and pulmonary vascularity appear within normal limits.",
        "Cardiac silhouette is normal.",
    ),
    "mediastinum": (
        "The mediastinum is unremarkable.",
        "Mediastinal contours are normal.",
        "Normal mediastinal contour.",
        "Hilar and mediastinal contours are unremarkable.",
        "",
    ),
    "lungs": (
        "The lungs are clear.",
        "Lungs are clear bilaterally.",
        "No focal airspace consolidation.",
        "The lungs are free of focal airspace disease.",
        "No focal consolidation is seen.",
        "Lungs are well expanded and clear.",
    ),
    "pleura": (
        "No pleural effusion or pneumothorax.",
        "There is no pneumothorax or pleural effusion.",
        "No pleural effusion or pneumothorax is seen.",
        "No pneumothorax or large pleural effusion.",
        "Negative for pleural effusion or pneumothorax.",
    ),
    "bones": (
        "No acute bony abnormality.",
        "The visualized osseous structures are unremarkable.",
        "Degenerative changes of the thoracic spine.",
        "No acute osseous abnormality is identified.",
        "Mild degenerative changes of the thoracic spine.",
        "",
    ),
}

NORMAL_IMPRESSIONS = (
    "No acute cardiopulmonary abnormality.",
    "No active disease.",
    "No acute cardiopulmonary disease.",
    "Normal chest.",
    "No acute cardiopulmonary process.",
    "Negative chest x-XXXX.",
    "No acute radiographic cardiopulmonary process.",
)

INDICATIONS = (
    "cough",
    "chest pain",
    "shortness of breath",
    "fever",
    "preoperative evaluation",
    "fall",
    "dyspnea on exertion",
    "follow-up",
    "hypoxia",
)


class Say(Protocol):
    """Pick one of ``options`` for the wording ``key``: a sentence or a findings+impression pair."""

    def __call__(self, key: str, options: Sequence[_Option]) -> _Option: ...


@dataclass(frozen=True)
class Finding:
    """One positive finding: which organ sentence it replaces and how it is written both ways."""

    slot: str
    findings: str
    impression: str


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _effusion(rng: random.Random, say: Say) -> Finding:
    side, size = rng.choice(SIDES), rng.choice(SIZES)
    both = side == "bilateral"
    plural, verb, angle = ("effusions", "are", "angles") if both else ("effusion", "is", "angle")
    findings = say(
        "effusion.findings",
        (
            f"There {verb} {'' if both else 'a '}{size} {side} pleural {plural}.",
            f"{_cap(size)} {side} pleural {plural} {verb} present.",
            f"Blunting of the {side} costophrenic {angle} consistent with {size} pleural {plural}.",
        ),
    )
    findings += " " + say(
        "effusion.negative", ("No pneumothorax.", "There is no pneumothorax.", "")
    )
    impression = say(
        "effusion.impression",
        (f"{_cap(size)} {side} pleural {plural}.", f"{_cap(side)} {size} pleural {plural}."),
    )
    return Finding("pleura", findings.strip(), impression)


def _pneumothorax(rng: random.Random, say: Say) -> Finding:
    side = rng.choice(("left", "right"))
    size = rng.choice(("small", "small", "moderate", "tiny"))
    findings = say(
        "pneumothorax.findings",
        (
            f"There is a {size} {side} apical pneumothorax.",
            f"{_cap(size)} {side} pneumothorax measuring approximately "
            f"{rng.randint(1, 4)} cm at the apex.",
            f"A {size} {side} pneumothorax is present.",
        ),
    )
    findings += " " + say(
        "pneumothorax.negative", ("No pleural effusion.", "No large pleural effusion.", "")
    )
    impression = say(
        "pneumothorax.impression",
        (f"{_cap(size)} {side} pneumothorax.", f"{_cap(size)} {side} apical pneumothorax."),
    )
    return Finding("pleura", findings.strip(), impression)


def _cardiomegaly(rng: random.Random, say: Say) -> Finding:
    degree = rng.choice(("mildly", "moderately", "markedly"))
    findings = say(
        "cardiomegaly.findings",
        (
            f"The heart is {degree} enlarged.",
            "Cardiomegaly is present.",
            f"The cardiac silhouette is {degree} enlarged.",
            "Stable cardiomegaly.",
        ),
    )
    adjective = {"mildly": "Mild", "moderately": "Moderate", "markedly": "Marked"}[degree]
    impression = say(
        "cardiomegaly.impression",
        ("Cardiomegaly.", f"{adjective} cardiomegaly.", "Stable cardiomegaly."),
    )
    return Finding("heart", findings, impression)


def _consolidation(rng: random.Random, say: Say) -> Finding:
    lobe = rng.choice(LOBES)
    findings = say(
        "consolidation.findings",
        (
            f"There is focal airspace consolidation in the {lobe}.",
            f"Patchy opacity in the {lobe} concerning for pneumonia.",
            f"Airspace disease is present in the {lobe}.",
        ),
    )
    impression = say(
        "consolidation.impression",
        (
            f"{_cap(lobe)} consolidation, concerning for pneumonia.",
            f"{_cap(lobe)} pneumonia.",
            f"{_cap(lobe)} airspace disease, likely pneumonia.",
        ),
    )
    return Finding("lungs", findings, impression)


def _nodule(rng: random.Random, say: Say) -> Finding:
    lobe, size = rng.choice(LOBES), rng.randint(4, 18)
    findings = say(
        "nodule.findings",
        (
            f"There is a {size} mm nodule in the {lobe}.",
            f"A {size} mm nodular opacity projects over the {lobe}.",
            f"{size} mm pulmonary nodule in the {lobe}. Lungs are otherwise clear.",
        ),
    )
    impression = say(
        "nodule.impression",
        (
            f"{size} mm {lobe} nodule. Recommend CT chest for further evaluation.",
            f"{_cap(lobe)} pulmonary nodule measuring {size} mm. CT is recommended.",
        ),
    )
    return Finding("lungs", findings, impression)


def _atelectasis(rng: random.Random, say: Say) -> Finding:
    side = rng.choice(SIDES)
    findings = say(
        "atelectasis.findings",
        (
            f"There are {side} basilar opacities consistent with atelectasis.",
            f"Streaky {side} basilar atelectasis.",
            f"Mild {side} basilar subsegmental atelectasis.",
        ),
    )
    impression = say(
        "atelectasis.impression",
        (f"{_cap(side)} basilar atelectasis.", f"{_cap(side)} atelectasis."),
    )
    return Finding("lungs", findings, impression)


def _edema(rng: random.Random, say: Say) -> Finding:
    degree = rng.choice(("mild", "moderate"))
    findings = say(
        "edema.findings",
        (
            "There is pulmonary vascular congestion with interstitial edema.",
            f"Diffuse interstitial opacities consistent with {degree} pulmonary edema.",
            "Cephalization of the pulmonary vasculature and bilateral interstitial opacities.",
        ),
    )
    impression = say(
        "edema.impression",
        (f"Findings consistent with {degree} pulmonary edema.", f"{_cap(degree)} pulmonary edema."),
    )
    return Finding("lungs", findings, impression)


def _hyperinflation(rng: random.Random, say: Say) -> Finding:
    findings = say(
        "hyperinflation.findings",
        (
            "The lungs are hyperexpanded with flattening of the diaphragms.",
            "Hyperinflation of the lungs with flattened hemidiaphragms.",
        ),
    )
    impression = say(
        "hyperinflation.impression",
        ("Hyperinflation consistent with COPD.", "Emphysema without acute disease."),
    )
    return Finding("lungs", findings, impression)


def _device(rng: random.Random, say: Say) -> Finding:
    findings, impression = say(
        "device.wording",
        (
            (
                "Right internal jugular central venous catheter with tip in the distal SVC.",
                "Right internal jugular catheter in appropriate position.",
            ),
            (
                "Left chest wall pacemaker with leads in the right atrium and right ventricle.",
                "Pacemaker leads in standard position.",
            ),
            (
                "Endotracheal tube tip is 4 cm above the carina.",
                "Endotracheal tube in appropriate position.",
            ),
            ("Sternotomy XXXX are intact.", "Postoperative changes of median sternotomy."),
        ),
    )
    return Finding("devices", findings, impression)


ABNORMALITIES = {
    "effusion": _effusion,
    "pneumothorax": _pneumothorax,
    "cardiomegaly": _cardiomegaly,
    "consolidation": _consolidation,
    "nodule": _nodule,
    "atelectasis": _atelectasis,
    "edema": _edema,
    "hyperinflation": _hyperinflation,
    "device": _device,
}
SLOT_ORDER = ("heart", "mediastinum", "lungs", "pleura", "devices", "bones")
