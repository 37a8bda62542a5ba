"""mypy gives the same verdict whichever extras are installed (issue 18 item 9).

``make lint`` right after ``make demo`` (no ``ml`` extra) failed: a ``type: ignore`` needed only
where transformers is installed was "unused" without it. Here mypy runs with the project's own
settings but with the ``ml`` extra's packages hidden (not followed: Any, as when they are absent),
so a venv with the extra (this one, in ``make test``) also checks the verdict of one without it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Import names of the ml extra's distributions where they differ from the distribution's name.
IMPORT_NAMES: dict[str, str] = {}


def _ml_modules(pyproject: dict) -> list[str]:
    names = []
    for requirement in pyproject["project"]["optional-dependencies"]["ml"]:
        dist = re.match(r"[A-Za-z0-9_.-]+", requirement)
        assert dist is not None, requirement
        name = IMPORT_NAMES.get(dist[0], dist[0].replace("-", "_"))
        names += [name, f"{name}.*"]
    return names


def _config_without_ml(path: Path) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    mypy = pyproject["tool"]["mypy"]
    lines = ["[mypy]"]
    for key, value in mypy.items():
        if key == "overrides":
            continue
        text = ",".join(value) if isinstance(value, list) else str(value)
        lines.append(f"{key} = {text}")
    overrides = [*mypy.get("overrides", []), {"module": _ml_modules(pyproject)}]
    for override in overrides:
        modules = override["module"]
        modules = modules if isinstance(modules, list) else [modules]
        settings = {k: v for k, v in override.items() if k != "module"}
        settings.setdefault("follow_imports", "skip")
        settings.setdefault("follow_imports_for_stubs", True)
        lines.append(f"[mypy-{','.join(modules)}]")
        lines += [f"{k} = {v}" for k, v in settings.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_mypy_passes_without_the_ml_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api = pytest.importorskip("mypy.api")
    config = tmp_path / "mypy.ini"
    _config_without_ml(config)
    monkeypatch.chdir(ROOT)
    cache = ROOT / ".mypy_cache" / "without-ml"  # mypy's own .gitignore covers it
    out, err, status = api.run(["--config-file", str(config), "--cache-dir", str(cache)])
    assert status == 0, out + err
