"""local_results: a local run's own rows and results, built beside its pipeline.

Whether the rows are handled in a process of their own or in this one, the run folder must
hold exactly what the old way gave (RunRows fed after the execution, then publish_rows), errors
must reach the run where it publishes, and a discarded run must leave nothing: no results, no
partial files, no process.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from results_data import score_rows
from test_transform_workers import _alive

from radimpress.scoring import summaries_to_dict
from radimpress_training.models import helper_process
from radimpress_workstation.local_results import (
    OWN_PROCESS_LINES,
    STAGING,
    LocalResults,
    RowLabels,
    ScoreFollower,
    findings_lines,
    own_process_wanted,
)
from radimpress_workstation.run_outputs import RunRows, add_score_rows, publish_rows

BUCKET = "embedded"
FACTS = {
    "rejected": [],
    "dataset": "dev1",
    "started_at": "2026-12-08T08:00:00Z",
    "ingest": {"source_key": "incoming/infer/dev1/x.jsonl", "records": 40, "rejected": 0},
    "executions": ["e"],
    "lineage": None,
}
ITEMS = [
    {"model_key": "pre-trained", "score_key": "runs/e/scores/pre-trained.jsonl"},
    {"model_key": "fine-tuned", "score_key": "runs/e/scores/fine-tuned.jsonl"},
]


class Stack:
    """What LocalResults uses of the embedded stack: its S3 client and bucket."""

    def __init__(self) -> None:
        self.bucket = BUCKET
        self._s3 = boto3.client("s3", region_name="us-east-1")

    def client(self, name: str) -> Any:
        assert name == "s3"
        return self._s3


def _score_file(label: str, seed: int, skill: float) -> list[dict[str, Any]]:
    """A Score step's rows for one model (model_role/model_name as the step writes them)."""
    rows = []
    role, name = label.split(" ", 1)
    for row in score_rows("pipeline-run", "dev1", label, 40, seed, skill=skill, unscored=3):
        row.update(model=role, model_role=role, model_name=name)
        rows.append(row)
    return rows


@pytest.fixture
def stack():
    with mock_aws():
        made = Stack()
        made.client("s3").create_bucket(Bucket=BUCKET)
        for item, (label, seed, skill) in zip(
            ITEMS, (("pre-trained lead", 2, 0.2), ("fine-tuned select", 1, 0.6)), strict=True
        ):
            body = "".join(json.dumps(r) + "\n" for r in _score_file(label, seed, skill))
            made.client("s3").put_object(Bucket=BUCKET, Key=item["score_key"], Body=body.encode())
        yield made


def _reference(stack: Stack, out: Path) -> tuple[list[Any], dict[str, Any] | None]:
    """The old way: every row through RunRows after the execution, then publish_rows."""
    scratch = out / "scratch"
    scratch.mkdir(parents=True)
    with RunRows(out, scratch, "run-1") as rows:
        for item in ITEMS:
            body = stack.client("s3").get_object(Bucket=BUCKET, Key=item["score_key"])["Body"]
            scored = [json.loads(line) for line in body.iter_lines() if line]
            add_score_rows(rows, scored, item, "select", "run-1", train_overlap="note")
        rows.finish()
        published = publish_rows(rows, scratch=scratch, out_dir=out, run_id="run-1", **FACTS)
        return rows.summaries(), published


def _built(stack: Stack, out: Path, own_process: bool) -> tuple[list[Any], dict[str, Any] | None]:
    scratch = out / "scratch"
    scratch.mkdir(parents=True)
    with LocalResults(out, scratch, "run-1", own_process) as results:
        for item in ITEMS:
            results.add(stack, item, RowLabels("select", train_overlap="note"))
        results.read("dev1")
        return results.publish(FACTS)


def _tables(folder: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq

    return {
        str(path.relative_to(folder)): pq.read_table(path).drop_columns(["published_at"])
        if "published_at" in pq.read_schema(path).names
        else pq.read_table(path)
        for path in sorted((folder / "results").rglob("*.parquet"))
    }


@pytest.mark.parametrize("own_process", [False, True], ids=["this process", "own process"])
def test_the_run_folder_holds_what_the_old_way_wrote(stack, tmp_path, own_process) -> None:
    old_groups, old = _reference(stack, tmp_path / "old")
    groups, published = _built(stack, tmp_path / "new", own_process)
    assert old is not None and published is not None
    assert summaries_to_dict(groups) == summaries_to_dict(old_groups)
    assert published["paired_comparisons"] == old["paired_comparisons"]
    for name in ("impressions.jsonl", "scores.jsonl"):
        assert (tmp_path / "new" / name).read_bytes() == (tmp_path / "old" / name).read_bytes()
    new_tables, old_tables = _tables(tmp_path / "new"), _tables(tmp_path / "old")
    assert new_tables.keys() == old_tables.keys() and len(new_tables) >= 4
    for name, table in new_tables.items():
        assert table.equals(old_tables[name]), name
    report = tmp_path / "new" / published["report_key"]
    assert report.is_file()
    assert not (tmp_path / "new" / STAGING).exists()
    assert not list((tmp_path / "new").glob(".*.partial"))


@pytest.mark.parametrize("own_process", [False, True], ids=["this process", "own process"])
def test_a_bad_row_is_raised_where_the_run_publishes_and_nothing_stays(
    stack, tmp_path, own_process
) -> None:
    bad = _score_file("fine-tuned select", 1, 0.6)
    bad[5]["rouge2"] = None  # scored by three metrics, not by the fourth
    stack.client("s3").put_object(
        Bucket=BUCKET,
        Key=ITEMS[1]["score_key"],
        Body="".join(json.dumps(r) + "\n" for r in bad).encode(),
    )
    with pytest.raises(ValueError, match="some metrics are scored and"):
        _built(stack, tmp_path, own_process)
    assert not (tmp_path / "results").exists() and not (tmp_path / STAGING).exists()
    left = {p.name for p in tmp_path.iterdir()} - {"scratch"}
    assert not left, left


def test_a_discarded_run_stops_its_process_at_once_and_leaves_nothing(stack, tmp_path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    results = LocalResults(tmp_path, scratch, "run-1", own_process=True)
    for item in ITEMS:
        results.add(stack, item, RowLabels("select"))
    results.wait()  # rows written to their partial files
    assert list(tmp_path.glob(".*.partial"))
    results.read("dev1")
    results.wait()  # read: the row files are in place, as when the execution fails after
    assert (tmp_path / "scores.jsonl").exists()
    children = multiprocessing.active_children()
    assert [c.name for c in children] == ["radimpress-results"]
    results.close(discard=True)
    assert not children[0].is_alive()
    assert {p.name for p in tmp_path.iterdir()} == {"scratch"}


def _events(*named: tuple[str, str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"type": kind, "stateExitedEventDetails": {"name": name, "output": json.dumps(output)}}
        for kind, name, output in named
    ]


def test_the_follower_hands_scores_over_in_the_maps_order_whatever_ends_first() -> None:
    seen: list[dict[str, Any]] = []
    handed: list[str] = []
    ended: list[int] = []
    follower = ScoreFollower(seen.append, lambda item: handed.append(item["model_key"]),
                             lambda: ended.append(len(handed)))  # fmt: skip
    resolved = {"models": {"items": [{"model_key": "pre-trained"}, {"model_key": "fine-tuned"}]}}
    events = _events(
        ("TaskStateExited", "ResolveModels", resolved),
        ("TaskStateExited", "Score", {"model_key": "fine-tuned", "score_key": "b"}),
    )
    for event in events:
        follower(event)
    assert handed == [] and ended == []  # the baseline's rows come first: it is still scoring
    last = _events(("TaskStateExited", "Score", {"model_key": "pre-trained", "score_key": "a"}))
    follower(last[0])
    assert handed == ["pre-trained", "fine-tuned"] and ended == [2]
    assert seen == [*events, *last]  # every event still reaches the progress printer


def test_a_model_that_failed_never_completes_the_hand_over() -> None:
    handed: list[str] = []
    ended: list[bool] = []
    follower = ScoreFollower(lambda e: None, lambda i: handed.append(i["model_key"]),
                             lambda: ended.append(True))  # fmt: skip
    resolved = {"models": {"items": [{"model_key": "pre-trained"}, {"model_key": "fine-tuned"}]}}
    for event in _events(
        ("TaskStateExited", "ResolveModels", resolved),
        ("TaskStateExited", "Score", {"model_key": "pre-trained", "score_key": "a"}),
        ("PassStateExited", "ModelFailed", {"model_key": "fine-tuned", "failed": True}),
    ):
        follower(event)
    assert handed == ["pre-trained"] and not ended


_KILLED_PARENT = """
import os, signal, sys
from pathlib import Path
from radimpress_workstation.local_results import LocalResults
if __name__ == "__main__":
    import multiprocessing
    folder = Path(sys.argv[1])
    LocalResults(folder, folder, "run-1", own_process=True)
    print(*[child.pid for child in multiprocessing.active_children()], flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no finally, no atexit: as the OOM killer ends it
"""


def test_the_results_process_ends_when_the_run_is_killed(tmp_path) -> None:
    script = tmp_path / "killed.py"
    script.write_text(_KILLED_PARENT, encoding="utf-8")
    printed = tmp_path / "pids.txt"
    with printed.open("w") as out:  # a file, not a pipe: a process left behind would hold it
        done = subprocess.run([sys.executable, str(script), str(tmp_path)], stdout=out, timeout=60)
    assert done.returncode == -signal.SIGKILL
    (pid,) = [int(p) for p in printed.read_text().split()]
    try:
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(pid)
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("own_process", [False, True], ids=["this process", "own process"])
def test_the_reading_overlaps_the_pipeline_only_in_a_process_of_its_own(
    stack, tmp_path, own_process
) -> None:
    """In the run's own process the rows are read once the execution has ended (publish): read
    while the pipeline's Publish held its columns, a million records' peak would add up."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with LocalResults(tmp_path, scratch, "run-1", own_process) as results:
        for item in ITEMS:
            results.add(stack, item, RowLabels("select"))
        results.read("dev1")
        results.wait()  # the read, in the results process, is done by now
        assert (tmp_path / "scores.jsonl").exists() is own_process
        results.publish(FACTS)
    assert (tmp_path / "scores.jsonl").exists()


@pytest.mark.parametrize(
    ("lines", "cpus", "wanted"),
    [
        (OWN_PROCESS_LINES[0] - 1, 2, False),  # start-up costs more than it saves
        (OWN_PROCESS_LINES[0], 2, True),
        (OWN_PROCESS_LINES[1], 2, True),
        (OWN_PROCESS_LINES[1] + 1, 2, False),  # memory, not time, runs out
        (OWN_PROCESS_LINES[0], 1, False),  # no second CPU to run it on
    ],
)
def test_a_process_of_its_own_only_where_it_pays(tmp_path, monkeypatch, lines, cpus, wanted):
    monkeypatch.setattr(helper_process, "usable_cpus", lambda: cpus)
    findings = tmp_path / "findings.jsonl"
    findings.write_bytes(b"{}\n" * lines)
    assert own_process_wanted(findings_lines(findings)) is wanted
    assert findings_lines(tmp_path / "missing.jsonl") == 0
    assert own_process_wanted(findings_lines(tmp_path / "missing.jsonl")) is False
