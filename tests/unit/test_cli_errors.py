"""One error form for every command: `radimpress <command>: error: <what>,
<where>` on stderr and exit 2 for unusable input; argparse's usage errors read the same; help
texts show real defaults; Ctrl-C is one line and exit 130."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from radimpress_training.models import DEFAULT_MODEL
from radimpress_workstation import cli
from radimpress_workstation.cli import COMMAND_MODULES, build_parser, main


def _error_line(capsys, command: str) -> str:
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.startswith(f"radimpress {command}: error: ")]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "[Errno" not in err
    return lines[0]


def test_every_command_reports_a_missing_file_the_same_way(tmp_path, capsys) -> None:
    missing = str(tmp_path / "absent.jsonl")
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"study_id": "1", "findings": "f", "impression": "i"}) + "\n")
    out = str(tmp_path / "out")
    cases = {
        "validate": ["validate", missing],
        "score": ["score", "--references", missing, "--predictions", str(good)],
        "label": ["label", "--input", missing, "--output", str(tmp_path / "l.jsonl")],
        "prepare": ["prepare", "openi", "--input", missing, "--out", out],
        "evaluate": ["evaluate", "--train", missing, "--test", str(good), "--output", out],
        "run": ["run", "--infer", missing, "--out", out],
        "queries": ["queries", missing],
        "compare": ["compare", missing, missing],
        "preflight": ["preflight", "--template", missing, "--region", "us-east-1"],
        "serve": ["serve", "--from", missing, "--port", "0"],
    }
    # demo generates its input; smoke uploads generated reports (tests/unit/test_smoke.py);
    # models reads no file (tests/unit/test_models_command.py)
    assert set(cases) | {"demo", "smoke", "models"} == set(COMMAND_MODULES)
    for command, argv in cases.items():
        assert main(argv) == 2, command
        line = _error_line(capsys, command)
        assert re.search(r"(no such file|cannot open|no such folder)", line), line
        assert line.endswith("absent.jsonl"), line
    assert not Path(out).exists()  # nothing written for unusable input


def test_argparse_usage_errors_have_the_same_form(capsys) -> None:
    with pytest.raises(SystemExit) as usage:
        main(["score", "--references", "x"])
    assert usage.value.code == 2
    assert "radimpress score: error: the following arguments are required: --predictions" in (
        capsys.readouterr().err
    )


def _helps(parser: argparse.ArgumentParser) -> dict[str, str]:
    helps = {parser.prog: parser.format_help()}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                helps.update(_helps(sub))
    return helps


def test_help_texts_show_real_defaults() -> None:
    helps = _helps(build_parser())
    assert len(helps) >= len(COMMAND_MODULES) + 2  # prepare has two sources
    for prog, text in helps.items():
        assert "DEFAULT_MODEL" not in text, prog
    for prog in ("radimpress run", "radimpress demo", "radimpress evaluate"):
        assert f"default: {DEFAULT_MODEL}" in " ".join(helps[prog].split()), prog


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch, capsys) -> None:
    def interrupted(args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    parser = build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda *command: parser)
    parser.set_defaults(handler=interrupted)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            action.choices["validate"].set_defaults(handler=interrupted)
    assert main(["validate", "x.jsonl"]) == 130
    captured = capsys.readouterr()
    assert captured.err.strip() == "radimpress validate: interrupted"
    assert "Traceback" not in captured.err


def test_lazy_parser_lists_every_command_with_its_module_help() -> None:
    """The static help table equals what each module registers; a one-command parser imports only
    that module yet prints the same top-level help."""
    full = build_parser()
    registered = {}
    for action in full._actions:
        if isinstance(action, argparse._SubParsersAction):
            registered = {choice.dest: choice.help for choice in action._choices_actions}
    assert registered == cli.COMMAND_HELP
    for name in COMMAND_MODULES:
        assert build_parser(name).format_help() == full.format_help()
    assert cli._command(["score", "--references", "validate"]) == "score"
    assert cli._command(["--help"]) is None and cli._command(["nope"]) is None
