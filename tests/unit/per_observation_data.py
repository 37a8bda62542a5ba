"""A hand-made set of 4 studies and 2 models for per-observation clinical agreement, with the
expected counts worked out by hand (not by the code under test).

Labels (positive or uncertain): s1 ref No Finding; s2 ref Cardiomegaly + Pleural Effusion;
s3 ref Pneumonia (uncertain: "Possible"); s4 ref none of the 14 (a granuloma: abnormal).
select: s1 No Finding, s2 Cardiomegaly, s3 Pneumonia, s4 No Finding.
lead: s1 Cardiomegaly, s2 Pleural Effusion, s3 blank (left out), s4 none (granuloma).
"""

from __future__ import annotations

REFERENCES = {
    "s1": "No acute cardiopulmonary abnormality.",
    "s2": "Cardiomegaly. Small left pleural effusion.",
    "s3": "Possible right lower lobe pneumonia.",
    "s4": "Calcified granuloma.",
}
GENERATED = {
    "select": {
        "s1": "Normal chest.",
        "s2": "Cardiomegaly.",
        "s3": "Right lower lobe pneumonia.",
        "s4": "No acute disease.",
    },
    "lead": {
        "s1": "Mild cardiomegaly.",
        "s2": "Small pleural effusion.",
        "s3": "",
        "s4": "Calcified granuloma.",
    },
}
NA = None
# model -> observation -> (TP, FP, FN, TN, precision, recall, F1); observations not listed are
# positive in neither text of any counted study: TN = studies, ratios n/a.
EXPECTED = {
    "select": {
        "No Finding": (1, 1, 0, 2, 0.5, 1.0, 2 / 3),
        "Cardiomegaly": (1, 0, 0, 3, 1.0, 1.0, 1.0),
        "Pleural Effusion": (0, 0, 1, 3, NA, 0.0, 0.0),
        "Pneumonia": (1, 0, 0, 3, 1.0, 1.0, 1.0),
    },
    "lead": {
        "No Finding": (0, 0, 1, 2, NA, 0.0, 0.0),
        "Cardiomegaly": (0, 1, 1, 1, 0.0, 0.0, 0.0),
        "Pleural Effusion": (1, 0, 0, 2, 1.0, 1.0, 1.0),
    },
}
STUDIES = {"select": 4, "lead": 3}
UNLABELLED = {"select": 0, "lead": 1}
# (reference, generated) normal/abnormal -> studies
MATRIX = {
    "select": {
        ("normal", "normal"): 1,
        ("normal", "abnormal"): 0,
        ("abnormal", "normal"): 1,
        ("abnormal", "abnormal"): 2,
    },
    "lead": {
        ("normal", "normal"): 0,
        ("normal", "abnormal"): 1,
        ("abnormal", "normal"): 0,
        ("abnormal", "abnormal"): 2,
    },
}
