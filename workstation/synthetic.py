"""Synthetic chest X-ray reports the project writes itself, for the demo and the tests.

Real reports are patient data and cannot ship with the repository, so ``make demo`` and the tests
generate their own: seeded, so a run is reproducible, and shaped like the Open-i / MIMIC-CXR
reports the pipeline is built for. Findings are written organ by organ (heart, mediastinum, lungs,
pleura, devices, bones) with varied phrasing; abnormal studies (effusion, pneumothorax,
cardiomegaly, consolidation, nodule, atelectasis, edema, hyperinflation, devices) replace the
normal sentence of their organ, and their impression restates the positive findings (numbered
when there are several), while normal studies get one of the templated "no acute disease"
impressions. Each report is dictated by one of a dozen radiologists with wording habits, so, as
in real reports, the findings' phrasing hints at the impression's phrasing. Some words are
de-identified as ``XXXX`` as in Open-i.

:func:`bad_lines` adds a few records that break the input contract so an operator sees
rejections; :func:`write_demo_files` writes a training and an inference file.
"""

from __future__ import annotations

import json
import random
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from radimpress_workstation.synthetic_wording import (
    ABNORMALITIES,
    INDICATIONS,
    NORMAL,
    NORMAL_IMPRESSIONS,
    SLOT_ORDER,
    Finding,
)

RADIOLOGISTS = 12
HABIT = 0.8
_Option = TypeVar("_Option")


class Dictation:
    """The wording choices of one radiologist: mostly their habitual phrase, sometimes another.

    Real reports are dictated from personal templates, so the way the findings are worded says
    something about how the impression will be worded; clinical content (side, size, lobe) stays
    random. ``say(key, options)`` picks the radiologist's habit for ``key`` with probability
    HABIT, else any option.
    """

    def __init__(self, radiologist: int, rng: random.Random) -> None:
        self.radiologist = radiologist
        self._rng = rng

    def __call__(self, key: str, options: Sequence[_Option]) -> _Option:
        if len(options) > 1 and self._rng.random() < HABIT:
            return options[zlib.crc32(f"{self.radiologist}:{key}".encode()) % len(options)]
        return self._rng.choice(options)


_KEY_WORD = re.compile(
    r"effusion|pneumothorax|nodul|cardiomegaly|enlarged|consolidation|opacit|atelecta|edema"
    r"|left|right|bilateral|lobe|lingula|mm|cm|small|moderate|large|tiny|mild|marked|\d"
)


def _deidentify(sentence: str, rng: random.Random, rate: float) -> str:
    """Replace one word by XXXX now and then, as Open-i's de-identification does.

    The words that carry the finding (what, where, how big) are kept, so the impression still
    restates something the findings say.
    """
    words = sentence.split()
    if len(words) > 3 and rng.random() < rate:
        index = rng.randrange(1, len(words) - 1)
        if not _KEY_WORD.search(words[index].lower()):
            words[index] = "XXXX"
    return " ".join(words)


def generate_report(index: int, rng: random.Random, prefix: str = "SYN") -> dict[str, Any]:
    """One report record in the input format (study_id, findings, impression, background)."""
    say = Dictation(rng.randrange(RADIOLOGISTS), rng)
    count = rng.choices((0, 1, 2, 3), weights=(45, 35, 15, 5))[0]
    kinds = rng.sample(sorted(ABNORMALITIES), count)
    positives = [ABNORMALITIES[kind](rng, say) for kind in kinds]
    by_slot: dict[str, list[Finding]] = {}
    for finding in positives:
        by_slot.setdefault(finding.slot, []).append(finding)
    sentences: list[str] = []
    for slot in SLOT_ORDER:
        if slot in by_slot:
            sentences.extend(f.findings for f in by_slot[slot])
        elif slot in NORMAL:
            sentences.append(say(f"normal.{slot}", NORMAL[slot]))
    findings = " ".join(_deidentify(s, rng, 0.06) for s in sentences if s)
    ordered = [f for slot in SLOT_ORDER for f in by_slot.get(slot, [])]
    if not ordered:
        impression = say("normal.impression", NORMAL_IMPRESSIONS)
    elif len(ordered) == 1:
        impression = ordered[0].impression
        impression += say(
            "impression.single", ("", "", " No other acute cardiopulmonary abnormality.")
        )
    elif say("impression.several", ("numbered", "numbered", "plain")) == "numbered":
        impression = " ".join(f"{n}. {f.impression}" for n, f in enumerate(ordered, start=1))
    else:
        impression = " ".join(f.impression for f in ordered)
    age = rng.choice(("XXXX-year-old", f"{rng.randint(20, 90)}-year-old"))
    sex = rng.choice(("male", "female", "XXXX"))
    comparison = rng.choice(("None.", "XXXX.", "Chest radiograph XXXX."))
    background = f"Indication: {age} {sex} with {rng.choice(INDICATIONS)}. Comparison: {comparison}"
    return {
        "study_id": f"{prefix}{index:05d}",
        "findings": findings,
        "impression": impression,
        "background": background,
    }


def generate_reports(count: int, seed: int = 7, prefix: str = "SYN") -> list[dict[str, Any]]:
    """``count`` reports, the same ones for the same seed."""
    rng = random.Random(seed)
    return [generate_report(index, rng, prefix) for index in range(1, count + 1)]


def bad_lines(existing_id: str) -> list[str]:
    """JSON Lines that break the input contract, one reason each, for the demo's infer file."""
    return [
        json.dumps({"study_id": "BAD-NO-FINDINGS", "impression": "No active disease."}),
        json.dumps({"findings": "The lungs are clear.", "impression": "Normal chest."}),
        json.dumps({"study_id": existing_id, "findings": "The heart is normal in size."}),
        json.dumps({"study_id": "BAD-TYPE", "findings": 42}),
        "{this line is not JSON",
    ]


def write_jsonl(path: str | Path, records: Iterable[dict[str, Any]], extra: Sequence[str] = ()):
    """Write records as JSON Lines, then any raw ``extra`` lines; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        for line in extra:
            handle.write(line + "\n")
    return path


@dataclass(frozen=True)
class DemoFiles:
    train: Path
    infer: Path
    train_records: int
    infer_records: int
    infer_bad: int


def write_demo_files(
    directory: str | Path,
    train: int = 400,
    infer: int = 100,
    seed: int = 7,
    with_bad: bool = True,
) -> DemoFiles:
    """A training file and an inference file (with references, plus a few bad records)."""
    directory = Path(directory)
    records = generate_reports(train + infer, seed)
    train_records, infer_records = records[:train], records[train:]
    extra = bad_lines(infer_records[0]["study_id"]) if with_bad and infer_records else []
    return DemoFiles(
        train=write_jsonl(directory / "train.jsonl", train_records),
        infer=write_jsonl(directory / "infer.jsonl", infer_records, extra),
        train_records=len(train_records),
        infer_records=len(infer_records) + len(extra),
        infer_bad=len(extra),
    )
