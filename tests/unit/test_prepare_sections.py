"""Report section parsing: headers, aliases, background, repeats and drop reasons."""

from __future__ import annotations

from radimpress_training.prepare.sections import DropReason, Sections, parse_report

MIMIC_STYLE = """                                 FINAL REPORT
 EXAMINATION:  CHEST (PA AND LAT)

 INDICATION:  ___ year old woman with cough.

 COMPARISON:  ___

 FINDINGS:

 The lungs are clear.  No pleural effusion
 or pneumothorax.

 IMPRESSION:

 No acute cardiopulmonary process.
"""


def test_mimic_style_report() -> None:
    assert parse_report(MIMIC_STYLE) == Sections(
        findings="The lungs are clear. No pleural effusion or pneumothorax.",
        impression="No acute cardiopulmonary process.",
        background="Examination: CHEST (PA AND LAT) Indication: ___ year old woman with cough. "
        "Comparison: ___",
    )


def test_conclusion_is_an_impression_and_the_last_repeat_wins() -> None:
    text = "FINDINGS: Heart enlarged.\nCONCLUSION: Cardiomegaly.\nIMPRESSION: Cardiomegaly, stable."
    assert parse_report(text) == Sections("Heart enlarged.", "Cardiomegaly, stable.", "")


def test_combined_section_serves_as_findings_only_beside_an_impression() -> None:
    combined = "INDICATION: pain\nFINDINGS AND IMPRESSION: Normal chest."
    assert parse_report(combined) is DropReason.COMBINED_ONLY
    both = "FINDINGS AND IMPRESSION: Lungs clear.\nIMPRESSION: Normal."
    assert parse_report(both) == Sections("Lungs clear.", "Normal.", "")


def test_drop_reasons() -> None:
    assert parse_report("IMPRESSION: Normal.") is DropReason.NO_FINDINGS
    assert parse_report("FINDINGS: Clear.") is DropReason.NO_IMPRESSION
    assert parse_report("FINDINGS:\n\nIMPRESSION: Normal.") is DropReason.EMPTY_FINDINGS
    assert parse_report("FINDINGS: Clear.\nIMPRESSION:   \n") is DropReason.EMPTY_IMPRESSION
    assert parse_report("") is DropReason.NO_IMPRESSION


def test_headers_need_upper_case_at_line_start() -> None:
    text = "FINDINGS: Tube at 10:30. Impression: none, see Note: x.\nIMPRESSION: Tube in place."
    assert parse_report(text) == Sections(
        "Tube at 10:30. Impression: none, see Note: x.", "Tube in place.", ""
    )
