"""Issue 19 item 7: per-record handling at the edges of a file, the same in the records reader,
``radimpress validate``, Ingest and ``radimpress run``'s up-front check (0 all good, 1 some
rejected, 2 unusable; never a traceback).

- a corrupt FIRST line of a JSON Lines file costs that line only, as on any other line;
- ``[]``, a 0-byte file and a blank one are "no records": exit 2 and a failed Ingest, everywhere;
- study ids that look the same are one study (NFC, zero-width characters, surrounding and
  non-ASCII spaces, integer vs string), and an id with nothing visible left is rejected;
- control and bidi characters in an id, a field or a file name are escaped in every message.
"""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path

import pytest
from handler_support import BUCKET

from radimpress import json_records
from radimpress.errors import InputFileError
from radimpress.records import (
    NoRecords,
    Purpose,
    Rejection,
    Report,
    UnreadableFile,
    normalize_id,
    printable,
    read_reports,
)
from radimpress.spec import load_spec
from radimpress.steps.ingest import ingest
from radimpress_workstation.cli import main
from radimpress_workstation.commands import run as run_command
from radimpress_workstation.console import Console, error
from radimpress_workstation.jsonl_text import iter_jsonl_rows, jsonl_lines

SECRET = "Patient SECRETNAME"


def good(i: int) -> dict:
    return {"study_id": f"s{i}", "findings": f"Finding {i}.", "impression": f"Impression {i}."}


def lines(*records: dict | str | bytes) -> bytes:
    out = []
    for record in records:
        if isinstance(record, dict):
            out.append(json.dumps(record, ensure_ascii=False).encode())
        else:
            out.append(record if isinstance(record, bytes) else record.encode())
    return b"\n".join(out) + b"\n"


def read(data: bytes, purpose: Purpose = Purpose.TRAIN) -> list[Report | Rejection]:
    return list(read_reports(io.BytesIO(data), purpose, "f.jsonl"))


def validate(tmp_path: Path, data: bytes, capsys, name: str = "f.jsonl") -> tuple[int, dict]:
    path = tmp_path / name
    path.write_bytes(data)
    code = main(["validate", str(path), "--purpose", "train", "--json"])
    return code, json.loads(capsys.readouterr().out)


# --------------------------------------------------------------------------------------------
# A corrupt first line of JSON Lines
# --------------------------------------------------------------------------------------------

CORRUPT_FIRST_LINES = {
    "truncated": '{"study_id": "s0", "findings": "' + SECRET,
    "garbage": "this is not json " + SECRET,
    "stray-bracket": "]" + SECRET,
    "invalid-utf8": b'{"study_id": "s0", "findings": "\xff"}',
}


@pytest.mark.parametrize("kind", sorted(CORRUPT_FIRST_LINES))
def test_a_corrupt_first_line_costs_that_line_only(kind, aws, tmp_path, capsys):
    data = lines(CORRUPT_FIRST_LINES[kind], *(good(i) for i in range(1, 101)))
    outcomes = read(data)
    assert [type(o).__name__ for o in outcomes] == ["Rejection"] + ["Report"] * 100
    assert outcomes[0].position == 1 and SECRET not in outcomes[0].describe()

    code, summary = validate(tmp_path, data, capsys)
    assert code == 1
    assert (summary["accepted"], summary["rejected"]) == (100, 1)
    assert summary["rejections"][0]["position"] == 1

    aws.put("incoming/train/demo/f.jsonl", data)
    result = ingest(aws.s3, BUCKET, "incoming/train/demo/f.jsonl", "run-1", load_spec())
    assert (result.records, result.rejected) == (100, 1)
    assert [r["position"] for r in aws.lines(result.rejected_key)] == [1]

    path = tmp_path / "f.jsonl"
    infer_count, train_count, overlap = run_command._check_inputs("run", path, path)
    assert (infer_count, train_count) == (101, 101)
    # The same read finds the overlap: every accepted study is in the training file.
    assert (overlap["studies"], overlap["by_study_id"], overlap["overlapping"]) == (100, 100, 100)


def test_without_a_training_file_the_check_looks_for_no_overlap(tmp_path, monkeypatch) -> None:
    """The overlap costs a normalised copy of each findings text: a run without --train (a
    million records, issue 19 item 8) pays nothing for it."""
    from radimpress_workstation import run_outputs

    def no_overlap(text: str) -> str:
        raise AssertionError("no training file: no overlap to look for")

    monkeypatch.setattr(run_outputs, "_overlap_key", no_overlap)
    path = tmp_path / "infer.jsonl"
    path.write_bytes(lines(*(good(i) for i in range(5))))
    assert run_command._check_inputs("run", None, path) == (5, 0, {})


def test_the_same_corruption_on_line_1_and_line_2_is_the_same_rejection():
    corrupt = CORRUPT_FIRST_LINES["truncated"]
    first = read(lines(corrupt, good(1), good(2)))[0]
    second = read(lines(good(1), corrupt, good(2)))[1]
    assert (first.reason, first.field) == (second.reason, second.field)


@pytest.mark.parametrize(
    ("data", "reason_part"),
    [
        (b"study_id,findings\n1,Clear.\n2,Clear.\n", "not JSON"),
        (b"{not json at all\n", "not valid JSON on line 1"),
        (b"{not json\n{nor this\n\n", "not valid JSON on line 1"),
        (b"1\n2\n3\n", "not JSON"),  # JSON, but no line is an object
    ],
)
def test_a_file_with_no_object_line_is_still_not_json(data, reason_part, tmp_path, capsys):
    with pytest.raises(UnreadableFile, match=reason_part):
        read(data)
    path = tmp_path / "f.jsonl"
    path.write_bytes(data)
    assert main(["validate", str(path)]) == 2
    assert reason_part in capsys.readouterr().err


def test_a_file_of_non_json_lines_is_refused_after_the_first_thousand(monkeypatch):
    monkeypatch.setattr(json_records, "CHUNK_CHARS", 64)
    data = b"a,b\n" * (json_records.MAX_LEADING_NON_OBJECTS + 50) + lines(good(1))
    with pytest.raises(UnreadableFile, match="not JSON"):
        read(data)


# --------------------------------------------------------------------------------------------
# No records
# --------------------------------------------------------------------------------------------

NO_RECORDS = {
    "0-bytes": b"",
    "blank": b" \n\r\n\t",
    "bom-only": b"\xef\xbb\xbf\n",
    "empty-array": b"[]",
    "empty-array-spaced": b" [ \n ] \n",
}


@pytest.mark.parametrize("kind", sorted(NO_RECORDS))
def test_no_records_is_unusable_everywhere(kind, aws, tmp_path, capsys):
    data = NO_RECORDS[kind]
    with pytest.raises(NoRecords, match="no records"):
        read(data)

    path = tmp_path / "f.json"
    path.write_bytes(data)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("radimpress validate: error: ") and "no records" in err
    assert main(["validate", str(path), "--json"]) == 2
    assert "no records" in json.loads(capsys.readouterr().out)["error"]

    aws.put("incoming/infer/demo/f.json", data)
    with pytest.raises(InputFileError, match="no records"):
        ingest(aws.s3, BUCKET, "incoming/infer/demo/f.json", "run-2", load_spec())

    good_file = tmp_path / "good.jsonl"
    good_file.write_bytes(lines(good(1)))
    assert run_command._check_inputs("run", good_file, path) == 2
    assert run_command._check_inputs("run", path, good_file) == 2
    err = capsys.readouterr().err
    assert err.count("no records") == 2 and "Traceback" not in err


# --------------------------------------------------------------------------------------------
# study_id normalization
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("AB", "A\u200bB"),  # zero-width space
        ("AB", "\ufeffA\u200c\u200dB\u2060"),  # joiners, word joiner, BOM
        ("caf\u00e9", "cafe\u0301"),  # NFC: one code point or e + combining acute
        ("s 1", "s\u00a01"),  # a no-break space reads as a space
        ("1", 1),
        (" 1 ", 1),
        ("1", "\u3000\u200b1 "),
    ],
)
def test_ids_that_look_the_same_are_one_study(first, second):
    outcomes = read(lines({**good(1), "study_id": first}, {**good(2), "study_id": second}))
    assert isinstance(outcomes[0], Report) and isinstance(outcomes[1], Rejection)
    assert "duplicate study_id (first seen at record 1)" in outcomes[1].reason
    assert outcomes[1].study_id == outcomes[0].study_id == normalize_id(str(first))


def test_an_id_is_kept_in_its_normalized_form():
    (report,) = read(lines({**good(1), "study_id": " A\u200bB\u00a0cafe\u0301 "}))
    assert report.study_id == "AB caf\u00e9"


@pytest.mark.parametrize("study_id", ["\u200b", " \u200b\ufeff ", "\u00a0", "\u3000"])
def test_an_id_with_nothing_visible_is_rejected(study_id):
    (rejection,) = read(lines({**good(1), "study_id": study_id}))
    assert isinstance(rejection, Rejection)
    assert rejection.field == "study_id" and "empty" in rejection.reason


@pytest.mark.parametrize(
    "study_id", ["a\u202eb", "a\u2028b", "a\u2029b", "a\x85b", "a\u2066b\u2069", "a\x1bb"]
)
def test_an_id_with_control_or_bidi_characters_is_rejected_without_being_echoed(study_id):
    (rejection,) = read(lines({**good(1), "study_id": study_id}))
    assert isinstance(rejection, Rejection) and rejection.field == "study_id"
    assert rejection.study_id is None and "printable" in rejection.reason


# --------------------------------------------------------------------------------------------
# Escaping in messages
# --------------------------------------------------------------------------------------------

UNSAFE = "\u202e\u2028\u2066\x1b\x85\n"


def test_printable_escapes_control_and_bidi_characters():
    assert printable("a\u202eb") == "a\\u202eb"
    assert printable("plain id-1") == "plain id-1"
    assert printable("d\u00e9j\u00e0 \u80ba") == "d\u00e9j\u00e0 \u80ba"  # letters stay
    assert not any(c in printable("x" + UNSAFE + "\ud800") for c in UNSAFE + "\ud800")


def test_a_rejection_escapes_its_id_field_and_source():
    rejection = Rejection(3, "duplicate", study_id="x\u202ey", field="f\u2028")
    text = rejection.describe("in\u2066coming/f.jsonl")
    assert "x\\u202ey" in text and "f\\u2028" in text and "in\\u2066coming" in text
    assert not any(c in text for c in UNSAFE)


def test_validate_escapes_the_file_name(tmp_path, capsys):
    name = "rep\u202eorts.jsonl"
    path = tmp_path / name
    path.write_bytes(lines(good(1), {"study_id": "s2"}))
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "rep\\u202eorts.jsonl" in out and "\u202e" not in out
    assert main(["validate", str(tmp_path / "gone\u2028.json")]) == 2
    err = capsys.readouterr().err
    assert "gone\\u2028.json" in err and "\u2028" not in err


def test_error_and_console_lines_escape_but_keep_their_lines(capsys):
    assert error("run", "bad id a\u202eb", "f\u2028.json") == 2
    err = capsys.readouterr().err
    assert "a\\u202eb" in err and "f\\u2028.json" in err and err.count("\n") == 1
    stream = io.StringIO()
    Console(stream).line("table\n  row\tcell \u202eid\x1b[2J")
    assert stream.getvalue() == "table\n  row\tcell \\u202eid\\u001b[2J\n"


def test_unreadable_file_messages_escape_the_source():
    err = UnreadableFile("incoming/x\u202e.json", "empty file")
    assert "\u202e" not in str(err) and err.source == "incoming/x\u202e.json"


# --------------------------------------------------------------------------------------------
# JSON Lines text written with ensure_ascii=False (U+2028 in a value)
# --------------------------------------------------------------------------------------------


def test_jsonl_text_splits_on_newlines_only(tmp_path):
    rows = [
        {"position": 1, "reason": "r", "study_id": "a\u2028b", "source": "k\u2029\x85\x1c.json"},
        {"position": 2, "reason": "r", "study_id": None, "field": "findings"},
    ]
    path = tmp_path / "rejected.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows) + "\n")
    assert len(path.read_text().splitlines()) > 2  # what broke `radimpress run`
    assert [json.loads(line) for line in jsonl_lines(path)] == rows
    assert list(iter_jsonl_rows(path)) == rows


def test_run_prints_a_rejection_whose_row_holds_a_line_separator(tmp_path):
    """`radimpress run` listed rejected.jsonl with str.splitlines: a U+2028 in a row crashed it."""
    path = tmp_path / "rejected.jsonl"
    row = {"position": 4, "reason": "is required", "study_id": "a\u2028b", "field": "findings"}
    path.write_text(json.dumps({**row, "source": "in\u2028coming/f.jsonl"}, ensure_ascii=False))
    stream = io.StringIO()
    run_command._print_rejections(Console(stream), path)
    printed = stream.getvalue()
    assert "record 4 (study_id=a\\u2028b)" in printed and "\u2028" not in printed


# --------------------------------------------------------------------------------------------
# Issue 19 item 8: a long array element is skipped unread, with its position
# --------------------------------------------------------------------------------------------


def array(*elements: str) -> bytes:
    return ("[" + ", ".join(elements) + "]").encode()


LONG_ELEMENTS = {
    "object": '{"study_id": "h", "findings": "' + "x" * 5000 + '"}',
    "escapes": '{"study_id": "h", "findings": "' + '\\"]}[{,\\\\' * 700 + '"}',
    "nested": '{"study_id": "h", "findings": [' + ", ".join(['{"a": "]"}'] * 600) + "]}",
    "string": '"' + "y" * 5000 + '"',
    "number": "1" * 5000,
    "deep": "[" * 3000 + "]" * 3000,
}


@pytest.mark.parametrize("kind", sorted(LONG_ELEMENTS))
def test_an_array_element_over_the_cap_is_its_own_rejection(kind, monkeypatch):
    monkeypatch.setattr(json_records, "MAX_RECORD_CHARS", 1000)
    monkeypatch.setattr(json_records, "CHUNK_CHARS", 256)
    data = array(json.dumps(good(1)), LONG_ELEMENTS[kind], json.dumps(good(2)))
    outcomes = read(data)
    assert [type(o).__name__ for o in outcomes] == ["Report", "Rejection", "Report"]
    assert outcomes[1].position == 2 and "longer than 1,000 characters" in outcomes[1].reason
    assert [o.study_id for o in outcomes if isinstance(o, Report)] == ["s1", "s2"]


def test_an_element_under_the_cap_is_read_across_chunks(monkeypatch):
    monkeypatch.setattr(json_records, "MAX_RECORD_CHARS", 1000)
    monkeypatch.setattr(json_records, "CHUNK_CHARS", 64)
    record = {**good(1), "findings": "z" * 900}
    (report,) = read(array(json.dumps(record)))
    assert isinstance(report, Report) and report.findings == "z" * 900


def test_a_short_invalid_element_still_makes_the_file_unreadable(monkeypatch):
    monkeypatch.setattr(json_records, "MAX_RECORD_CHARS", 1000)
    monkeypatch.setattr(json_records, "CHUNK_CHARS", 256)
    data = array(json.dumps(good(1)), '{"study_id": "h" oops}', *[json.dumps(good(2))] * 50)
    with pytest.raises(UnreadableFile, match="not valid JSON"):
        read(data)


def test_a_long_element_that_never_closes_is_an_unclosed_array(monkeypatch):
    monkeypatch.setattr(json_records, "MAX_RECORD_CHARS", 1000)
    monkeypatch.setattr(json_records, "CHUNK_CHARS", 256)
    with pytest.raises(UnreadableFile, match="not closed"):
        read(b'[{"study_id": "h", "findings": "' + b"x" * 5000)


def test_a_long_element_costs_a_chunk_of_memory_not_its_size():
    """A 40 MB element: json held it (and a copy) whole; now a scan skips it unread, holding at
    most the cap and a chunk (and a copy while the buffer grows) of it."""
    size = 40 * 1024 * 1024
    element = '{"study_id": "h", "findings": "' + "x" * size + '"}'
    data = array(json.dumps(good(1)), element, json.dumps(good(2)))
    del element
    tracemalloc.start()
    try:
        outcomes = read(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [type(o).__name__ for o in outcomes] == ["Report", "Rejection", "Report"]
    assert outcomes[1].position == 2
    assert peak < 4 * json_records.MAX_RECORD_CHARS, (
        f"peak {peak / 2**20:.1f} MiB for a {size / 2**20:.0f} MiB element"
    )


def test_ingest_messages_escape_the_key(aws):
    key = "incoming/infer/demo/rep\u202eorts.jsonl"
    aws.put(key, lines({"study_id": "a"}))
    with pytest.raises(InputFileError, match="no valid record") as caught:
        ingest(aws.s3, BUCKET, key, "run-3", load_spec())
    assert "rep\\u202eorts.jsonl" in str(caught.value) and "\u202e" not in str(caught.value)
    aws.put(key, b"[]")
    with pytest.raises(InputFileError, match="no records") as caught:
        ingest(aws.s3, BUCKET, key, "run-4", load_spec())
    assert "\u202e" not in str(caught.value)


def test_an_unroutable_key_is_named_with_its_controls_escaped():
    from radimpress.errors import InputFileError
    from radimpress.layout import parse_incoming_key

    with pytest.raises(InputFileError) as refused:
        parse_incoming_key("incoming/elsewhere/\u202eevil\u2028.jsonl")
    message = str(refused.value)
    assert "\\u202e" in message and "\\u2028" in message
    assert "\u202e" not in message and "\u2028" not in message
