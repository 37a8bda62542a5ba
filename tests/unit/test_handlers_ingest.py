"""Ingest Lambda against moto S3: routes, rejected records, channel layout, streaming writes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from handler_support import BUCKET, jsonl

from radimpress import storage
from radimpress.errors import InputFileError
from radimpress.handlers import ingest
from radimpress.records import Report

EVENTS = Path(__file__).resolve().parents[1] / "events"
SECRET = "Patient XXXX has a 3 cm mass"  # stands for report text that must never leak


def run(context, key: str, run_id: str = "run-1") -> dict:
    event = {"bucket": BUCKET, "key": key, "run_id": run_id, "started_at": "2026-11-24T08:00:00Z"}
    return ingest.handler(event, context)


def test_training_file_is_split_into_records_rejections_and_the_channel(aws, context):
    reports = [
        {"study_id": "s1", "findings": SECRET, "impression": "Mass.", "subject_id": 7},
        {"study_id": "s2", "findings": "Lungs clear.", "impression": "Normal."},
        {"study_id": "s3", "findings": "Heart normal."},  # no impression: rejected for training
        {"study_id": "s1", "findings": "Again.", "impression": "Dup."},  # duplicate id
        {"study_id": "s4", "findings": "Effusion [** Name **].", "impression": "Effusion."},
    ]
    aws.put("incoming/train/mimic/train.json", json.dumps(reports))
    result = run(context, "incoming/train/mimic/train.json")
    assert result == {
        "route": "train",
        "run_id": "run-1",
        "dataset": "mimic",
        "source_key": "incoming/train/mimic/train.json",
        "records_key": "runs/run-1/ingest/records.jsonl",
        "rejected_key": "runs/run-1/ingest/rejected.jsonl",
        "records": 3,
        "rejected": 2,
        "has_references": True,
        "format": "json",
        "started_at": "2026-11-24T08:00:00Z",
        "version_id": result["version_id"],
        "claim_key": result["claim_key"],
        "duplicate_of": "",
        # too few studies to hold any out for the promotion gate: all of them are trained on
        "holdout_key": "",
        "holdout_records": 0,
        "train_records": 3,
        # run lineage: the uploaded object's bytes as Ingest read them
        "input_sha256": hashlib.sha256(json.dumps(reports).encode()).hexdigest(),
        "input_bytes": len(json.dumps(reports).encode()),
    }
    assert result["version_id"].startswith("etag:")  # the test bucket is not versioned
    records = aws.lines(result["records_key"])
    assert [r["study_id"] for r in records] == ["s1", "s2", "s4"]
    assert records[0]["findings"] == SECRET  # the records keep the original text
    rejected = aws.lines(result["rejected_key"])
    assert [(r["position"], r["study_id"], r["field"]) for r in rejected] == [
        (3, "s3", "impression"),
        (4, "s1", "study_id"),
    ]
    assert all(r["source"] == "incoming/train/mimic/train.json" for r in rejected)
    assert SECRET not in aws.read(result["rejected_key"]).decode()
    train = aws.lines("runs/run-1/train/data/train.jsonl")
    assert train[0] == {"findings": "Patient ___ has a 3 cm mass", "impression": "Mass."}
    assert train[2]["findings"] == "Effusion ___."  # placeholders normalised for training
    template = json.loads(aws.read("runs/run-1/train/data/template.json"))
    assert template["completion"] == "{impression}" and "{findings}" in template["prompt"]
    assert SECRET not in json.dumps(result)


def test_inference_file_without_impressions_summarizes_only(aws, context):
    aws.put(
        "incoming/infer/openi/batch.jsonl",
        jsonl([{"study_id": i, "findings": f"Finding {i}."} for i in range(5)]),
    )
    result = run(context, "incoming/infer/openi/batch.jsonl", "run-2")
    assert (result["route"], result["records"], result["rejected"]) == ("infer", 5, 0)
    assert result["has_references"] is False
    assert result["format"] == "jsonl"
    assert aws.keys("runs/run-2/") == [
        "runs/run-2/ingest/records.jsonl",
        "runs/run-2/ingest/rejected.jsonl",
    ]


def test_eventbridge_events_are_real_shaped_and_encoded_keys_are_found(aws, context):
    event = json.loads((EVENTS / "s3_object_created_infer_encoded_key.json").read_text())
    parsed = S3EventNotificationEventBridgeModel(**event)
    assert parsed.detail.object.key == "incoming/infer/openi/dev+set+2026.json"
    aws.put(
        "incoming/infer/openi/dev set 2026.json", json.dumps([{"study_id": "a", "findings": "x"}])
    )
    result = run(context, parsed.detail.object.key, "run-3")
    assert result["source_key"] == "incoming/infer/openi/dev set 2026.json"
    for name in ("s3_object_created_train.json", "s3_object_created_unknown_prefix.json"):
        S3EventNotificationEventBridgeModel(**json.loads((EVENTS / name).read_text()))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty file"),
        (b"<html>not json</html>", "not JSON"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
    ],
)
def test_unreadable_files_fail_with_the_file_named(aws, context, body, reason):
    aws.put("incoming/infer/site/bad.json", body)
    with pytest.raises(InputFileError, match=reason) as err:
        run(context, "incoming/infer/site/bad.json")
    assert f"s3://{BUCKET}/incoming/infer/site/bad.json" in str(err.value)


def test_a_file_with_no_valid_record_fails_but_keeps_the_reasons(aws, context):
    aws.put("incoming/train/x/t.jsonl", jsonl([{"study_id": "a", "findings": SECRET}]))
    with pytest.raises(InputFileError, match="no valid record") as err:
        run(context, "incoming/train/x/t.jsonl", "run-4")
    assert SECRET not in str(err.value)
    assert aws.lines("runs/run-4/ingest/rejected.jsonl")[0]["field"] == "impression"


@pytest.mark.parametrize(
    "key", ["incoming/other/x/f.json", "incoming/train/f.json", "incoming/infer/bad name!/f.json"]
)
def test_keys_outside_the_layout_are_refused(aws, context, key):
    aws.put(key, b"[]")
    with pytest.raises(InputFileError, match="incoming/train/<dataset>/<file>"):
        run(context, key)


def test_missing_object(aws, context):
    with pytest.raises(InputFileError, match="no such object"):
        run(context, "incoming/infer/x/gone.json")


def test_large_files_stream_through_multipart_uploads(aws, context, monkeypatch):
    import moto.s3.models

    monkeypatch.setattr(storage, "PART_BYTES", 64 * 1024)
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 1024)
    calls = []
    original = aws.s3.upload_part

    def counting_upload_part(**kwargs):
        calls.append(len(kwargs["Body"]))
        return original(**kwargs)

    monkeypatch.setattr(aws.s3, "upload_part", counting_upload_part)
    findings = "The cardiomediastinal silhouette is within normal limits. " * 8
    reports = [
        {"study_id": f"s{i}", "findings": findings, "impression": "No acute disease."}
        for i in range(2000)
    ]
    aws.put("incoming/train/big/train.jsonl", jsonl(reports))
    result = run(context, "incoming/train/big/train.jsonl", "run-5")
    assert result["records"] == 2000
    assert len(calls) > 10 and max(calls) < 2 * 64 * 1024  # parts, never the whole file
    assert len(aws.lines("runs/run-5/ingest/records.jsonl")) == 2000
    # About a tenth is held out for the promotion gate (radimpress.holdout); none is lost.
    trained = len(aws.lines("runs/run-5/train/data/train.jsonl"))
    held_out = len(aws.lines("runs/run-5/ingest/holdout.jsonl"))
    assert (trained, held_out) == (result["train_records"], result["holdout_records"])
    assert trained + held_out == 2000 and 150 <= held_out <= 250


@pytest.mark.parametrize(
    "report",
    [
        Report("a", "f"),
        Report("a", "f", "i", "b", "s"),
        Report("a", "f", None, "", None),
    ],
)
def test_report_to_dict_is_asdict_without_unset_fields(report):
    from dataclasses import asdict

    expected = {k: v for k, v in asdict(report).items() if v is not None}
    assert report.to_dict() == expected
    assert list(report.to_dict()) == list(expected)


def test_access_denied_on_the_encoded_key_still_finds_the_decoded_one(aws, context, monkeypatch):
    """In AWS, a missing key reads as AccessDenied when the role may not list the bucket."""
    from botocore.exceptions import ClientError

    original = aws.s3.get_object

    def get_object(**kwargs):
        if "+" in kwargs["Key"]:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "GetObject")
        return original(**kwargs)

    monkeypatch.setattr(aws.s3, "get_object", get_object)
    aws.put("incoming/infer/x/a b.json", json.dumps([{"study_id": "a", "findings": "x"}]))
    assert run(context, "incoming/infer/x/a+b.json")["source_key"] == "incoming/infer/x/a b.json"
    with pytest.raises(InputFileError, match="no such object"):
        run(context, "incoming/infer/x/gone+file.json")
