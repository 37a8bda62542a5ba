"""The scoring worker changes where pairs are scored, never what is written: the same rows with it
and without, and a worker that fails, dies or is gone leaves its batch to the command."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from radimpress_workstation import score_worker
from radimpress_workstation.cli import main
from radimpress_workstation.commands import score as score_command
from radimpress_workstation.score_worker import ScoreWorker


@pytest.fixture(autouse=True)
def idle_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(score_worker, "idle_second_cpu", lambda: True)


def _double(pairs: list, factor: int) -> list:
    return [(a * factor, os.getpid()) for a, _ in pairs]


def test_a_batch_is_scored_in_the_worker_and_the_worker_ends_with_the_block() -> None:
    worker = ScoreWorker.start(_double)
    assert worker is not None
    with worker:
        assert worker.submit([(1, None), (2, None)], 3)
        rows = worker.collect()
        assert rows is not None and [r[0] for r in rows] == [3, 6]
        assert rows[0][1] != os.getpid()  # scored in the other process
        assert worker.submit([(5, None)], 2) and worker.collect() == [(10, rows[0][1])]
    with pytest.raises(ChildProcessError):  # reaped: no process left behind
        os.waitpid(worker._pid, os.WNOHANG)


def test_no_worker_without_an_idle_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(score_worker, "idle_second_cpu", lambda: False)
    assert ScoreWorker.start(_double) is None


def _fails(pairs: list) -> list:
    raise ValueError("a bug")


def _dies(pairs: list) -> list:
    os._exit(1)


@pytest.mark.parametrize("score", [_fails, _dies])
def test_a_worker_that_fails_or_dies_answers_none(score) -> None:
    worker = ScoreWorker.start(score)
    assert worker is not None
    with worker:
        assert worker.submit([(1, 2)])
        assert worker.collect() is None
        assert not worker.submit([(1, 2)])  # no further batch for it


def _write(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("clinical", [True, False])
@pytest.mark.parametrize("worker_score", ["real", "fails"])
def test_score_writes_the_same_bytes_with_and_without_a_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, clinical: bool, worker_score: str
) -> None:
    from radimpress_workstation.synthetic import generate_reports

    reports = generate_reports(150, 4)
    rng = random.Random(2)
    texts = [r["impression"] for r in reports] + [r["findings"] for r in reports[:30]]
    preds = [{"study_id": r["study_id"], "generated": rng.choice(texts)} for r in reports]
    argv = ["score", "--references", _write(tmp_path / "r.jsonl", reports)]
    argv += ["--predictions", _write(tmp_path / "p.jsonl", preds)]
    argv += [] if clinical else ["--no-clinical"]

    def run(name: str) -> bytes:
        out = tmp_path / f"{name}.jsonl"
        assert main([*argv, "--output", str(out)]) == 0
        return out.read_bytes()

    alone = run("alone")
    monkeypatch.setattr(score_command, "WORKER_MIN_BYTES", 0)
    monkeypatch.setattr(score_command, "WORKER_MIN_PAIRS", 2)
    started: list[ScoreWorker] = []
    real_start = ScoreWorker.start

    def start(score):
        worker = real_start(score if worker_score == "real" else _fails)
        started.append(worker)
        return worker

    collected: list[bool] = []
    real_collect = ScoreWorker.collect

    def collect(self: ScoreWorker) -> list | None:
        rows = real_collect(self)
        collected.append(rows is not None)
        return rows

    monkeypatch.setattr(ScoreWorker, "start", staticmethod(start))
    monkeypatch.setattr(ScoreWorker, "collect", collect)
    assert run("shared") == alone and started
    assert collected == [worker_score == "real"]  # the worker scored half, or failed to
    capsys.readouterr()
