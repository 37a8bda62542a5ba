"""JSON Lines reading shared by the Lambdas (S3 objects) and the local job backend (files)."""

from __future__ import annotations

import pytest
from handler_support import BUCKET

from radimpress.errors import OutputMismatch
from radimpress.storage import iter_jsonl, json_objects

SECRET = "Mass in the right lung"


def test_blank_lines_are_skipped_and_numbers_are_line_numbers():
    lines = ['{"a": 1}\n', "\n", "   \n", b'{"b": 2}']
    assert list(json_objects(lines, "f", ValueError)) == [(1, {"a": 1}), (4, {"b": 2})]


@pytest.mark.parametrize(
    "bad, problem",
    [
        (f"{SECRET} is not JSON", "not valid JSON"),
        (f'["{SECRET}"]', "not a JSON object"),
        ('{"n": ' + "9" * 5000 + "}", "not valid JSON"),  # past Python's int digit limit
    ],
)
def test_a_bad_line_names_where_and_the_line_but_not_its_text(bad, problem):
    with pytest.raises(KeyError) as raised:
        list(json_objects(['{"a": 1}', bad], "train.jsonl", KeyError))
    assert raised.value.args[0] == f"train.jsonl line 2: {problem}"


def test_s3_objects_fail_as_output_mismatch_naming_the_object(s3):
    s3.put_object(Bucket=BUCKET, Key="o.jsonl", Body=f'{{"a": 1}}\n{SECRET}\n'.encode())
    with pytest.raises(OutputMismatch) as raised:
        list(iter_jsonl(s3, BUCKET, "o.jsonl"))
    assert str(raised.value) == f"s3://{BUCKET}/o.jsonl line 2: not valid JSON"
