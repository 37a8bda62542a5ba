"""A corpus of hostile files, generated here, read by ``radimpress validate``,
by the Ingest step and by the records reader; they must agree, reject only the hostile record
(position and field named, never its text) and never raise anything but UnreadableFile."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import zipfile

import pytest
from handler_support import BUCKET

from radimpress.errors import InputFileError
from radimpress.records import Purpose, Rejection, Report, UnreadableFile, read_reports
from radimpress.spec import load_spec
from radimpress.steps.ingest import ingest
from radimpress_workstation.cli import main

SECRET = "Patient SECRETNAME has a mass"  # report text: must never appear in a reason


def good(i: int) -> dict:
    return {"study_id": f"s{i}", "findings": f"Finding {i}.", "impression": f"Impression {i}."}


def deep(levels: int) -> str:
    return "[" * levels + '"' + SECRET + '"' + "]" * levels


HOSTILE_RECORDS = {  # name -> (JSON text of the record, field named in the rejection)
    "deep-1000": ('{"study_id": "h", "findings": ' + deep(1000) + "}", "findings"),
    "deep-100000": ('{"study_id": "h", "findings": ' + deep(100_000) + "}", "findings"),
    "deep-100-unknown-field": ('{"study_id": "h", "findings": "x", "extra": ' + deep(100) + "}", None),
    "lone-surrogate": ('{"study_id": "h", "findings": "' + SECRET + ' \\ud800", "impression": "i"}', "findings"),
    "lone-surrogate-id": ('{"study_id": "h\\udc00", "findings": "x", "impression": "i"}', "study_id"),
    "duplicate-key": ('{"study_id": "h", "findings": "' + SECRET + '", "findings": "x", "impression": "i"}', "findings"),
    "duplicate-unknown-key": ('{"study_id": "h", "a": 1, "a": 2, "findings": "x", "impression": "i"}', None),
    "long-integer": ('{"study_id": "h", "findings": "x", "impression": "i", "subject_id": ' + "7" * 5000 + "}", "subject_id"),
}  # fmt: skip


def jsonl_file(record: str) -> bytes:
    lines = [json.dumps(good(1)), record, json.dumps(good(2))]
    return ("\n".join(lines) + "\n").encode("utf-8")


def array_file(record: str) -> bytes:
    return ("[" + ", ".join([json.dumps(good(1)), record, json.dumps(good(2))]) + "]").encode()


def corpus() -> dict[str, tuple[bytes, int, str | None]]:
    """name -> (file bytes, position of the hostile record, field named)."""
    files = {}
    for name, (record, field) in HOSTILE_RECORDS.items():
        files[f"{name}.jsonl"] = (jsonl_file(record), 2, field)
        files[f"{name}.json"] = (array_file(record), 2, field)
    bad_utf8 = json.dumps(good(1)).encode() + b"\n" + b'{"study_id": "h", "findings": "\xff"}\n'
    files["invalid-utf8.jsonl"] = (bad_utf8 + json.dumps(good(2)).encode() + b"\n", 2, None)
    return files


CORPUS = corpus()


def read(data: bytes, name: str = "f") -> list[Report | Rejection]:
    return list(read_reports(io.BytesIO(data), Purpose.TRAIN, name))


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_the_hostile_record_alone_is_rejected_and_named(name):
    data, position, field = CORPUS[name]
    outcomes = read(data)
    assert [type(o).__name__ for o in outcomes] == ["Report", "Rejection", "Report"]
    rejection = outcomes[1]
    assert (rejection.position, rejection.field) == (position, field)
    assert SECRET not in rejection.describe() and "SECRETNAME" not in json.dumps(
        rejection.to_dict()
    )
    rejection.describe().encode("utf-8")  # printable: no lone surrogate leaks into a reason


def test_invalid_utf8_names_its_byte_offset():
    data = CORPUS["invalid-utf8.jsonl"][0]
    rejection = read(data)[1]
    offset = data.index(b"\xff")
    assert f"byte offset {offset}" in rejection.reason


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_validate_and_ingest_agree(name, aws, tmp_path, capsys):
    data, _, _ = CORPUS[name]
    path = tmp_path / name
    path.write_bytes(data)
    assert main(["validate", str(path), "--purpose", "train", "--json"]) == 1
    summary = json.loads(capsys.readouterr().out)
    key = f"incoming/train/demo/{name}"
    aws.put(key, data)
    result = ingest(aws.s3, BUCKET, key, "run-h", load_spec())
    ingested = [(r["position"], r["field"], r["reason"]) for r in aws.lines(result.rejected_key)]
    validated = [(r["position"], r["field"], r["reason"]) for r in summary["rejections"]]
    assert ingested == validated
    assert (result.records, result.rejected) == (summary["accepted"], summary["rejected"])
    assert [r["study_id"] for r in aws.lines(result.records_key)] == ["s1", "s2"]


def compressed() -> dict[str, bytes]:
    text = (json.dumps(good(1)) + "\n").encode()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("reports.jsonl", text)
    return {"gzip": gzip.compress(text), "bzip2": bz2.compress(text), "zip": archive.getvalue()}


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "zip"])
def test_a_compressed_file_is_named_as_compressed(kind, aws, tmp_path, capsys):
    data = compressed()[kind]
    with pytest.raises(UnreadableFile, match=f"{kind}-compressed"):
        read(data)
    path = tmp_path / f"reports.jsonl.{kind}"
    path.write_bytes(data)
    assert main(["validate", str(path)]) == 2
    assert f"{kind}-compressed" in capsys.readouterr().err
    aws.put("incoming/infer/demo/reports.jsonl", data)
    with pytest.raises(InputFileError, match=f"{kind}-compressed"):
        ingest(aws.s3, BUCKET, "incoming/infer/demo/reports.jsonl", "run-c", load_spec())


def test_an_overlong_line_is_rejected_without_holding_it(monkeypatch):
    from radimpress import json_records

    monkeypatch.setattr(json_records, "MAX_LINE_BYTES", 1000)
    monkeypatch.setattr(json_records, "CHUNK_CHARS", 256)
    long_line = json.dumps({"study_id": "h", "findings": "x" * 5000})
    data = "\n".join([json.dumps(good(1)), long_line, json.dumps(good(2))]).encode()
    outcomes = read(data)
    assert [type(o).__name__ for o in outcomes] == ["Report", "Rejection", "Report"]
    assert outcomes[1].position == 2 and "longer than" in outcomes[1].reason
