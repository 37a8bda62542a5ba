"""The input contract: formats, each kind of bad record, unreadable files, streaming."""

from __future__ import annotations

import io
import json

import pytest

from radimpress import json_records, records
from radimpress.records import Purpose, Rejection, Report, UnreadableFile, read_reports
from radimpress_workstation.cli import main


def outcomes(text: str | bytes, purpose: Purpose = Purpose.TRAIN):
    data = text.encode() if isinstance(text, str) else text
    return list(read_reports(io.BytesIO(data), purpose, "f.json"))


GOOD = {"study_id": "s1", "subject_id": 7, "findings": "Lungs clear.", "impression": "Normal."}


def test_json_array_and_json_lines_give_the_same_reports():
    rows = [GOOD, {**GOOD, "study_id": "s2", "background": "Indication: cough."}]
    as_array = outcomes(json.dumps(rows))
    as_lines = outcomes("\n".join(json.dumps(r) for r in rows) + "\n")
    assert as_array == as_lines
    assert as_array[0] == Report("s1", "Lungs clear.", "Normal.", "", "7")
    assert as_array[1].background == "Indication: cough."


def test_integer_ids_become_strings():
    (report,) = outcomes(json.dumps([{**GOOD, "study_id": 50414267}]))
    assert report.study_id == "50414267"


@pytest.mark.parametrize(
    ("record", "field", "reason_part"),
    [
        ({**GOOD, "findings": ""}, "findings", "required"),
        ({k: v for k, v in GOOD.items() if k != "findings"}, "findings", "required"),
        ({**GOOD, "findings": 12}, "findings", "must be a string"),
        ({**GOOD, "impression": None}, "impression", "required"),
        ({**GOOD, "study_id": ""}, "study_id", "required"),
        ({**GOOD, "study_id": ["x"]}, "study_id", "string or integer"),
        ({**GOOD, "study_id": "a\nb"}, "study_id", "printable"),
        ({**GOOD, "subject_id": {"a": 1}}, "subject_id", "string or integer"),
        ({**GOOD, "background": 3.5}, "background", "must be a string"),
        ({**GOOD, "findings": "x" * (records.MAX_TEXT_CHARS + 1)}, "findings", "longer than"),
    ],
)
def test_each_bad_field_is_rejected_with_position_id_and_field(record, field, reason_part):
    good2 = {**GOOD, "study_id": "ok"}
    result = outcomes(json.dumps([good2, record]))
    assert isinstance(result[0], Report)
    rejection = result[1]
    assert isinstance(rejection, Rejection)
    assert (rejection.position, rejection.field) == (2, field)
    assert reason_part in rejection.reason
    if field not in ("study_id",):
        assert rejection.study_id == "s1"


def test_impression_is_optional_for_inference():
    record = {k: v for k, v in GOOD.items() if k != "impression"}
    (report,) = outcomes(json.dumps([record]), Purpose.INFER)
    assert report.impression is None


def test_duplicate_ids_are_rejected_and_name_the_first_position():
    result = outcomes(json.dumps([GOOD, GOOD]))
    assert isinstance(result[1], Rejection)
    assert "first seen at record 1" in result[1].reason


def test_non_objects_and_bad_lines_are_rejected_but_good_lines_survive():
    text = json.dumps(GOOD) + "\n[1, 2]\n{broken\n\n" + json.dumps({**GOOD, "study_id": "s9"})
    result = outcomes(text)
    assert [type(r).__name__ for r in result] == ["Report", "Rejection", "Rejection", "Report"]
    assert [r.position for r in result if isinstance(r, Rejection)] == [2, 3]
    assert result[3].study_id == "s9"


def test_rejection_text_never_contains_report_text():
    secret = "PATIENT-SECRET-TEXT"
    result = outcomes(json.dumps([{**GOOD, "findings": secret, "impression": 5}]))
    assert secret not in result[0].describe("f.json")
    assert secret not in json.dumps(result[0].to_dict())


@pytest.mark.parametrize(
    ("data", "reason_part"),
    [
        (b"", "empty"),
        (b"  \n ", "empty"),
        (b"study_id,findings\n1,x\n", "not JSON"),
        (b"{not json at all\n", "not valid JSON"),
        (b'[{"study_id": "a", "findings": "x"}', "not closed"),
        (b'[{"study_id": "a"} {"study_id": "b"}]', "expected ','"),
        (b'[{"study_id": "a"}] trailing', "after the array"),
        ('[{"study_id": "é"}]'.encode("latin-1"), "not UTF-8"),
    ],
)
def test_unreadable_files_raise_with_the_file_name(data, reason_part):
    with pytest.raises(UnreadableFile) as caught:
        outcomes(data)
    assert reason_part in caught.value.reason
    assert str(caught.value).startswith("f.json: ")


def test_utf8_bom_and_unicode_are_accepted():
    text = "\ufeff" + json.dumps([{**GOOD, "findings": "Pleural effusion — small. 肺"}])
    (report,) = outcomes(text.encode("utf-8"))
    assert report.findings.endswith("肺")


def test_stream_spans_chunk_boundaries(monkeypatch):
    monkeypatch.setattr(json_records, "CHUNK_CHARS", 7)
    rows = [
        {**GOOD, "study_id": f"s{i}", "findings": f"Finding {i} é." * 3, "n": 12345}
        for i in range(40)
    ]
    for text in (json.dumps(rows), "\n".join(json.dumps(r) for r in rows)):
        result = outcomes(text)
        assert [r.study_id for r in result] == [f"s{i}" for i in range(40)]


def test_streaming_reads_records_lazily():
    """The reader yields the first record before the rest of a large array is read."""

    class CountingStream(io.BytesIO):
        reads = 0

        def read(self, size=-1):
            CountingStream.reads += 1
            return super().read(size)

    rows = [{**GOOD, "study_id": f"s{i}", "findings": "x" * 1000} for i in range(5000)]
    stream = CountingStream(json.dumps(rows).encode())
    first = next(read_reports(stream, Purpose.TRAIN, "big.json"))
    assert first.study_id == "s0"
    assert CountingStream.reads == 1  # one 1 MiB chunk of a 5 MB file


def test_validate_cli_exit_codes_and_json(tmp_path, capsys):
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(GOOD) + "\n")
    mixed = tmp_path / "mixed.json"
    mixed.write_text(json.dumps([GOOD, {"study_id": "x"}]))
    empty = tmp_path / "empty.json"
    empty.write_text("")
    assert main(["validate", str(good), "--purpose", "train"]) == 0
    capsys.readouterr()
    assert main(["validate", str(mixed), "--json"]) == 1
    printed = json.loads(capsys.readouterr().out)
    assert printed["records_read"] == 2 and printed["accepted"] == 1 and printed["rejected"] == 1
    assert printed["rejections"][0]["field"] == "findings"
    assert main(["validate", str(empty)]) == 2
    assert "empty file" in capsys.readouterr().err
    assert main(["validate", str(tmp_path / "missing.json")]) == 2


def test_an_overlong_integer_rejects_its_record_in_json_lines_and_in_arrays():
    huge = "9" * 5000
    text = json.dumps(GOOD) + "\n" + '{"study_id": ' + huge + ', "findings": "x"}\n'
    result = outcomes(text + json.dumps({**GOOD, "study_id": "s2"}))
    assert [type(r).__name__ for r in result] == ["Report", "Rejection", "Report"]
    assert (result[1].position, result[1].field) == (2, "study_id")
    array = "[" + json.dumps(GOOD) + ', {"study_id": ' + huge + "}, "
    result = outcomes(array + json.dumps({**GOOD, "study_id": "s2"}) + "]")
    assert [type(r).__name__ for r in result] == ["Report", "Rejection", "Report"]
    assert (result[1].position, result[1].field) == (2, "study_id")
    assert "4,300 digits" in result[1].reason
