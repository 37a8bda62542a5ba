"""run_outputs.RunRows: a local run's score rows streamed to their files, never held.

The tables' numbers it counts on the way and the paired comparisons it reads back must be exactly
what ``runtime.summaries`` / ``run_outputs.paired`` give on the whole list of rows (issue 19 item
8: a run of a million records once held every row, 3 GB; later each study's scores, 100 MB).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from results_data import score_rows

from radimpress import layout
from radimpress.scoring import summaries_to_dict
from radimpress_workstation import run_outputs
from radimpress_workstation.run_outputs import RunRows, ScoreRows, paired
from radimpress_workstation.runtime import summaries


def _rows() -> list[dict[str, Any]]:
    rows = []
    for model, seed, skill in (("fine-tuned (select)", 1, 0.6), ("pre-trained (lead)", 2, 0.2)):
        for row in score_rows("r", "dev1", model, 60, seed, skill=skill, unscored=4):
            role, _, name = model.partition(" (")
            row.update(model_role=role, model_name=name.rstrip(")"))
            rows.append(row)
    return rows


def test_the_numbers_and_files_are_those_of_the_whole_list(tmp_path: Path) -> None:
    rows = _rows()
    scratch = tmp_path / "scratch"
    with RunRows(tmp_path, scratch, "r") as run_rows:
        for row in rows:
            run_rows.add(json.loads(json.dumps(row)))
        run_rows.finish()
    assert summaries_to_dict(run_rows.summaries()) == summaries_to_dict(summaries(rows))
    assert run_rows.paired() == paired(rows)
    assert run_rows.paired()  # the two models are compared
    lines = [json.dumps(row, ensure_ascii=False) + "\n" for row in rows]
    assert (tmp_path / "scores.jsonl").read_text(encoding="utf-8") == "".join(lines)
    impressions = (tmp_path / "impressions.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in impressions] == [
        {k: row[k] for k in ("study_id", "model", "generated")} for row in rows
    ]
    assert list(ScoreRows(tmp_path / "scores.jsonl")) == rows
    # One score file per model label, in the order the labels came, for publish_run.
    keys = layout.RunKeys("r")
    assert run_rows.score_keys == [
        keys.scores(layout.safe_name(label).lower())
        for label in ("fine-tuned (select)", "pre-trained (lead)")
    ]
    select = (scratch / run_rows.score_keys[0]).read_text(encoding="utf-8")
    assert select == "".join(lines[:60])


def test_an_unfinished_run_leaves_neither_file(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), RunRows(tmp_path, tmp_path / "s", "r") as run_rows:
        run_rows.add(_rows()[0])
        raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]


def test_a_row_with_some_metrics_missing_is_refused_as_summarize_does(tmp_path: Path) -> None:
    row = _rows()[10]
    row["rouge2"] = None
    with RunRows(tmp_path, tmp_path / "s", "r") as run_rows, pytest.raises(ValueError) as err:
        run_rows.add(row)
    with pytest.raises(ValueError) as expected:
        summaries([row])
    assert str(err.value) == str(expected.value)


def test_numbers_are_summaries_and_paired_and_no_study_is_held(tmp_path: Path) -> None:
    rows = _rows()
    with RunRows(tmp_path, tmp_path / "s", "r") as run_rows:
        for row in rows:
            run_rows.add(row)
        held = set(_strings(vars(run_rows)))
        run_rows.finish()
    assert not held & {row["study_id"] for row in rows}  # the files hold them, not memory
    groups, pairs = run_rows.numbers()
    assert summaries_to_dict(groups) == summaries_to_dict(summaries(rows))
    assert pairs == paired(rows)
    assert pairs  # read back from scores.jsonl


def _strings(value: Any) -> Iterator[str]:
    """Every string inside nested dicts, lists, tuples and sets (keys included)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple | set):
        for item in value:
            yield from _strings(item)


def test_a_one_model_run_pairs_nothing_and_reads_nothing_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [row for row in _rows() if row["model"] == "pre-trained (lead)"]
    with RunRows(tmp_path, tmp_path / "s", "r") as run_rows:
        for row in rows:
            run_rows.add(row)
        run_rows.finish()

    def no_reading(path: Path) -> None:
        raise AssertionError("a one-model run has nothing to pair: scores.jsonl is not read")

    monkeypatch.setattr(run_outputs, "ScoreRows", no_reading)
    assert run_rows.paired() == [] == paired(rows)
