"""`radimpress run` from the command line: two runs started together
write two folders, each with one run id everywhere; `radimpress score` reads a run's
impressions.jsonl for one model; a failed run keeps its failure files in its folder."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from radimpress_workstation.cli import main
from radimpress_workstation.synthetic import write_demo_files

CLI = [sys.executable, "-c", "import sys; from radimpress_workstation.cli import main; "
       "sys.exit(main())"]  # fmt: skip


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("together")
    data = write_demo_files(root / "small", train=40, infer=10, seed=5, with_bad=False)
    out = root / "out"
    argv = ["run", "--train", str(data.train), "--infer", str(data.infer), "--model", "restate",
            "--out", str(out), "--quiet"]  # fmt: skip
    started = [
        subprocess.Popen([*CLI, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    finished = [process.communicate(timeout=600) for process in started]
    for process, (_, stderr) in zip(started, finished, strict=True):
        assert process.returncode == 0, stderr[-2000:]
    return data, out, [stdout for stdout, _ in finished]


def test_two_runs_started_together_write_two_folders(two_runs) -> None:
    _, out, printed = two_runs
    folders = sorted(p for p in out.iterdir() if p.is_dir())
    assert len(folders) == 2
    for folder, stdout in zip(folders, sorted(printed, key=lambda s: s.split()[1]), strict=True):
        run_id = folder.name
        assert stdout.startswith(f"run {run_id} -> {folder}")
        assert stdout.splitlines()[1] == (
            "models: pre-trained (lead) = untrained baseline (the findings' first sentence); "
            "fine-tuned (restate) = trained on --train"
        )
        assert f"Results of {run_id}" in stdout
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["run_id"] == run_id
        assert all(e["name"].startswith(f"{run_id}-") for e in summary["executions"])
        (parquet,) = (folder / "results" / "runs").rglob("*.parquet")
        assert set(pq.read_table(parquet).column("run_id").to_pylist()) == {run_id}
        assert run_id in (next((folder / "results").rglob("report.html"))).read_text()
        assert not (folder / "INCOMPLETE.json").exists()


def test_score_reads_a_runs_impressions_for_one_model(two_runs, tmp_path, capsys) -> None:
    data, out, _ = two_runs
    impressions = next(out.iterdir()) / "impressions.jsonl"
    scores = tmp_path / "restate.jsonl"
    argv = ["score", "--references", str(data.infer), "--predictions", str(impressions)]
    assert main([*argv, "--model", "restate", "--output", str(scores)]) == 0
    rows = [json.loads(x) for x in scores.read_text().splitlines()]
    assert len(rows) == 10 and {r["model"] for r in rows} == {"fine-tuned (restate)"}
    assert main(argv) == 2  # two models and no --model
    assert "pick one with --model NAME" in capsys.readouterr().err


def test_a_failed_run_keeps_its_failure_files(tmp_path, capsys, monkeypatch) -> None:
    data = write_demo_files(tmp_path / "small", train=10, infer=5, seed=9, with_bad=False)
    broken = tmp_path / "broken" / "train.jsonl"
    broken.parent.mkdir()
    broken.write_text("this is not JSON\n")
    out = tmp_path / "out"
    argv = ["run", "--train", str(broken), "--infer", str(data.infer), "--out", str(out)]
    assert main([*argv, "--quiet"]) == 2  # `run` checks its inputs first (issue 18 item 6)
    assert capsys.readouterr().err.startswith("radimpress run: error: --train: not JSON")
    # What the pipeline itself does with such a file (an upload in the cloud): past the check.
    from radimpress_workstation.commands import run as run_command

    monkeypatch.setattr(run_command, "_check_inputs", lambda command, train, infer: (5, 1, {}))
    assert main([*argv, "--quiet"]) == 1
    err = capsys.readouterr().err
    (folder,) = out.iterdir()
    assert (folder / "failure.json").is_file()
    assert json.loads((folder / "INCOMPLETE.json").read_text())["state"] == "Ingest"
    assert "s3://" not in err and f"failure.json: {folder / 'failure.json'}" in err
    assert f"{broken}: not JSON" in err  # the local file, not its upload in the dead bucket
