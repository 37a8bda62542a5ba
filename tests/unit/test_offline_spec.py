"""A spec resolved from the offline fixture never reaches a real training job (first contact).

The shipped flan-t5-xl spec's training half comes from a sibling model's metadata (xxl-fp16 1.1.2,
base 2.2.3 instance types): only the embedded stack, whose container double plays exactly that
fixture, may train with it. On AWS, StartTraining refuses it and `make deploy` resolves it live
first or refuses without credentials.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from radimpress import clients
from radimpress.errors import SpecError
from radimpress.handlers import start_training
from radimpress.spec import load_spec
from radimpress_training.jumpstart_resolver import ensure_live_spec

SHIPPED = (
    Path(__file__).resolve().parents[2] / "functions/radimpress/specs/jumpstart-flan-t5-xl.json"
)


def test_the_shipped_spec_says_it_was_resolved_offline():
    raw = json.loads(SHIPPED.read_text())
    assert raw["resolved_offline"] is True
    assert "OFFLINE" in raw["source"]
    assert load_spec("jumpstart-flan-t5-xl").resolved_offline


def test_start_training_on_aws_refuses_an_offline_spec(aws, context, monkeypatch):
    monkeypatch.delenv("RADIMPRESS_OFFLINE_SPEC_ALLOWED")
    event = {"bucket": "b", "run_id": "run-o", "dataset": "demo", "records": 3}
    with pytest.raises(SpecError, match=r"offline .*make resolve-jumpstart REGION=us-east-1"):
        start_training.handler(event, context)
    # Nothing was started.
    assert clients.sagemaker().list_training_jobs()["TrainingJobSummaries"] == []


def _spec(tmp_path: Path, offline: bool) -> Path:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"model_id": "m", "resolved_offline": offline}))
    return path


def test_deploy_passes_a_live_spec_without_resolving(tmp_path):
    calls: list[str] = []
    assert (
        ensure_live_spec(_spec(tmp_path, False), "us-east-1", lambda: calls.append("x") or 0) == 0
    )
    assert calls == []


def test_deploy_without_credentials_refuses_an_offline_spec(tmp_path, monkeypatch, capsys):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    calls: list[str] = []
    code = ensure_live_spec(_spec(tmp_path, True), "eu-west-1", lambda: calls.append("x") or 0)
    assert code == 2 and calls == []
    assert "make resolve-jumpstart REGION=eu-west-1" in capsys.readouterr().err


def test_deploy_with_credentials_resolves_an_offline_spec_first(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    calls: list[str] = []
    assert ensure_live_spec(_spec(tmp_path, True), "us-east-1", lambda: calls.append("x") or 0) == 0
    assert calls == ["x"]
