"""`radimpress --version` names the installed distribution's version (issue 18 item 9)."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from radimpress_workstation.cli import main


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"radimpress {version('radimpress')}"


def test_help_lists_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "--version" in capsys.readouterr().out
