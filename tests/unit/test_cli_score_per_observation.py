"""`radimpress score` prints and writes per-observation agreement (hand-counted expectations)."""

from __future__ import annotations

import json

import pytest
from per_observation_data import EXPECTED, GENERATED, MATRIX, REFERENCES, STUDIES, UNLABELLED

from radimpress_workstation.cli import main


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture
def files(tmp_path):
    refs = tmp_path / "refs.jsonl"
    _write(
        refs,
        [
            {"study_id": s, "findings": "Heart and lungs.", "impression": t}
            for s, t in REFERENCES.items()
        ],
    )
    paths = {}
    for model, texts in GENERATED.items():
        paths[model] = tmp_path / f"{model}.jsonl"
        _write(paths[model], [{"study_id": s, "generated": t} for s, t in texts.items()])
    return refs, paths


@pytest.mark.parametrize("model", ["select", "lead"])
@pytest.mark.parametrize("bootstrap", ["0", "20"])
def test_score_prints_and_writes_per_observation(tmp_path, files, capsys, model, bootstrap):
    refs, paths = files
    summary = tmp_path / f"{model}.summary.json"
    argv = ["score", "--references", str(refs), "--predictions", str(paths[model])]
    argv += ["--output", str(tmp_path / "rows.jsonl"), "--summary", str(summary)]
    assert main([*argv, "--bootstrap", bootstrap]) == 0
    printed = capsys.readouterr().out
    table = printed.split("Per-observation clinical agreement", 1)[1]
    lines = {line.split("  ")[0].strip(): line.split() for line in table.splitlines() if line}
    for observation, (tp, fp, fn, _tn, p, r, f1) in EXPECTED[model].items():
        cells = lines[observation][-8:]
        want = [tp + fn, tp + fp, tp, fp, fn]
        assert [int(c) for c in cells[:5]] == want, observation
        assert cells[5:] == ["n/a" if v is None else f"{v:.4f}" for v in (p, r, f1)]
    assert lines["Edema"][-3:] == ["n/a", "n/a", "n/a"]
    matrix = MATRIX[model]
    assert lines["normal"][-2:] == [str(matrix["normal", g]) for g in ("normal", "abnormal")]
    assert lines["abnormal"][-2:] == [str(matrix["abnormal", g]) for g in ("normal", "abnormal")]

    written = json.loads(summary.read_text(encoding="utf-8"))["per_observation"]
    assert (written["studies"], written["unlabelled"]) == (STUDIES[model], UNLABELLED[model])
    by_name = {o["observation"]: o for o in written["observations"]}
    for observation, (tp, fp, fn, tn, p, r, f1) in EXPECTED[model].items():
        got = by_name[observation]
        assert (got["true_positive"], got["false_positive"]) == (tp, fp)
        assert (got["false_negative"], got["true_negative"]) == (fn, tn)
        for key, want in (("precision", p), ("recall", r), ("f1", f1)):
            assert got[key] == (None if want is None else pytest.approx(want))
    assert written["normal_abnormal"] == {
        f"reference_{a}_generated_{b}": n for (a, b), n in matrix.items()
    }


def test_no_clinical_prints_no_per_observation_table(tmp_path, files, capsys):
    refs, paths = files
    argv = ["score", "--references", str(refs), "--predictions", str(paths["select"])]
    assert main([*argv, "--output", str(tmp_path / "r.jsonl"), "--no-clinical"]) == 0
    assert "Per-observation" not in capsys.readouterr().out
