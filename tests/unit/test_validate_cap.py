"""`radimpress validate` lists the first rejections, not thousands; --json keeps them all
(issue 18 item 9)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from radimpress_workstation.cli import main
from radimpress_workstation.commands.validate import SHOWN_REJECTIONS


def _file(tmp_path: Path, bad: int) -> Path:
    good = [{"study_id": f"ok-{i}", "findings": "Clear lungs.", "impression": "Normal."}
            for i in range(3)]  # fmt: skip
    no_impression = [{"study_id": f"bad-{i}", "findings": "Clear lungs."} for i in range(bad)]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [*good, *no_impression]))
    return path


def test_the_listing_stops_after_the_first_rejections(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = SHOWN_REJECTIONS + 522
    assert main(["validate", "--purpose", "train", str(_file(tmp_path, bad))]) == 1
    out = capsys.readouterr().out
    listed = [line for line in out.splitlines() if line.startswith("    - ")]
    assert len(listed) == SHOWN_REJECTIONS
    assert "(study_id=bad-0)" in listed[0]
    assert f"  rejected:     {bad}" in out
    assert out.rstrip().endswith("... and 522 more; --json lists them all")


def test_json_lists_every_rejection(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = SHOWN_REJECTIONS + 5
    assert main(["validate", "--purpose", "train", "--json", str(_file(tmp_path, bad))]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["rejected"] == bad and len(summary["rejections"]) == bad


def test_a_short_list_has_no_more_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--purpose", "train", str(_file(tmp_path, 2))]) == 1
    out = capsys.readouterr().out
    assert sum(line.startswith("    - ") for line in out.splitlines()) == 2
    assert "more; --json" not in out
