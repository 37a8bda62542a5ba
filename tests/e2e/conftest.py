"""Fixtures shared by the end-to-end tests: one local run that trained, kept for the session
(the model reuse and serving tests read its folder; none of them changes it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from radimpress_workstation.synthetic import DemoFiles, write_demo_files

TRAINED_MODEL = "select"


@dataclass(frozen=True)
class TrainedRun:
    data: DemoFiles
    folder: Path  # out/<run id> of a `radimpress run --train ... --model select`


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> TrainedRun:
    from radimpress_workstation.cli import main

    root = tmp_path_factory.mktemp("trained-run")
    data = write_demo_files(root / "data", train=80, infer=20, seed=23, with_bad=False)
    out = root / "out"
    argv = ["run", "--train", str(data.train), "--infer", str(data.infer),
            "--model", TRAINED_MODEL, "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    return TrainedRun(data, folder)
