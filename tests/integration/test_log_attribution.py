"""Local logs name the function and the run of the invocation that wrote each line, under
concurrent Map iterations (issue 19, item 9).

powertools keeps the keys of ``inject_lambda_context`` and ``append_keys`` on one formatter per
service, shared by every ``Logger``: in the cloud each invocation has its own process, in-process
concurrent invocations overwrote each other's keys. A Map of runs, each a Parallel of two
functions, logs lines that say who wrote them; every line's keys must agree.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from radimpress_workstation.embedded import executions, lambda_seam
from radimpress_workstation.embedded.moto_config import MOTO_CONFIG

pytestmark = pytest.mark.usefixtures("socket_disabled")

CODE = Path(__file__).resolve().parents[1] / "fixtures" / "toy_stack" / "src"
RUNS = 16


def definition(arn_a: str, arn_b: str) -> str:
    def task(arn: str) -> dict:
        return {
            "StartAt": "Log",
            "States": {
                "Log": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": arn, "Payload": {"run_id.$": "$.run_id"}},
                    "ResultSelector": {"run_id.$": "$.Payload.run_id"},
                    "End": True,
                }
            },
        }

    return json.dumps(
        {
            "StartAt": "Runs",
            "States": {
                "Runs": {
                    "Type": "Map",
                    "ItemsPath": "$.runs",
                    "MaxConcurrency": 8,
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "INLINE"},
                        "StartAt": "Both",
                        "States": {
                            "Both": {
                                "Type": "Parallel",
                                "Branches": [task(arn_a), task(arn_b)],
                                "End": True,
                            }
                        },
                    },
                    "End": True,
                }
            },
        }
    )


class Lines(logging.Handler):
    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__()
        self.powertools, self.lines = formatter, []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.powertools.format(record)))


def test_every_line_names_its_own_function_and_run_under_concurrent_map_iterations():
    sys.path.insert(0, str(CODE))
    try:
        from toy_handlers import lifecycle
    finally:
        sys.path.remove(str(CODE))
    with mock_aws(config=MOTO_CONFIG):
        lambda_seam.install(base_environment={"AWS_REGION": "us-east-1"}, retry_scale=0.0)
        logger = logging.getLogger("toy-lifecycle")
        lines = Lines(lifecycle.logger.registered_formatter)
        logger.addHandler(lines)
        try:
            iam = boto3.client("iam")
            role = iam.create_role(RoleName="toy", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
            lam = boto3.client("lambda", region_name="us-east-1")
            arns = []
            for name in ("toy-a", "toy-b"):
                arns.append(
                    lam.create_function(
                        FunctionName=name,
                        Runtime="python3.11",
                        Role=role,
                        Handler="toy_handlers.lifecycle.logged",
                        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
                        Timeout=30,
                        Environment={"Variables": {"TOY_ROLE": "logged"}},  # one environment
                    )["FunctionArn"]
                )
                lambda_seam.register_code(name, CODE)
            sfn = boto3.client("stepfunctions", region_name="us-east-1")
            machine = sfn.create_state_machine(
                name="logs", definition=definition(*arns), roleArn=role
            )["stateMachineArn"]
            runs = [{"run_id": f"run-{i:02d}"} for i in range(RUNS)]
            arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"runs": runs}))[
                "executionArn"
            ]
            result = executions.wait(sfn, arn, timeout=120)
        finally:
            logger.removeHandler(lines)
            lambda_seam.uninstall()
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    written = [line for line in lines.lines if line["message"] == "line"]
    assert len(written) == RUNS * 2 * 5
    wrong = [
        (line["said_function"], line["function_name"], line["said_run"], line.get("run_id"))
        for line in written
        if line["function_name"] != line["said_function"] or line.get("run_id") != line["said_run"]
    ]
    assert wrong == [], f"{len(wrong)} of {len(written)} lines name another invocation: {wrong[:5]}"
