"""The Lambda seam on its own: moto's Lambda API in front, the real handler in-process behind."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend

from radimpress_workstation.embedded import lambda_seam
from radimpress_workstation.embedded.moto_config import MOTO_CONFIG

pytestmark = pytest.mark.usefixtures("socket_disabled")

CODE = Path(__file__).resolve().parents[1] / "fixtures" / "toy_stack" / "src"


@pytest.fixture
def lam():
    """moto with the seam installed and a helper that creates a function of the toy code."""
    with mock_aws(config=MOTO_CONFIG):
        lambda_seam.install(base_environment={"AWS_REGION": "us-east-1"})
        try:
            iam = boto3.client("iam")
            role = iam.create_role(RoleName="toy", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
            client = boto3.client("lambda", region_name="us-east-1")

            def create(name: str, handler: str, env: dict[str, str] | None = None) -> str:
                client.create_function(
                    FunctionName=name,
                    Runtime="python3.11",
                    Role=role,
                    Handler=handler,
                    Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
                    Timeout=30,
                    MemorySize=256,
                    Environment={"Variables": env or {}},
                )
                lambda_seam.register_code(name, CODE)
                return name

            yield client, create
        finally:
            lambda_seam.uninstall()


def invoke(client, name: str, payload: dict) -> tuple[dict, str | None]:
    response = client.invoke(FunctionName=name, Payload=json.dumps(payload).encode())
    return json.loads(response["Payload"].read()), response.get("FunctionError")


def test_handler_runs_in_process_with_its_environment_and_context(lam):
    client, create = lam
    create("probe", "toy_handlers.app.env_probe", {"TOY_ROLE": "probe"})
    body, error = invoke(client, "probe", {"pause": 0})
    assert error is None
    assert body == {"first": "probe", "second": "probe", "name": "probe"}


def test_exception_comes_back_as_lambda_error_with_type_and_header(lam):
    client, create = lam
    create("boom", "toy_handlers.app.boom")
    body, error = invoke(client, "boom", {})
    assert error == "Unhandled"
    assert body["errorType"] == "ToyValidationError"
    assert body["errorMessage"] == "record 3: field findings is empty"
    # The trace points at the handler, not at the seam.
    assert body["stackTrace"] and all("lambda_seam" not in line for line in body["stackTrace"])


@pytest.mark.parametrize(
    ("handler", "error_type"),
    [
        ("toy_handlers.missing_module.handler", "Runtime.ImportModuleError"),
        ("toy_handlers.app.no_such_function", "Runtime.HandlerNotFound"),
        ("toy_handlers.app.unserializable", "Runtime.MarshalError"),
        ("nodots", "Runtime.MalformedHandlerName"),
        ("toy_handlers.app.oversized", "States.DataLimitExceeded"),
    ],
)
def test_runtime_errors_use_lambda_error_types(lam, handler, error_type):
    client, create = lam
    create("broken", handler)
    body, error = invoke(client, "broken", {})
    assert error == "Unhandled"
    assert body["errorType"] == error_type


def test_concurrent_functions_with_different_environments_do_not_race(lam):
    client, create = lam
    create("alpha", "toy_handlers.app.env_probe", {"TOY_ROLE": "alpha"})
    create("beta", "toy_handlers.app.env_probe", {"TOY_ROLE": "beta"})
    results: list[tuple[str, dict]] = []
    lock = threading.Lock()

    def call(name: str) -> None:
        body, _ = invoke(client, name, {"pause": 0.02})
        with lock:
            results.append((name, body))

    threads = [threading.Thread(target=call, args=(n,)) for n in ["alpha", "beta"] * 6]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 12
    for name, body in results:
        assert body["first"] == body["second"] == name


def test_uninstall_restores_moto_and_the_process_environment(lam):
    client, create = lam
    before = os.environ.get("TOY_ROLE")
    create("probe", "toy_handlers.app.env_probe", {"TOY_ROLE": "set-by-seam"})
    invoke(client, "probe", {"pause": 0})
    assert os.environ.get("TOY_ROLE") == "set-by-seam"  # applied once, kept while installed
    lambda_seam.install()  # nested: the inner uninstall must not restore yet
    lambda_seam.uninstall()
    assert LambdaSimpleBackend.invoke is lambda_seam._invoke
    lambda_seam.uninstall()
    assert os.environ.get("TOY_ROLE") == before
    assert LambdaSimpleBackend.invoke is not lambda_seam._invoke
    lambda_seam.install()  # the fixture's own uninstall stays balanced


@pytest.mark.parametrize("version", [(5, 2, 2), (6, 0, 0), (4, 2, 14)])
def test_refuses_untested_moto_versions(monkeypatch, version):
    monkeypatch.setattr(lambda_seam, "_moto_version", lambda: version)
    with pytest.raises(lambda_seam.SeamError, match=r">=5\.2\.3,<6"):
        lambda_seam.install()
    assert not lambda_seam.installed()


def test_installed_moto_is_in_the_tested_range():
    lambda_seam.check_moto_version()


def test_what_an_invocation_freed_is_given_back_when_it_ends(lam, monkeypatch):
    """As Lambda's sandbox would: the embedded stack's process must not keep every step's
    memory (radimpress_workstation.heap; issue 19 item 8)."""
    from radimpress_workstation import heap

    client, create = lam
    create("probe", "toy_handlers.app.env_probe")
    create("boom", "toy_handlers.app.boom")
    calls: list[str] = []
    monkeypatch.setattr(heap, "release_free_memory", lambda: calls.append("released"))
    invoke(client, "probe", {"pause": 0})
    invoke(client, "boom", {})
    assert calls == ["released", "released"]
