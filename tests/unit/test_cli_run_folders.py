"""One run id, one folder per run, and what an interrupted or failed run leaves.

Socket-free: LocalRun is replaced, no stack is built.
"""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from radimpress_workstation import run_folders, runtime
from radimpress_workstation.cli import main


def test_runs_claimed_in_the_same_second_get_their_own_folders(tmp_path: Path) -> None:
    claimed: list[tuple[str, Path]] = []
    barrier = threading.Barrier(16)

    def claim() -> None:
        barrier.wait()
        claimed.append(run_folders.claim_run_folder(tmp_path, "local"))

    threads = [threading.Thread(target=claim) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({run_id for run_id, _ in claimed}) == 16
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(r for r, _ in claimed)
    for run_id, folder in claimed:
        assert folder == tmp_path / run_id and run_id.startswith("local-")


def test_a_taken_id_is_skipped(tmp_path: Path, monkeypatch) -> None:
    ids = iter(["local-a", "local-a", "local-b"])
    monkeypatch.setattr(run_folders, "new_run_id", lambda prefix="local": next(ids))
    assert run_folders.claim_run_folder(tmp_path)[0] == "local-a"
    assert run_folders.claim_run_folder(tmp_path)[0] == "local-b"


def test_execution_names_start_with_the_run_id() -> None:
    name = run_folders.execution_name("local-20260101-000000-abcdef", "infer", "restate")
    assert name == "local-20260101-000000-abcdef-infer-restate"
    assert len(run_folders.execution_name("x" * 70, "train", "m/odel")) == 80
    assert "/" not in run_folders.execution_name("r", "train", "m/odel")


class _Body(io.BytesIO):
    pass


class _FakeS3:
    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects

    def get_object(self, Bucket: str, Key: str) -> dict:
        if Key not in self.objects:
            raise KeyError(Key)
        return {"Body": _Body(self.objects[Key])}


def test_failure_files_are_copied_out_of_the_bucket(tmp_path: Path) -> None:
    s3 = _FakeS3({"runs/e1/failure.json": b'{"error": "InputFileError"}'})
    copies = run_folders.save_failure_files(s3, "b", "e1", tmp_path)
    assert copies == {"s3://b/runs/e1/failure.json": tmp_path / "failure.json"}
    assert json.loads((tmp_path / "failure.json").read_text()) == {"error": "InputFileError"}
    text = "see s3://b/runs/e1/failure.json"
    assert run_folders.local_paths(text, copies) == f"see {tmp_path / 'failure.json'}"
    upload = "s3://radimpress-local-databucket-1/incoming/train/d/train.jsonl: not JSON"
    inputs = {"train": Path("data/train.jsonl"), "infer": None}
    assert run_folders.local_paths(upload, {}, inputs) == "data/train.jsonl: not JSON"


def _infer_file(tmp_path: Path) -> Path:
    infer = tmp_path / "infer.jsonl"
    infer.write_text(json.dumps({"study_id": "1", "findings": "Clear."}) + "\n")
    return infer


def test_ctrl_c_marks_the_run_folder_incomplete_and_exits_130(tmp_path, monkeypatch, capsys):
    folders: list[Path] = []

    class Interrupted:
        def __init__(self, train, infer, models, out, console, **kw) -> None:
            folders.append(out / kw["run_id"])

        def run(self) -> None:
            (folders[0] / "lambda.log").write_text("")
            raise KeyboardInterrupt

    monkeypatch.setattr(runtime, "LocalRun", Interrupted)
    out = tmp_path / "out"
    assert main(["run", "--infer", str(_infer_file(tmp_path)), "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert [x for x in err.splitlines() if x] == [
        f"radimpress run: interrupted; {folders[0]} is incomplete (INCOMPLETE.json)"
    ]
    marker = json.loads((folders[0] / "INCOMPLETE.json").read_text())
    assert marker["complete"] is False and marker["reason"].startswith("interrupted")


def test_a_failed_run_points_at_its_copies_not_at_the_vanished_bucket(
    tmp_path, monkeypatch, capsys
) -> None:
    class FailedExecution(SimpleNamespace):
        def task_failures(self) -> list:
            return [("Ingest", "InputFileError", self.cause)]

    class Failing:
        def __init__(self, train, infer, models, out, console, **kw) -> None:
            self.folder = out / kw["run_id"]

        def run(self) -> None:
            key = "s3://radimpress-local-databucket-1/runs/r-train-restate/ingest/rejected.jsonl"
            execution = FailedExecution(
                name="r-train-restate",
                status="FAILED",
                failed_state="Ingest",
                error="InputFileError",
                cause=f"no valid record (reasons in {key})",
            )
            failed = runtime.RunFailed("train", execution)
            local = self.folder / "rejected.jsonl"
            local.write_text("{}\n")
            failed.files = {key: local}
            raise failed

    monkeypatch.setattr(runtime, "LocalRun", Failing)
    infer = str(_infer_file(tmp_path))
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps({"study_id": "1", "findings": "Clear.", "impression": "Ok."}))
    out = tmp_path / "out"
    assert main(["run", "--train", str(train), "--infer", infer, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "s3://" not in err
    (folder,) = out.iterdir()
    assert f"reasons in {folder / 'rejected.jsonl'}" in err
    assert json.loads((folder / "INCOMPLETE.json").read_text())["state"] == "Ingest"


def test_a_usage_error_leaves_no_empty_run_folder(tmp_path, monkeypatch, capsys) -> None:
    class BadSpec:
        def __init__(self, *a, **kw) -> None:
            raise ValueError("unknown spec 'nope'")

    monkeypatch.setattr(runtime, "LocalRun", BadSpec)
    out = tmp_path / "out"
    assert main(["run", "--infer", str(_infer_file(tmp_path)), "--out", str(out)]) == 2
    assert capsys.readouterr().err.startswith("radimpress run: error: unknown spec 'nope'")
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("prefix", ["local", "demo"])
def test_run_ids_are_sortable_by_start(prefix: str) -> None:
    run_id = run_folders.new_run_id(prefix)
    assert run_id.startswith(prefix + "-20") and len(run_id.split("-")) == 4


class _NeverRun:
    def __init__(self, *a, **kw) -> None:
        raise AssertionError("the pipeline started on unusable input")


@pytest.mark.parametrize(
    ("option", "content", "message"),
    [
        ("--train", "", "--train: empty file"),
        ("--infer", "", "--infer: empty file"),
        ("--infer", "study_id,findings\n1,Clear.\n", "--infer: not JSON"),
        ("--train", '{"study_id": "1", "findings": "Clear."}\n', "--train: no usable record"),
        ("--infer", '{"study_id": "1"}\n', "--infer: no usable record"),
    ],
)
def test_unusable_input_exits_2_before_anything_runs(
    tmp_path, monkeypatch, capsys, option, content, message
) -> None:
    """Issue 18 item 6: every input is checked up front; exit 2, one error line, no folder."""
    monkeypatch.setattr(runtime, "LocalRun", _NeverRun)
    good_train = tmp_path / "train.jsonl"
    good_train.write_text(json.dumps({"study_id": "1", "findings": "F.", "impression": "I."}))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    files = {"--train": str(good_train), "--infer": str(_infer_file(tmp_path)), option: str(bad)}
    out = tmp_path / "out"
    argv = ["run", "--train", files["--train"], "--infer", files["--infer"], "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"radimpress run: error: {message}")
    assert err.rstrip().endswith(str(bad))
    assert "Traceback" not in err and "Clear" not in err
    assert not out.exists() or list(out.iterdir()) == []
