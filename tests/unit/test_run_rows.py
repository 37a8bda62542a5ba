"""run_outputs.RunRows: a local run's score rows streamed to their files, never held.

The tables' numbers it counts on the way must be exactly what ``runtime.summaries`` gives on the
whole list of rows, and the paired comparisons ``publish_rows`` returns (the report's, the only
bootstrap a run makes) what the bootstrap gives on every study's scores held in dicts (``paired``
below: the CLI's own computation until issue 19 item 8 made it compute them once). A run of a
million records once held every row, 3 GB; later each study's scores, 100 MB.
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
from radimpress_workstation.run_outputs import RunRows, ScoreRows, publish_rows
from radimpress_workstation.runtime import summaries


def paired(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reference: each model's ROUGE-L and clinical F1 per study in dicts, bootstrapped."""
    from radimpress.results.publish import model_order
    from radimpress.results.schema import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED
    from radimpress.scoring.bootstrap import paired_comparisons

    models: dict[str, dict[str, dict[str, float]]] = {}
    order: dict[str, tuple[int, str, str]] = {}
    for row in rows:
        label = row["model"]
        scores = models.setdefault(label, {"rougeL": {}, "clinical": {}})
        order.setdefault(label, model_order(row["model_role"], row["model_name"], label))
        if row.get("rougeL") is None:
            continue
        scores["rougeL"][str(row["study_id"])] = row["rougeL"]["fmeasure"]
        if row.get("clinical"):
            scores["clinical"][str(row["study_id"])] = row["clinical"]["f1"]
    ordered = sorted(models.items(), key=lambda item: order[item[0]])
    return paired_comparisons(ordered, resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED)


def published_pairs(run_rows: RunRows, scratch: Path, out: Path) -> list[dict[str, Any]]:
    answer = publish_rows(
        run_rows,
        [],
        scratch=scratch,
        out_dir=out,
        run_id="r",
        dataset="dev1",
        started_at="2026-11-24T08:00:00Z",
        ingest={"source_key": "incoming/infer/dev1/x.jsonl", "records": 60, "rejected": 0},
        executions=["e"],
    )
    assert answer is not None
    return answer["paired_comparisons"]


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


def test_numbers_are_summaries_and_no_study_is_held(tmp_path: Path) -> None:
    rows = _rows()
    with RunRows(tmp_path, tmp_path / "s", "r") as run_rows:
        for row in rows:
            run_rows.add(row)
        held = set(_strings(vars(run_rows)))
        run_rows.finish()
    assert not held & {row["study_id"] for row in rows}  # the files hold them, not memory
    assert summaries_to_dict(run_rows.summaries()) == summaries_to_dict(summaries(rows))


def test_the_published_paired_comparisons_are_the_whole_lists(tmp_path: Path) -> None:
    rows = _rows()
    with RunRows(tmp_path, tmp_path / "s", "r") as run_rows:
        for row in rows:
            run_rows.add(row)
        run_rows.finish()
        pairs = published_pairs(run_rows, tmp_path / "s", tmp_path)
    assert pairs == paired(rows)
    assert pairs  # the two models are compared


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


def test_a_one_model_run_pairs_nothing(tmp_path: Path) -> None:
    rows = [row for row in _rows() if row["model"] == "pre-trained (lead)"]
    with RunRows(tmp_path, tmp_path / "s", "r") as run_rows:
        for row in rows:
            run_rows.add(row)
        run_rows.finish()
        assert published_pairs(run_rows, tmp_path / "s", tmp_path) == [] == paired(rows)
