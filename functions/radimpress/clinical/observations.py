"""The observation vocabulary: the 14 CheXpert observations and the phrases that mention them.

Kept apart from the scope rules in `labeler.py` so that adding an observation (Emphysema and
Granuloma are likely next ones) touches data, not logic. Patterns are written against
the labeler's normalised text: lower case, hyphens as spaces, de-identification placeholders
(`XXXX`, `___`) as the word `xxxx`.
"""

from __future__ import annotations

NO_FINDING = "No Finding"

#: The 14 CheXpert observations, in CheXpert's column order; the labeler's output keys.
OBSERVATIONS: tuple[str, ...] = (
    NO_FINDING,
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
)

#: Findings outside the 14 that still make a study abnormal, so that "No Finding" means no
#: abnormality at all (expert indexers call a study with a calcified granuloma or a hiatal hernia
#: abnormal). They are labelled internally and never reported as observations.
OTHER_ABNORMALITY = "Other Abnormality"

# Words the enlargement patterns accept between the organ and "enlarged" ("heart size is mildly
# enlarged"); bounded so that one sentence's organ does not reach another finding's adjective.
_GAP = r"(?:\w+ ){0,4}"
_ENLARGED = r"(?:enlarg\w*|increased|prominen\w*|large|widen\w*|wide|bigger)"
_HEART = r"(?:heart|cardiac (?:silhouette|size|shadow|contours?|diameter)|heart size)"
_MEDIASTINUM = r"(?:mediastin\w*|cardiomediastin\w*|cardio mediastin\w*|superior mediastin\w*)"

#: observation -> regular expressions (alternatives) that mention it.
MENTIONS: dict[str, tuple[str, ...]] = {
    "Enlarged Cardiomediastinum": (
        rf"{_ENLARGED} (?:of )?(?:the )?(?:\w+ )?{_MEDIASTINUM}",
        rf"{_MEDIASTINUM} (?:silhouette |contours? |width )?{_GAP}{_ENLARGED}",
        r"mediastinal (?:widening|enlargement|mass)",
        r"paratracheal (?:\w+ )?(?:prominence|fullness|widening|soft tissue|mass)",
    ),
    "Cardiomegaly": (
        r"cardiomegaly",
        r"cardiac (?:enlargement|prominence)",
        rf"{_ENLARGED} (?:\w+ )?{_HEART}",
        rf"{_HEART} {_GAP}{_ENLARGED}",
        rf"{_HEART} {_GAP}borderline|borderline (?:\w+ )?{_HEART}",
        r"enlargement of the (?:\w+ )?(?:heart|cardiac silhouette)",
        r"cardiomediastinal (?:silhouette |contours? )?(?:\w+ ){0,4}enlarg\w*",
    ),
    "Lung Opacity": (
        r"opaci\w*|opaque",
        r"(?<!bone )(?<!breast )(?<!soft tissue )(?<!bony )densit(?:y|ies)",
        r"infiltrat\w*",
        r"air ?space (?:disease|process|opaci\w*|filling)",
        r"interstitial (?:markings?|pattern|prominence|opaci\w*|disease|changes?|thickening|"
        r"infiltrat\w*|edema)",
        r"(?:increased|prominent|coarse\w*|chronic) (?:\w+ )?(?:interstitial |lung )markings?",
        r"reticula\w*",
        r"(?<!pleural )scar(?:s|ring|red)?\b",
        r"fibrotic changes?",
        r"peribronchial (?:thickening|cuffing)",
    ),
    "Lung Lesion": (
        r"(?<!calcified )nodul\w*(?! (?:\w+ )?(?:opaci|densit))",
        r"(?<!soft tissue )(?<!pericardial )(?<!pleural )mass(?:es)?\b",
        r"(?<!lytic )(?<!bony )(?<!bone )lesions?\b",
        r"tumou?rs?",
        r"neoplas\w*",
        r"carcinoma",
        r"malignan\w*",
        r"metasta\w*",
        r"cavit(?:y|ies|ary|ation)",
    ),
    "Edema": (
        r"edema",
        r"(?:vascular|venous|pulmonary|mild|moderate|interstitial) congestion",
        r"congestive (?:heart )?failure|heart failure|\bchf\b",
        r"cephalization",
        r"kerley",
        r"vascular (?:engorgement|redistribution)",
    ),
    "Consolidation": (r"consolidat\w*",),
    "Pneumonia": (
        r"pneumoni\w*",
        r"bronchopneumoni\w*",
        r"infect\w*",
        r"aspiration",
    ),
    "Atelectasis": (
        r"atelecta\w*",
        r"(?:lung|lobe|lobar) collapse",
        r"collapse of",
    ),
    "Pneumothorax": (r"pneumothora\w*", r"hydropneumothora\w*"),
    "Pleural Effusion": (
        r"(?<!pericardial )effusions?",
        r"pleural fluid",
        r"hydro(?:pneumo)?thora\w*",
        r"blunt\w* (?:of )?(?:the )?(?:\w+ ){0,2}(?:costophrenic|costodiaphragmatic|cp)\b",
        r"(?:costophrenic|costodiaphragmatic|cp) (?:\w+ ){0,4}blunt\w*",
        r"fluid (?:in|within) the (?:\w+ )?fissure",
    ),
    "Pleural Other": (
        r"pleural (?:thickening|scar\w*|plaques?|calcifications?|reaction)",
        r"pleural parenchymal (?:scar\w*|thickening)",
        r"pleuroparenchymal (?:scar\w*|thickening)",
        r"fibrothorax",
        r"apical (?:pleural )?(?:caps?|capping)",
        r"pleural based",
        r"fissur\w* thickening|thickening of the (?:\w+ )?fissures?|blunting of the pleura\w*",
    ),
    "Fracture": (r"fractur\w*", r"\bfx\b"),
    "Support Devices": (
        r"pace ?makers?|pacers?|\b(?:a?icd)\b|defibrillators?|cardioverter",
        r"catheters?|\bpicc\b|central (?:venous )?line|(?:port|porta) ?a? ?cath|"
        r"(?:power|media|medi|chest|infusion|venous access) ?ports?",
        r"(?:endotracheal|enteric|feeding|chest|nasogastric|orogastric|tracheostomy|\bet|\bng|\bog)"
        r" tubes?",
        r"\btubes?\b",
        r"sternotomy|(?:sternal|surgical|cerclage) (?:wires?|sutures?)",
        r"(?:surgical|vascular|cholecystectomy) clips?|\bclips?\b",
        r"stents?\b|hardware|screws?\b|\bplates?\b(?! ?like)|(?<!breast )prosthe\w*|arthroplast\w*",
        r"valve (?:replacement|prosthesis)|(?:prosthetic|mechanical|replaced) (?:\w+ )?valves?",
        r"devices?\b|\bleads?\b(?! to)|\bwires?\b|drains?\b|fixation|spinal fusion|coils?\b|"
        r"anchors?\b|\bcabg\b|markers?\b|xxxx tip|(?:chest|subclavian|jugular|arm) xxxx\b|"
        r"\btip (?:is )?(?:at|in|projecting|projects|overlying|overlies|terminat\w*)|"
        r"stimulator|occluder|(?:spinal|cervical|lumbar|thoracic) (?:\w+ )?fusion|vertebroplast\w*",
    ),
    OTHER_ABNORMALITY: (
        r"granulom\w*",
        r"calcifi\w*|calcinosis",
        r"degenerat\w*|spondylo\w*|osteophyt\w*|arthrit\w*|arthropath\w*|osteoarthrit\w*",
        r"\w*scolio\w*|kyphos\w*|kyphotic|lordo\w*|curvature",
        r"hyper ?(?:inflat|expan|aerat|lucen|distend|distent)\w*|overinflat\w*",
        r"emphysem\w*|\bcopd\b|chronic obstructive|bullae?\b|bullous|blebs?\b",
        r"(?:low|decreased|diminished|reduced|small) (?:lung )?volumes?(?: lungs)?|hypoinflat\w*|"
        r"(?:poor|shallow|low) (?:inspiration|inspiratory)|hypoventilat\w*",
        r"tortu\w*|ecta(?:sia|tic)|unfold\w*|atheroscl\w*|atheromatous|aneurysm\w*",
        r"hernia\w*",
        r"elevat\w* (?:of )?(?:the )?(?:\w+ )?(?:hemi)?diaphragm\w*|eventration",
        r"(?:hemi)?diaphragms? (?:\w+ ){0,3}(?:elevat|flatten)\w*|flatten\w*",
        r"deformit\w*|deformed",
        r"crowding",
        r"(?:lymph)?adenopath\w*|prominen\w* (?:\w+ )?hila\w*|"
        r"(?:hilar|lymph node|hila) (?:\w+ )?(?:enlarg|prominen|fullness)\w*",
        r"\bcysts?\b|cystic",
        r"mastectom\w*|pneumonectom\w*|lobectom\w*|thoracotom\w*|cholecystectom\w*|post ?surgical|"
        r"postoperative|post operative|surgical changes?",
        r"osteopeni\w*|demineraliz\w*|osteoporo\w*|compression|wedg\w*|sclero\w*|hyperostosis",
        r"fibrosis|bronchiectasis|azygos|pectus|interstitial lung disease",
        r"(?:enlarged|prominent) (?:central )?pulmonary arter\w*|pulmonary arter\w* (?:\w+ ){0,3}"
        r"(?:enlarg|prominen)\w*|pulmonary hypertension",
        r"pericardial effusion|foreign bod\w*|shrapnel|bullet|sarcoid\w*|epicardial fat|"
        r"volume loss|(?:mediastinal|tracheal) shift|shift of the mediastinum",
        r"chronic (?:lung|pulmonary|obstructive|changes?|disease)",
    ),
}
