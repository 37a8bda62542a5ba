"""The seam enforces each function's Timeout as the Lambda service does (issue 19, item 5).

A handler still running at its Timeout is answered with the service's own error,
``Sandbox.Timedout`` ("RequestId: <id> Error: Task timed out after <t> seconds"), which is what
Step Functions' Retry matches; the handler, which Python cannot stop, is dead to the world from
then on: its later AWS calls are never made. Each invocation is reported with its MemorySize.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from radimpress_workstation.embedded import lambda_seam
from radimpress_workstation.embedded.moto_config import MOTO_CONFIG

pytestmark = pytest.mark.usefixtures("socket_disabled")

CODE = Path(__file__).resolve().parents[1] / "fixtures" / "toy_stack" / "src"
BUCKET = "toy-timeouts"


@pytest.fixture
def lam():
    with mock_aws(config=MOTO_CONFIG):
        lambda_seam.install(base_environment={"AWS_REGION": "us-east-1"})
        try:
            iam = boto3.client("iam")
            role = iam.create_role(RoleName="toy", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
            client = boto3.client("lambda", region_name="us-east-1")
            boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)

            def create(name: str, timeout: int, memory: int = 256) -> str:
                client.create_function(
                    FunctionName=name,
                    Runtime="python3.11",
                    Role=role,
                    Handler="toy_handlers.lifecycle.slow_writer",
                    Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
                    Timeout=timeout,
                    MemorySize=memory,
                )
                lambda_seam.register_code(name, CODE)
                return name

            yield client, create
        finally:
            lambda_seam.uninstall()


def invoke(client, name: str, payload: dict) -> tuple[dict, str | None]:
    response = client.invoke(FunctionName=name, Payload=json.dumps(payload).encode())
    return json.loads(response["Payload"].read()), response.get("FunctionError")


def exists(key: str) -> bool:
    listed = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket=BUCKET)
    return any(o["Key"] == key for o in listed.get("Contents", []))


def test_a_handler_over_its_timeout_gets_sandbox_timedout_and_writes_nothing(lam):
    client, create = lam
    create("slow", timeout=1, memory=384)
    timeouts = lambda_seam.stats().timeouts
    started = time.monotonic()
    body, error = invoke(client, "slow", {"pause": 2.5, "bucket": BUCKET, "key": "late"})
    assert time.monotonic() - started < 2.0  # answered at the Timeout, not when the handler ends
    assert error == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert re.fullmatch(
        r"RequestId: [0-9a-f-]{36} Error: Task timed out after 1\.00 seconds", body["errorMessage"]
    )
    assert lambda_seam.stats().timeouts == timeouts + 1
    time.sleep(2.0)  # the handler wakes up and tries its write
    assert not exists("late")
    report = lambda_seam.reports()[-1]
    assert (report["function"], report["status"]) == ("slow", "timeout")
    assert (report["timeout_s"], report["memory_size_mb"]) == (1.0, 384)


def test_a_handler_within_its_timeout_is_untouched(lam):
    client, create = lam
    create("quick", timeout=3)
    body, error = invoke(client, "quick", {"pause": 0.1, "bucket": BUCKET, "key": "on-time"})
    assert error is None and body == {"wrote": "on-time"}
    assert exists("on-time")
    report = lambda_seam.reports()[-1]
    assert report["status"] == "ok" and report["memory_size_mb"] == 256


def test_the_timeout_follows_the_functions_configuration(lam):
    """Tests shorten a function's Timeout through the Lambda API, as an operator would."""
    client, create = lam
    create("tuned", timeout=30)
    client.update_function_configuration(FunctionName="tuned", Timeout=1)
    body, _ = invoke(client, "tuned", {"pause": 1.6, "bucket": BUCKET, "key": "tuned"})
    assert body["errorType"] == "Sandbox.Timedout"
