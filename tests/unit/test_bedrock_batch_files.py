"""Batch inference files: recordIds, input files within the quotas, outputs joined by recordId
(radimpress.bedrock.batch_files).

Formats: Bedrock user guide, "Format and upload your batch inference data" and "View the results
of a batch inference job" (output order not guaranteed; error lines; manifest.json.out fields).
"""

from __future__ import annotations

import json

import pytest
from handler_support import BUCKET

from radimpress.bedrock.batch_files import (
    MALFORMED_OUTPUT,
    MISSING,
    BatchQuotas,
    Manifest,
    RecordRejection,
    input_line,
    manifest_key,
    output_key,
    read_manifest,
    read_outputs,
    record_id,
    study_id_of,
    write_input_files,
)
from radimpress.bedrock.model_input import BodyFormat

JOB_ARN = "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcdef123456"
SECRET = "Patient John Smith has a mass"  # report text: must never reach a message


@pytest.mark.parametrize(
    "study_id", ["12345678", "s50414267", "a b", "ÉTUDE-7", "x/y?z", "_", "1" * 65, "😀"]
)
def test_record_ids_are_alphanumeric_and_give_the_study_id_back(study_id):
    rid = record_id(study_id)
    assert rid.isascii() and rid.isalnum()
    assert study_id_of(rid) == study_id


def test_plain_ids_stay_readable_and_other_strings_are_not_record_ids():
    assert record_id("50414267") == "S50414267"
    for other in ("", "X123", "B!!", "S", "B1", 7):
        with pytest.raises(ValueError):
            study_id_of(other)  # type: ignore[arg-type]


def test_input_files_roll_over_at_the_per_file_quota(s3):
    quotas = BatchQuotas(max_records_per_file=3)
    lines = (input_line(str(i), {"inputText": f"findings {i}"}) for i in range(7))
    written = write_input_files(s3, BUCKET, "runs/r1/bedrock/input/", lines, quotas)
    assert written.keys == [f"runs/r1/bedrock/input/part-0000{n}.jsonl" for n in (1, 2, 3)]
    assert written.records == 7
    counts = [
        len(s3.get_object(Bucket=BUCKET, Key=k)["Body"].read().splitlines()) for k in written.keys
    ]
    assert counts == [3, 3, 1]
    first = json.loads(
        s3.get_object(Bucket=BUCKET, Key=written.keys[0])["Body"].read().splitlines()[0]
    )
    assert first == {"recordId": "S0", "modelInput": {"inputText": "findings 0"}}
    assert written.bytes == sum(
        s3.head_object(Bucket=BUCKET, Key=k)["ContentLength"] for k in written.keys
    )


def test_input_files_roll_over_at_the_file_size_quota(s3):
    line = input_line("1", {"inputText": "x" * 50})
    size = len(json.dumps(line).encode()) + 1
    quotas = BatchQuotas(max_file_bytes=size * 2)
    written = write_input_files(s3, BUCKET, "in", [line] * 5, quotas)
    assert len(written.keys) == 3


def test_more_than_a_job_takes_is_refused(s3):
    with pytest.raises(ValueError, match="more than a batch job takes"):
        write_input_files(
            s3,
            BUCKET,
            "in",
            [input_line(str(i), {"x": i}) for i in range(4)],
            BatchQuotas(max_records_per_job=3),
        )


def _answer(study, text):
    return {
        "recordId": record_id(study),
        "modelInput": {"prompt": SECRET},
        "modelOutput": {"generation": text, "prompt_token_count": 10, "generation_token_count": 2},
    }


def _put_lines(s3, key, lines):
    body = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode())


def test_outputs_in_any_order_join_back_by_record_id(s3):
    key = output_key("runs/r1/bedrock/output", JOB_ARN, "runs/r1/bedrock/input/part-00001.jsonl")
    assert key == "runs/r1/bedrock/output/abcdef123456/part-00001.jsonl.out"
    studies = [str(i) for i in range(10)]
    _put_lines(s3, key, [_answer(s, f"impression {s}") for s in reversed(studies)])
    outputs = read_outputs(s3, BUCKET, [key], BodyFormat.META_LLAMA3)
    for study in studies:
        answer = outputs.take(study)
        assert not isinstance(answer, RecordRejection)
        assert answer.text == f"impression {study}" and answer.input_tokens == 10
    assert outputs.leftover() == 0


def test_error_lines_missing_records_and_bad_outputs_become_rejections_not_crashes(s3):
    key = "out/job/part.jsonl.out"
    _put_lines(
        s3,
        key,
        [
            _answer("ok", "Normal."),
            {
                "recordId": record_id("refused"),
                "modelInput": {"prompt": SECRET},
                "error": {"errorCode": 400, "errorMessage": f"Malformed input: {SECRET}"},
            },
            {"recordId": record_id("empty"), "modelInput": {}, "modelOutput": {"generation": None}},
            {"recordId": record_id("weird"), "modelInput": {}, "error": {"errorCode": None}},
            "not json at all",
            json.dumps(["a", "list"]),
            {"recordId": "X-not-ours", "modelOutput": {}},
            _answer("ok", "Normal again."),  # a duplicate: the first line wins
            {"recordId": record_id("stranger"), "modelOutput": {"generation": "x"}},
        ],
    )
    outputs = read_outputs(s3, BUCKET, [key], BodyFormat.META_LLAMA3)
    assert outputs.unreadable_lines == 3 and outputs.duplicates == 1
    assert outputs.take("ok").text == "Normal."  # type: ignore[union-attr]
    refused = outputs.take("refused")
    assert isinstance(refused, RecordRejection) and refused.code == "bedrock:400"
    assert "line 2" in refused.reason
    empty = outputs.take("empty")
    assert isinstance(empty, RecordRejection) and empty.code == MALFORMED_OUTPUT
    weird = outputs.take("weird")
    assert isinstance(weird, RecordRejection) and weird.code == "bedrock:error"
    missing = outputs.take("never-written")
    assert isinstance(missing, RecordRejection) and missing.code == MISSING
    for rejection in (refused, empty, weird, missing):
        assert "John" not in rejection.reason and "mass" not in rejection.reason
    assert outputs.leftover() == 1  # "stranger" matched no record that was taken


def test_the_manifest_is_read_and_a_missing_one_is_none(s3):
    key = manifest_key("runs/r1/bedrock/output/", JOB_ARN)
    assert key == "runs/r1/bedrock/output/abcdef123456/manifest.json.out"
    assert read_manifest(s3, BUCKET, key) is None
    counts = {
        "totalRecordCount": 120,
        "processedRecordCount": 120,
        "successRecordCount": 118,
        "errorRecordCount": 2,
        "inputTokenCount": 50000,
        "outputTokenCount": 2400,
    }
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(counts, indent=2).encode())
    assert read_manifest(s3, BUCKET, key) == Manifest(120, 120, 118, 2, 50000, 2400)
    s3.put_object(
        Bucket=BUCKET, Key=key, Body=json.dumps({**counts, "errorRecordCount": "2"}).encode()
    )
    with pytest.raises(Exception, match="errorRecordCount is not a count"):
        read_manifest(s3, BUCKET, key)
