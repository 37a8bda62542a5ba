"""Two calls side by side (a forked child and this process) give what running them in turn gives:
the same results, the first call's error first, the child's error as raised there, and a child
that dies without answering has its call run here."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from radimpress.records import UnreadableFile
from radimpress_workstation import prediction_files, side_by_side
from radimpress_workstation.side_by_side import run_side_by_side


def test_both_results_come_back_and_the_second_ran_in_a_child() -> None:
    here = os.getpid()
    first, second = run_side_by_side(
        lambda: ("first", os.getpid()), lambda: ("second", os.getpid())
    )
    assert first == ("first", here)
    assert second[0] == "second" and second[1] != here


def test_the_childs_error_is_raised_here_with_its_parts() -> None:
    def unreadable() -> None:
        raise UnreadableFile("preds.jsonl", "empty file")

    with pytest.raises(UnreadableFile) as caught:
        run_side_by_side(lambda: 1, unreadable)
    assert (caught.value.source, caught.value.reason) == ("preds.jsonl", "empty file")


def test_the_first_calls_error_wins_as_it_would_have_come_first() -> None:
    def first() -> None:
        raise UnreadableFile("refs.jsonl", "not JSON")

    def second() -> None:
        raise UnreadableFile("preds.jsonl", "empty file")

    with pytest.raises(UnreadableFile) as caught:
        run_side_by_side(first, second)
    assert caught.value.source == "refs.jsonl"


def test_an_error_that_does_not_pickle_comes_back_by_kind_and_words() -> None:
    class Local(Exception):  # a local class cannot be pickled
        pass

    def second() -> None:
        raise Local("broken")

    with pytest.raises(RuntimeError, match="Local: broken"):
        run_side_by_side(lambda: 1, second)


def test_a_child_that_dies_without_answering_has_its_call_run_here() -> None:
    here = os.getpid()

    def second() -> int:
        if os.getpid() != here:
            os._exit(3)  # the child is killed before answering
        return 42

    assert run_side_by_side(lambda: 1, second) == (1, 42)


def test_no_second_process_on_one_cpu_or_a_busy_machine(monkeypatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert not side_by_side.idle_second_cpu()
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.7, 1.0, 1.0))
    assert not side_by_side.idle_second_cpu()
    monkeypatch.setattr(os, "getloadavg", lambda: (0.2, 1.0, 1.0))
    assert side_by_side.idle_second_cpu()


def _write(path: Path, rows: list) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "not json\n", encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("model", [None, "b", "c"])
def test_a_pair_of_files_reads_alike_side_by_side_and_in_turn(
    tmp_path: Path, monkeypatch, model: str | None
) -> None:
    refs = _write(
        tmp_path / "refs.jsonl",
        [{"study_id": f"S{i}", "findings": "f", "impression": f"text {i}"} for i in range(30)]
        + [{"study_id": "S1", "impression": "duplicate"}],
    )
    preds = _write(
        tmp_path / "preds.jsonl",
        [{"study_id": f"S{i}", "generated": f"g {i}", "model": "a b"} for i in range(30)]
        + [{"study_id": "S2", "generated": "other", "model": "b"}, {"study_id": "S3"}],
    )

    def outcome() -> object:
        try:
            return prediction_files.read_pair(refs, preds, model)
        except UnreadableFile as err:
            return (err.source, err.reason)

    monkeypatch.setattr(prediction_files, "idle_second_cpu", lambda: False)
    in_turn = outcome()
    monkeypatch.setattr(prediction_files, "idle_second_cpu", lambda: True)
    monkeypatch.setattr(prediction_files, "SIDE_BY_SIDE_BYTES", 0)
    forked: list[int] = []
    real = prediction_files.run_side_by_side

    def counted(*calls):
        forked.append(1)
        return real(*calls)

    monkeypatch.setattr(prediction_files, "run_side_by_side", counted)
    assert outcome() == in_turn and forked
