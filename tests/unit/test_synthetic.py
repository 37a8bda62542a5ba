"""The synthetic report generator: reproducible, valid input, realistic enough to learn from."""

from __future__ import annotations

import re

from radimpress.records import Purpose, Rejection, Report, read_reports
from radimpress_workstation.synthetic import NORMAL_IMPRESSIONS, generate_reports, write_demo_files


def load_reports(path, purpose) -> tuple[list[Report], list[Rejection]]:
    """The whole file in memory (test files are small), accepted reports and rejections apart."""
    with open(path, "rb") as handle:
        outcomes = list(read_reports(handle, purpose, str(path)))
    return (
        [o for o in outcomes if isinstance(o, Report)],
        [o for o in outcomes if isinstance(o, Rejection)],
    )


def test_same_seed_same_reports_other_seed_other_reports():
    assert generate_reports(50, seed=1) == generate_reports(50, seed=1)
    assert generate_reports(50, seed=1) != generate_reports(50, seed=2)


def test_every_generated_record_passes_the_input_contract(tmp_path):
    files = write_demo_files(tmp_path, train=300, infer=50, with_bad=False)
    reports, rejections = load_reports(files.train, Purpose.TRAIN)
    assert len(reports) == 300 and rejections == []
    reports, rejections = load_reports(files.infer, Purpose.INFER)
    assert len(reports) == 50 and rejections == []
    assert all(r.impression for r in reports)


def test_train_and_infer_files_do_not_share_studies(tmp_path):
    files = write_demo_files(tmp_path, train=100, infer=40, with_bad=False)
    train_ids = {r.study_id for r in load_reports(files.train, Purpose.TRAIN)[0]}
    infer_ids = {r.study_id for r in load_reports(files.infer, Purpose.INFER)[0]}
    assert not train_ids & infer_ids


def test_bad_records_are_each_rejected_for_their_own_field(tmp_path):
    files = write_demo_files(tmp_path, train=10, infer=20)
    reports, rejections = load_reports(files.infer, Purpose.INFER)
    assert len(reports) == 20
    assert len(rejections) == files.infer_bad == 5
    assert all(isinstance(r, Rejection) for r in rejections)
    fields = sorted(str(r.field) for r in rejections)
    assert fields == ["None", "findings", "findings", "study_id", "study_id"]
    assert files.infer_records == len(reports) + len(rejections)


def test_mix_of_normal_and_abnormal_studies_with_varied_phrasing():
    reports = generate_reports(500, seed=11)
    normal = [r for r in reports if r["impression"] in NORMAL_IMPRESSIONS]
    assert 0.3 < len(normal) / len(reports) < 0.6
    numbered = [r for r in reports if re.match(r"1\. .* 2\. ", r["impression"])]
    assert numbered, "studies with several findings get numbered impressions"
    assert sum("XXXX" in r["findings"] for r in reports) > 10
    assert len({r["findings"] for r in reports}) > 350
    assert len({r["impression"] for r in reports}) > 100


def test_abnormal_impressions_restate_the_positive_finding():
    for report in generate_reports(400, seed=5):
        findings, impression = report["findings"].lower(), report["impression"].lower()
        for word in ("effusion", "pneumothorax", "nodul", "atelectasis"):
            if word in impression:
                assert word in findings
        if "cardiomegaly" in impression:
            assert "cardiomegaly" in findings or "enlarged" in findings
        for side in ("left", "right", "bilateral"):
            if re.search(rf"\b{side} (pleural|pneumothorax|apical)", impression):
                assert side in findings


def test_reports_are_valid_report_objects():
    report = generate_reports(1)[0]
    assert set(report) == {"study_id", "findings", "impression", "background"}
    assert isinstance(Report(**report), Report)
