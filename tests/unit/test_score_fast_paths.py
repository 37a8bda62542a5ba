"""The workstation's fast paths give what the checked paths give (issue 13 item 3).

orjson reading (iter_raw_record_batches / iter_raw_records with loads=orjson.loads, a block of
lines at a time), the
column-wise validation of prediction_files and the CLI's column aggregates are shortcuts only:
every value, rejection and aggregate must equal the standard-library path's, hostile input
included (duplicate keys, deep nesting, lone surrogates, huge integers, bad UTF-8).
"""

from __future__ import annotations

import argparse
import io
import json
import random
from pathlib import Path

import orjson
import pytest

from radimpress import json_records, records
from radimpress.scoring import ROUGE_TYPES, summaries_to_dict, summarize, summarize_group
from radimpress.scoring.aggregate import CLINICAL
from radimpress_workstation import prediction_files
from radimpress_workstation.commands import score as score_command


def main(argv: list[str]) -> int:
    """`radimpress score ...` through this command's own parser."""
    parser = argparse.ArgumentParser(prog="radimpress")
    score_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))


GOOD = b'{"study_id": "S1", "findings": "Lungs clear.", "impression": "No acute disease."}'
# Lines the quick path must send down the checked path (or read identically).
HOSTILE = [
    b'{"study_id": "S2", "study_id": "S3", "impression": "x"}',  # duplicate key
    b'{"study_id" : "S2", "study_id": "S3", "impression": "x"}',  # duplicate, space before ':'
    b'{"study_id":"S2","study_id"\t:"S3","impression":"a\\":"}',  # duplicate hidden by \":
    b'{"study_id": "S2", "impression": "\\ud800 lone"}',  # lone surrogate escape
    b'{"study_id": "S2", "impression": "\\udc00\\ud800"}',  # reversed pair
    b'{"study_id": 123456789012345678901234567890, "impression": "big int id"}',
    b'{"study_id": "S2", "subject_id": 99999999999999999999, "impression": "x"}',
    b'{"study_id": "S2", "impression": "x", "n": ' + b"9" * 5000 + b"}",  # > 4,300 digits
    b'{"study_id": "S2", "deep": ' + b"[" * 70 + b"]" * 70 + b', "impression": "x"}',
    b'{"study_id": "S2", "deep": ' + b'{"a":' * 70 + b"1" + b"}" * 70 + b"}",
    b'{"study_id": "S2", "impression": "bad \xff byte"}',
    b'{"study_id": "S2", "impression": "\xed\xa0\x80 utf-8 surrogate"}',
    b'{"study_id": "S2", "impression": NaN}',
    b'{"study_id": "S2", "impression": 1e400}',
    b'{"study_id": "S2", "x": 1.5, "impression": "float elsewhere"}',
    b'{"study_id": "S2", "x": -9.3e18, "impression": "big float"}',
    b'{"study_id": "S2", "nested": {"a": 1, "a": 2}, "impression": "x"}',
    # A nested value replaced by a later repeat of its key: flat once parsed, not as written.
    b'{"study_id": "S2", "d": ' + b"[" * 70 + b"]" * 70 + b', "d": 1, "impression": "x"}',
    b'{"study_id":"S2","d":' + b'{"a":' * 70 + b"1" + b"}" * 70 + b',"d":"y","impression":"x"}',
    b'{"study_id": "S2", "d": {"a": "b"}, "d": "c", "impression": "x"}',
    b'{"study_id": "S2", "impression": "x"} trailing',
    b"[1, 2]",
    b'"just a string"',
    b"{not json",
    b"   ",
    b"",
    b'{"study_id": "S2", "impression": "ok"}\r',
    b'{"study_id": "S\\u0033", "impression": "escaped id"}',
    b'{"study_id": true, "impression": "bool id"}',
    b'{"": 1, "study_id": "S4", "impression": "empty key"}',
]


def _checked(data: bytes) -> list[tuple[int, object]]:
    return [(n, v) for n, v, _ in json_records.iter_raw_records(io.BytesIO(data), "f")]


def _same(a: object, b: object) -> bool:
    """Equal values, and the same kind of rejection for hostile records."""
    if isinstance(a, json_records._Hostile) and isinstance(b, json_records._Hostile):
        return (a.reason, a.field) == (b.reason, b.field)
    return type(a) is type(b) and a == b


def _batched(data: bytes, loads=orjson.loads) -> list[tuple[int, object]]:
    batches = json_records.iter_raw_record_batches(io.BytesIO(data), "f", loads)
    return [record for _, batch in batches for record in batch]


def _alike(fast: list, expected: list) -> bool:
    return len(fast) == len(expected) and all(
        n == m and _same(v, w) for (n, v), (m, w) in zip(fast, expected, strict=True)
    )


@pytest.mark.parametrize("line", HOSTILE)
def test_each_line_reads_as_the_checked_path_reads_it(line: bytes) -> None:
    data = GOOD + b"\n" + line + b"\n" + GOOD.replace(b"S1", b"S9") + b"\n"
    expected = _checked(data)
    fast = [
        (n, v) for n, v, _ in json_records.iter_raw_records(io.BytesIO(data), "f", orjson.loads)
    ]
    assert _alike(fast, expected)
    assert _alike(_batched(data), expected)


@pytest.mark.parametrize("chunk", [1, 7, 64, 300])
def test_blocks_of_any_size_read_as_the_checked_path(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """Block boundaries anywhere (inside a line, a BOM, a multi-byte character, a line too
    long) change nothing: the same records, line numbers, rejections and byte offsets."""
    monkeypatch.setattr(json_records, "MAX_LINE_BYTES", 120)
    long_line = b'{"study_id": "L", "impression": "' + b"x" * 200 + b'"}'
    lines = [GOOD, b"", *HOSTILE[:12], long_line, GOOD.replace(b"S1", b"\xc3\xa9"), b"  "]
    lines += [long_line + b" " * 500, GOOD.replace(b"S1", b"S7")]
    for data in (
        b"\n".join(lines) + b"\n",
        b"\xef\xbb\xbf" + b"\n".join(lines),
        b"\n\n" + b"\r\n".join(lines) + b"\n" + long_line,
    ):
        expected = _checked(data)
        monkeypatch.setattr(json_records, "QUICK_CHUNK_BYTES", chunk)
        assert _alike(_batched(data), expected)
        assert any(isinstance(v, json_records._Hostile) for _, v in expected)
        monkeypatch.undo()
        monkeypatch.setattr(json_records, "MAX_LINE_BYTES", 120)


def test_duplicate_keys_never_pass_the_quick_path() -> None:
    for line in HOSTILE[:3]:
        assert json_records._quick_values([line], line, orjson.loads) is None
        value = _checked(line)[0][1]
        assert isinstance(value, json_records._DuplicateKeys)


def test_a_well_formed_file_takes_the_quick_path_with_its_line_numbers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = b"\n" + GOOD + b"\n\n" + GOOD.replace(b"S1", b"S2") + b"\r\n"
    expected = _checked(data)

    def line_by_line(*args):
        raise AssertionError("a well-formed block went line by line")

    monkeypatch.setattr(json_records, "_parse_line", line_by_line)
    quick = _batched(data)
    assert quick == expected and [n for n, _ in quick] == [2, 4]


def _random_record(rng: random.Random, index: int) -> bytes:
    """A record that is usually fine and sometimes breaks one rule of the contract."""
    record: dict = {"study_id": f"S{index}", "findings": "Heart normal.", "impression": "Clear."}
    fault = rng.randrange(16)
    if fault == 0:
        record["study_id"] = f" S{index} "
    elif fault == 1:
        record["study_id"] = index
    elif fault == 2:
        record["study_id"] = "S1"  # duplicate id
    elif fault == 3:
        record["impression"] = "   "
    elif fault == 4:
        record["impression"] = "x" * (records.MAX_TEXT_CHARS + 1)
    elif fault == 5:
        record["impression"] = 7
    elif fault == 6:
        record["background"] = ["a list"]
    elif fault == 7:
        record["subject_id"] = "  "
    elif fault == 8:
        record["subject_id"] = False
    elif fault == 9:
        record["study_id"] = "S\x01" + str(index)
    elif fault == 10:
        record["generated"] = "the generated text"
    elif fault == 11:
        record["impression"] = "Caf\u00e9 \u00e9panchement."
    elif fault == 12:
        record["study_id"] = "x" * (records.MAX_ID_CHARS + 1)
    elif fault == 13:
        record["background"] = "b" * (records.MAX_TEXT_CHARS + 1)
    line = json.dumps(record).encode()
    if fault == 14:
        line = line.replace(b'"Clear."', b'"\\ud83d lone"')
    if fault == 15:
        line = line[:-1] + b', "study_id": "dup"}'
    return line


def _outcome(result: prediction_files.ImpressionFile) -> tuple:
    return (result.records_read, result.impressions, result.rejections, result.model)


@pytest.mark.parametrize("chunk", [1 << 16, 90])  # 90 bytes: a block of about one line
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("reader", ["references", "predictions"])
def test_files_read_alike_with_and_without_the_fast_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int, reader: str, chunk: int
) -> None:
    rng = random.Random(seed)
    count = rng.choice((1, 5, 40))
    clean = seed % 2 == 0  # every other file is well formed: the quick paths must take it
    lines = [
        json.dumps(
            {"study_id": f"S{i}", "findings": "F.", "impression": f"Impression {i}."}
        ).encode()
        if clean
        else _random_record(rng, i)
        for i in range(count)
    ]
    path = tmp_path / "file.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    read = (
        prediction_files.read_impressions
        if reader == "references"
        else prediction_files.read_predictions
    )
    monkeypatch.setattr(json_records, "QUICK_CHUNK_BYTES", chunk)
    if clean:  # a well-formed file never goes line by line nor record by record
        monkeypatch.setattr(json_records, "_parse_line", None)
        monkeypatch.setattr(prediction_files, "_validate", None)
    fast = _outcome(read(str(path)))
    monkeypatch.undo()
    monkeypatch.setattr(prediction_files, "_quick_all", lambda values, fields, accepted=None: None)
    monkeypatch.setattr(prediction_files, "_quick", lambda value, fields, seen: None)
    monkeypatch.setattr(  # the checked path alone: no orjson at all
        prediction_files,
        "iter_raw_record_batches",
        lambda binary, source, loads=None: json_records.iter_raw_record_batches(binary, source),
    )
    slow = _outcome(read(str(path)))
    assert fast == slow


def test_quick_validation_accepts_only_what_validation_accepts() -> None:
    values = [{"study_id": f"S{i}", "impression": f"text {i}"} for i in range(3)]
    assert prediction_files._quick_all(values, ("impression",)) == (
        ["S0", "S1", "S2"],
        ["text 0", "text 1", "text 2"],
    )
    # An id accepted in an earlier batch sends the batch record by record.
    assert prediction_files._quick_all(values, ("impression",), {"S1": "x"}) is None
    for broken in (
        {"study_id": "S0", "impression": "dup id"},
        {"study_id": "S9", "impression": "\ud800"},
        {"study_id": "S9", "impression": " "},
        {"study_id": "S9", "impression": ""},
        {"study_id": "S9", "impression": "\t\n"},
        {"study_id": "S9 ", "impression": "spaces around the id"},
        {"study_id": "S9", "impression": "x", "background": 3},
        {"study_id": "S9", "impression": "x", "subject_id": True},
    ):
        assert prediction_files._quick_all([*values, broken], ("impression",)) is None
        assert prediction_files._quick(broken, ("impression",), {"S0": 1}) is None


def test_column_aggregates_equal_summarize_on_the_rows(tmp_path: Path) -> None:
    rng = random.Random(3)
    rows = []
    for i in range(101):
        row: dict = {"study_id": f"S{i}", "dataset": "d", "model": "m"}
        for metric in ROUGE_TYPES:
            value = rng.choice((0.0, 1.0, rng.random()))
            row[metric] = {"precision": value, "recall": value, "fmeasure": value}
        row[CLINICAL] = {"precision": 1.0, "recall": 0.5, "f1": rng.random()}
        rows.append(row)
    metrics = (*ROUGE_TYPES, CLINICAL)
    expected = summarize(rows, metrics=metrics, bootstrap=50, seed=4)
    columns = {
        m: [r[m]["fmeasure"] if m != CLINICAL else r[m]["f1"] for r in rows] for m in metrics
    }
    got = summarize_group("d", "m", columns, bootstrap=50, seed=4)
    assert summaries_to_dict([got]) == summaries_to_dict(expected)


def _write(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


REFERENCES = [
    {"study_id": "A", "findings": "f", "impression": "Right upper lobe opacity, possible TB."},
    {"study_id": "B", "findings": "f", "impression": "Normal chest exam."},
    {"study_id": "C", "findings": "f", "impression": "Small left pleural effusion."},
    {"study_id": "D", "findings": "f", "impression": "Normal chest exam."},
]
PREDICTIONS = [
    {"study_id": "A", "generated": "No acute disease."},
    {"study_id": "B", "generated": "No acute cardiopulmonary findings."},
    {"study_id": "C", "generated": "Small left pleural effusion."},
    {"study_id": "D", "generated": "No acute cardiopulmonary findings."},
]


def test_score_writes_clinical_fields_and_summarize_agrees(tmp_path: Path, capsys) -> None:
    refs = _write(tmp_path / "refs.jsonl", REFERENCES)
    preds = _write(tmp_path / "preds.jsonl", PREDICTIONS)
    out, summary = tmp_path / "scores.jsonl", tmp_path / "summary.json"
    argv = ["score", "--references", refs, "--predictions", preds, "--output", str(out)]
    assert main([*argv, "--summary", str(summary), "--bootstrap", "40", "--seed", "1"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["study_id"] for r in rows] == ["A", "B", "C", "D"]
    assert set(rows[0][CLINICAL]) == set(score_command.CLINICAL_FIELDS)
    assert rows[0][CLINICAL]["missed"] and rows[0][CLINICAL]["f1"] < 1.0  # the missed opacity
    assert rows[1][CLINICAL]["f1"] == 1.0  # a paraphrase of a normal impression agrees
    assert rows[1]["rougeL"]["fmeasure"] < 0.5
    printed = capsys.readouterr().out
    assert "Clinical F1" in printed and "Clinical P" in printed and "Clinical R" in printed
    assert "misses a positive finding: 1 of 4" in printed
    report = json.loads(summary.read_text())
    metrics = (*ROUGE_TYPES, CLINICAL)
    assert report["metrics"] == list(metrics)
    assert report["aggregates"] == summaries_to_dict(
        summarize(rows, metrics=metrics, bootstrap=40, seed=1)
    )
    clinical = report["clinical_agreement"]
    assert clinical["reports_missing_a_positive_finding"] == 1
    assert clinical["f1"] == pytest.approx(sum(r[CLINICAL]["f1"] for r in rows) / 4)
    assert len(clinical["precision_ci"]) == 2


def test_no_clinical_scores_rouge_only(tmp_path: Path, capsys) -> None:
    refs = _write(tmp_path / "refs.jsonl", REFERENCES)
    preds = _write(tmp_path / "preds.jsonl", PREDICTIONS)
    out = tmp_path / "scores.jsonl"
    argv = ["score", "--references", refs, "--predictions", preds, "--output", str(out)]
    assert main([*argv, "--no-clinical"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(CLINICAL not in r for r in rows)
    printed = capsys.readouterr().out
    assert "Clinical" not in printed and "ROUGE-Lsum" in printed


def test_non_ascii_ids_and_labels_are_written_as_utf8(tmp_path: Path, capsys) -> None:
    refs = _write(tmp_path / "refs.jsonl", [{"study_id": "É1", "findings": "f", "impression": "x"}])
    preds = _write(tmp_path / "preds.jsonl", [{"study_id": "É1", "generated": "x"}])
    assert main(["score", "--references", refs, "--predictions", preds, "--model", "modèle"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0]["study_id"] == "É1" and rows[0]["model"] == "modèle"


@pytest.mark.parametrize("clinical", [True, False])
def test_rows_equal_whatever_the_block_size_and_gc_comes_back(
    tmp_path: Path, monkeypatch, capsys, clinical: bool
) -> None:
    """Distinct pairs scored once per block of rows: the bytes written do not depend on the block
    size (pairs repeating across blocks are only scored again), and the command leaves the
    cyclic garbage collector as it found it."""
    import gc

    rng = random.Random(5)
    texts = [r["impression"] for r in REFERENCES] + [p["generated"] for p in PREDICTIONS]
    refs = [
        {"study_id": f"S{i}", "findings": "f", "impression": rng.choice(texts)} for i in range(60)
    ]
    preds = [{"study_id": f"S{i}", "generated": rng.choice(texts)} for i in range(60)]
    argv = ["score", "--references", _write(tmp_path / "r.jsonl", refs)]
    argv += ["--predictions", _write(tmp_path / "p.jsonl", preds)]
    argv += [] if clinical else ["--no-clinical"]
    outputs = []
    for size in (200_000, 7, 1):
        monkeypatch.setattr(score_command, "PAIR_MEMO_SIZE", size)
        out = tmp_path / f"out{size}.jsonl"
        assert gc.isenabled()
        assert main([*argv, "--output", str(out)]) == 0
        assert gc.isenabled()
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2] and outputs[0].count(b"\n") == 60
    capsys.readouterr()


def test_json_strings_equal_orjson() -> None:
    rng = random.Random(9)
    alphabet = 'ab Z09_-/"\\\t\n\x7féあ\U0001f600'
    for _ in range(300):
        strings = [
            "".join(rng.choice(alphabet[: rng.randint(3, len(alphabet))]) for _ in range(5))
            for _ in range(rng.randint(1, 4))
        ]
        assert score_command._json_strings(strings) == list(map(orjson.dumps, strings))
    plain = ["S1", "SYN00002", "a/b c"]
    assert score_command._json_strings(plain) == list(map(orjson.dumps, plain))


@pytest.mark.parametrize(
    "models",
    [
        ["m", "m", "m"],
        [" m ", " m ", " m "],
        ["m", "m", None],
        ["m", "n", "m"],
        [" ", " ", " "],
        [1, 1, 1],
        [None, None, None],
    ],
)
def test_one_label_fast_path_equals_model_label(models: list) -> None:
    raw = [
        (i, {"study_id": f"S{i}", "generated": "x", **({} if m is None else {"model": m})})
        for i, m in enumerate(models)
    ]
    raw.append((9, {"study_id": "S9", "generated": "x", "model_name": "z", "model": models[0]}))
    for rows in (raw[:-1], raw):
        quick = prediction_files._one_label(rows)
        slow = list(dict.fromkeys(lbl for _, v in rows if (lbl := prediction_files.model_label(v))))
        assert quick is None or [quick] == slow
    assert (
        prediction_files._one_label([(1, [])]) is None and prediction_files._one_label([]) is None
    )


def test_clinical_rows_equal_agreement_of_each_pair(tmp_path: Path, capsys) -> None:
    """Agreement is computed once per pair of positive-observation sets: each row still equals
    clinical_agreement of its own two texts."""
    from radimpress.clinical.agreement import clinical_agreement
    from radimpress_workstation.synthetic import generate_reports

    reports = generate_reports(120, 3)
    rng = random.Random(8)
    texts = [r["impression"] for r in reports] + [r["findings"] for r in reports[:20]]
    refs = [{**r, "impression": rng.choice(texts)} for r in reports]
    preds = [{"study_id": r["study_id"], "generated": rng.choice(texts)} for r in reports]
    out = tmp_path / "out.jsonl"
    argv = ["score", "--references", _write(tmp_path / "r.jsonl", refs)]
    argv += ["--predictions", _write(tmp_path / "p.jsonl", preds), "--output", str(out)]
    assert main(argv) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == len(refs)
    for row, ref, pred in zip(rows, refs, preds, strict=True):
        expected = clinical_agreement(ref["impression"], pred["generated"]).to_dict()
        assert row[CLINICAL] == {k: expected[k] for k in score_command.CLINICAL_FIELDS}
    capsys.readouterr()


def test_distribution_std_is_the_sum_of_squares_as_first_written() -> None:
    import math

    from radimpress.scoring.aggregate import Distribution

    rng = random.Random(21)
    for size in (2, 3, 10, 1001):
        values = [rng.choice((0.0, 1.0, rng.random(), 1 / 3)) for _ in range(size)]
        ordered = sorted(values)
        mean = math.fsum(ordered) / size
        expected = math.sqrt(math.fsum((v - mean) ** 2 for v in ordered) / (size - 1))
        assert Distribution.of(values).std == expected
