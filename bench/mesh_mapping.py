"""Expert MeSH index terms (Open-i `labels.jsonl`) -> CheXpert observations: the one table.

A term reads `Head/qualifier/qualifier...` (`Opacity/lung/base/left`). A row matches when the head
is equal and, if the row names qualifiers, one of them appears among the term's qualifiers; a row
whose `unless` qualifiers appear does not match. The first matching row wins; a term no row
matches is an abnormality outside the 14 observations (it still makes the study not "normal").
Rows follow the CheXpert labeler's mention lists where MeSH is broader (scarring is a lung opacity,
a blunted costophrenic angle a pleural effusion, congestion an edema). Reports indexed
`No Indexing` have no expert labels and are left out of the benchmark.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

NO_INDEXING = "No Indexing"


class Row(NamedTuple):
    head: str
    observation: str
    qualifiers: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()


_LUNG_PLACES = ("lung", "retrocardiac", "costophrenic angle", "cardiophrenic angle")
_NOT_LUNG = ("ribs", "mediastinum", "heart", "thorax", "sternum", "paratracheal", "pleura")

MESH_TABLE: tuple[Row, ...] = (
    # "normal" is the indexers' whole-study verdict: no abnormality at all.
    Row("normal", "No Finding"),
    # The enlarged mediastinum itself, not its lymph nodes (hilar/mediastinal adenopathy).
    Row("Mediastinum", "Enlarged Cardiomediastinum", ("enlarged", "prominent"), ("lymph nodes",)),
    Row("Cardiomegaly", "Cardiomegaly"),
    # "Enlarged cardiac silhouette/shadow" is CheXpert's cardiomegaly phrasing.
    Row("Cardiac Shadow", "Cardiomegaly", ("enlarged",)),
    # Opacity / density in the lung fields (not bone, mediastinal or cardiac "opacities").
    Row("Opacity", "Lung Opacity", unless=_NOT_LUNG),
    Row("Density", "Lung Opacity", _LUNG_PLACES),
    Row("Airspace Disease", "Lung Opacity"),
    Row("Infiltrate", "Lung Opacity"),
    # Interstitial markings / pattern are in CheXpert's lung opacity list.
    Row("Markings", "Lung Opacity", ("interstitial",)),
    Row("Lung", "Lung Opacity", ("interstitial",)),
    Row("Lung Diseases, Interstitial", "Lung Opacity"),
    # Pleural scarring is Pleural Other; lung (parenchymal) scarring a lung opacity (CheXpert).
    Row("Cicatrix", "Pleural Other", ("pleura",)),
    Row("Cicatrix", "Lung Opacity"),
    # Nodules and masses in the lung; a cavity is a cavitary lesion.
    Row("Nodule", "Lung Lesion", unless=("ribs", "thyroid", "breast")),
    Row("Mass", "Lung Lesion", ("lung",)),
    Row("Cavitation", "Lung Lesion"),
    # Edema and its radiographic precursors (congestion), and heart failure.
    Row("Pulmonary Edema", "Edema"),
    Row("Pulmonary Congestion", "Edema"),
    Row("Heart Failure", "Edema"),
    Row("Consolidation", "Consolidation"),
    Row("Pneumonia", "Pneumonia"),
    Row("Pulmonary Atelectasis", "Atelectasis"),
    Row("Pneumothorax", "Pneumothorax"),
    Row("Hydropneumothorax", "Pneumothorax"),
    Row("Pleural Effusion", "Pleural Effusion"),
    # Blunted costophrenic angles / sulci are read as (small) effusions, as CheXpert does.
    Row("Costophrenic Angle", "Pleural Effusion", ("blunted",)),
    Row("Sulcus", "Pleural Effusion", ("blunted",)),
    # Pleural thickening (and a blunted pleura) is CheXpert's Pleural Other.
    Row("Thickening", "Pleural Other", ("pleura",)),
    Row("Pleura", "Pleural Other"),
    # Any bone fracture, healed or not (CheXpert counts old fractures as positive).
    Row("Fractures, Bone", "Fracture"),
    # Lines, tubes, clips, sternotomy wires, stents, pacemakers, spinal hardware.
    Row("Catheters, Indwelling", "Support Devices"),
    Row("Implanted Medical Device", "Support Devices"),
    Row("Medical Device", "Support Devices"),
    Row("Tube, Inserted", "Support Devices"),
    Row("Stents", "Support Devices"),
    Row("Surgical Instruments", "Support Devices"),
    Row("Sutures", "Support Devices"),
    Row("Spinal Fusion", "Support Devices"),
)


def observation_of(term: str) -> str | None:
    """The observation a MeSH term maps to, or None (an abnormality outside the 14)."""
    head, *qualifiers = term.split("/")
    head = head.strip()
    quals = {q.strip().lower() for q in qualifiers}
    for row in MESH_TABLE:
        if row.head.lower() != head.lower():
            continue
        if row.qualifiers and not quals.intersection(row.qualifiers):
            continue
        if quals.intersection(row.unless):
            continue
        return row.observation
    return None


def expert_observations(terms: Iterable[str]) -> frozenset[str]:
    """The set of observations a report's MeSH terms say are present."""
    found = {observation_of(term) for term in terms}
    found.discard(None)
    return frozenset(name for name in found if name is not None)
