"""`radimpress queries` on a folder without results names the layout and exits 2."""

from __future__ import annotations

from pathlib import Path

from radimpress_workstation.cli import main


def test_folder_without_results_names_the_layout(tmp_path: Path, capsys) -> None:
    run_folder = tmp_path / "local-20260101-000000-abcdef"
    run_folder.mkdir()
    (run_folder / "lambda.log").write_text("")
    assert main(["queries", str(run_folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("radimpress queries: error: no results here: expected scores/run_date=")
    assert "runs/run_date=YYYY-MM-DD/<run-id>.parquet" in err
    assert err.rstrip().endswith(str(run_folder))


def test_a_run_folder_reads_its_results_and_bad_parquet_exits_2(tmp_path: Path, capsys) -> None:
    run_folder = tmp_path / "run"
    for table in ("scores", "runs"):
        part = run_folder / "results" / table / "run_date=2026-01-01"
        part.mkdir(parents=True)
        (part / "run.parquet").write_bytes(b"")  # not Parquet
    assert main(["queries", str(run_folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("radimpress queries: error: unreadable results: ")
    assert err.rstrip().endswith(str(run_folder / "results"))


def test_each_folder_is_checked_and_named(tmp_path: Path, capsys) -> None:
    assert main(["queries", str(tmp_path), str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.startswith("radimpress queries: error: no results here")
