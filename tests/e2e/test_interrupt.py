"""An interrupted `radimpress run` leaves no copy of the reports outside its run folder.

Issue 18 item 5: a training job's working directory (the training channel's copy of the
training reports, ``input/data/training/train.jsonl``) stayed in the system temp folder after
Ctrl-C. Here a real ``radimpress run`` (the installed command's entry point, which ends the
process with ``os._exit``) is interrupted with SIGINT, or stopped with SIGTERM, while its
training job holds that copy; ``TMPDIR`` points at a folder of the test's own, which must then
hold no file with report text, and the run folder must not keep the job's copy either.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from terminal_signals import sigint_as_a_terminal_gives_it

from radimpress_workstation.synthetic import generate_reports, write_jsonl

# The installed `radimpress` command: console_main, so the process ends as a user's would.
CLI = [sys.executable, "-c", "from radimpress_workstation.cli import console_main; console_main()"]
CHANNEL_COPY = "input/data/training/*.jsonl"
TRAIN_RECORDS = 6000  # training `select` on these takes seconds: time to interrupt it


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    folder = tmp_path_factory.mktemp("interrupt-data")
    records = generate_reports(TRAIN_RECORDS + 10, seed=11, prefix="INTR")
    train = write_jsonl(folder / "train.jsonl", records[:TRAIN_RECORDS])
    infer = write_jsonl(folder / "infer.jsonl", records[TRAIN_RECORDS:])
    return train, infer, records[0]["findings"]


def _copies(*roots: Path) -> list[Path]:
    return [path for root in roots for path in root.rglob(CHANNEL_COPY)]


def _files_holding(root: Path, text: str) -> list[Path]:
    needle = text.encode()
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.mark.parametrize(
    ("signum", "exit_code"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143)],  # as a shell reports each signal
    ids=["SIGINT", "SIGTERM"],
)
def test_interrupted_training_leaves_no_copy_of_the_reports(
    inputs: tuple[Path, Path, str], tmp_path: Path, signum: signal.Signals, exit_code: int
) -> None:
    train, infer, findings = inputs
    temp, out = tmp_path / "tmp", tmp_path / "out"
    temp.mkdir()
    argv = ["run", "--train", str(train), "--infer", str(infer), "--model", "select",
            "--out", str(out), "--quiet"]  # fmt: skip
    env = {**os.environ, "TMPDIR": str(temp)}
    process = subprocess.Popen(
        [*CLI, *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=sigint_as_a_terminal_gives_it,
    )
    try:
        deadline = time.monotonic() + 120
        while not _copies(temp, out):  # the training job has its channel: it is training now
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the training job never got its channel"
            time.sleep(0.02)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == exit_code, stderr[-2000:]
    assert "interrupted" in stderr
    assert _files_holding(temp, findings) == []
    assert _copies(temp, out) == []
    (folder,) = out.iterdir()
    marker = json.loads((folder / "INCOMPLETE.json").read_text(encoding="utf-8"))
    expected = "interrupted (Ctrl-C)" if signum == signal.SIGINT else "terminated (SIGTERM)"
    assert expected in json.dumps(marker)
