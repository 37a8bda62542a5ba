"""RADIMPRESS_STRICT_SKIPS=1 (tests/conftest.py, set by .ci/run): skips for what CI has fail.

tests/conftest.py runs in a scratch project of its own (pytester), whose pyproject.toml declares
one distribution that is not installed and whose ../shared/data does not exist.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"

PYPROJECT = """
[project]
name = "scratch"
version = "0"
dependencies = ["radimpress-declared-but-missing>=1"]

[project.optional-dependencies]
extra = ["Another_Declared[x]>=2"]

[tool.pytest.ini_options]
markers = ["shared_data: x", "required_in_ci(what): x"]
"""

TESTS = {
    "test_module_level.py": """
import pytest
pytest.importorskip("radimpress_declared_but_missing")

def test_never_runs():
    pass
""",
    "test_cases.py": """
import pytest

def test_declared_extra_missing():
    pytest.importorskip("another_declared.sub")

def test_undeclared_module_missing():
    pytest.importorskip("radimpress_nobody_declares_this")

def test_uses_shared_data(shared_data):
    pass

@pytest.mark.shared_data
def test_marked_shared_data():
    pytest.skip("../shared/data is not present")

@pytest.mark.required_in_ci("chromium")
@pytest.mark.skipif(True, reason="no chromium")
def test_needs_chromium():
    pass

@pytest.mark.skipif(True, reason="an optional tool")
def test_optional_tool():
    pass

@pytest.mark.shared_data
@pytest.mark.xfail(reason="known")
def test_expected_failure():
    assert False

def test_passes():
    pass
""",
}


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".toml", pyproject=PYPROJECT)
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "conftest.py").write_text(CONFTEST.read_text(encoding="utf-8"))
    for name, source in TESTS.items():
        (pytester.path / "tests" / name).write_text(source)
    return pytester


def outcomes(project: pytest.Pytester, strict: bool, monkeypatch, *args: str) -> tuple[dict, str]:
    monkeypatch.setenv("RADIMPRESS_STRICT_SKIPS", "1" if strict else "0")
    result = project.runpytest_subprocess("-rA", "-p", "no:cacheprovider", *args, "tests")
    return result.parseoutcomes(), result.stdout.str()


def test_without_the_switch_every_skip_stays_a_skip(project, monkeypatch):
    counts, _ = outcomes(project, False, monkeypatch)
    assert counts == {"passed": 1, "skipped": 7, "xfailed": 1}


def test_strict_skips_fail_for_declared_dependencies_shared_data_and_ci_tools(project, monkeypatch):
    counts, out = outcomes(project, True, monkeypatch)
    # Collection of test_module_level.py fails, and with it the whole run.
    assert counts == {"errors": 1} and "Interrupted: 1 error during collection" in out
    counts, out = outcomes(project, True, monkeypatch, "--continue-on-collection-errors")
    # A skip raised in the test is a failure, one raised while setting it up an error.
    assert counts == {"failed": 2, "passed": 1, "skipped": 2, "xfailed": 1, "errors": 3}
    for outcome, test in (
        ("FAILED", "test_declared_extra_missing"),
        ("ERROR", "test_uses_shared_data"),
        ("FAILED", "test_marked_shared_data"),
        ("ERROR", "test_needs_chromium"),
    ):
        assert f"{outcome} tests/test_cases.py::{test} - " in out
    assert "ERROR tests/test_module_level.py" in out
    assert "radimpress-declared-but-missing, a dependency pyproject.toml declares" in out
    assert "another-declared, a dependency pyproject.toml declares" in out
    # What nobody declared, and an optional tool, still skip.
    assert "SKIPPED [1] tests/test_cases.py:8: could not import 'radimpress_nobody" in out
    assert "SKIPPED [1] tests/test_cases.py:22: an optional tool" in out
