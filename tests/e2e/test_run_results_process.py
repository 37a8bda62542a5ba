"""End to end: a local run's own results built beside its pipeline (local_results).

The rows of each model go over as soon as its Score wrote them, while the execution still runs,
and in a process of their own for large findings files; the run folder must be the one the
rows handled in this process give, and a run whose execution fails must leave no results.
"""

from __future__ import annotations

import io
import json
import multiprocessing

import pytest

from radimpress_training.models import DEFAULT_MODEL
from radimpress_workstation import runtime
from radimpress_workstation.console import Console
from radimpress_workstation.local_results import STAGING
from radimpress_workstation.runtime import LocalRun, RunFailed
from radimpress_workstation.synthetic import write_demo_files


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_demo_files(tmp_path_factory.mktemp("data"), train=120, infer=40, seed=5)


def _run(data, out, results_process: bool) -> runtime.RunResult:
    run = LocalRun(data.train, data.infer, [DEFAULT_MODEL], out, Console(io.StringIO()),
                   dataset="synthetic", run_id="local-same", results_process=results_process)  # fmt: skip
    return run.run()


def test_rows_go_over_while_the_execution_runs_and_give_the_same_folder(
    data, tmp_path, monkeypatch
) -> None:
    handed_during_execution: list[bool] = []
    hand_over_rest = LocalRun._hand_over_rest

    def after_execution(self, stack, phase, results, labels, skip, last):
        # The follower handed every model's scores over and started the reading already.
        handed_during_execution.append(results.reading and len(results.added) == 2)
        return hand_over_rest(self, stack, phase, results, labels, skip, last)

    monkeypatch.setattr(LocalRun, "_hand_over_rest", after_execution)
    apart = _run(data, tmp_path / "apart", results_process=True)
    here = _run(data, tmp_path / "here", results_process=False)
    assert handed_during_execution == [True, True]
    assert not multiprocessing.active_children()
    summary = {
        name: json.loads((r.out_dir / "summary.json").read_text(encoding="utf-8"))
        for name, r in (("apart", apart), ("here", here))
    }
    for key in ("models_scored", "paired_comparisons", "rejected", "train_overlap"):
        assert summary["apart"][key] == summary["here"][key], key
    assert summary["apart"]["models_scored"]  # something was scored
    assert (apart.out_dir / "impressions.jsonl").read_bytes() == (
        here.out_dir / "impressions.jsonl"
    ).read_bytes()
    for result in (apart, here):
        assert sorted(p.name for p in (result.out_dir / "results").iterdir()) == sorted(
            p.name for p in (here.out_dir / "results").iterdir()
        )
        assert result.files["report"].is_file()
        assert not (result.out_dir / STAGING).exists()


def test_a_run_whose_publish_fails_leaves_no_results_and_no_process(
    data, tmp_path, monkeypatch
) -> None:
    from radimpress.handlers import publish

    real = publish.publish

    def failing(s3, sns, topic_arn, state, **kwargs):  # the inference execution's only
        if state.ingest.route == "infer":
            raise RuntimeError("publish broke")
        return real(s3, sns, topic_arn, state, **kwargs)

    monkeypatch.setattr(publish, "publish", failing)
    with pytest.raises(RunFailed) as failed:
        _run(data, tmp_path, results_process=True)
    assert failed.value.phase == "infer" and failed.value.state == "Publish"
    folder = tmp_path / "local-same"
    assert not multiprocessing.active_children()
    assert not (folder / "results").exists() and not (folder / STAGING).exists()
    assert not (folder / "scores.jsonl").exists() and not list(folder.glob(".*.partial"))
