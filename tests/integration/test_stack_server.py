"""EmbeddedStack with moto as a threaded HTTP server on 127.0.0.1 (sockets to localhost only)."""

from __future__ import annotations

import os

import boto3
import pytest

from radimpress_workstation.embedded.stack import EmbeddedStack


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_server_mode_runs_the_toy_pipeline_and_serves_other_clients(toy_template):
    before = os.environ.get("AWS_ENDPOINT_URL")
    with EmbeddedStack(toy_template, parameters={"PollSeconds": "1"}, server_port=0) as stack:
        assert stack.endpoint_url and stack.endpoint_url.startswith("http://127.0.0.1:")
        arn = stack.start_execution("incoming/x.json", name="served")
        result = stack.wait(arn, timeout=60)
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        assert result.output["attempts"] == 3
        assert [s["value"] for s in result.output["squares"]] == [1, 4, 9, 16, 25]
        # Any client pointed at the endpoint sees the same stack (as the AWS CLI would).
        outside = boto3.client(
            "s3",
            endpoint_url=stack.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        body = outside.get_object(Bucket=stack.bucket, Key="runs/served/echo.txt")["Body"]
        assert body.read() == b"ok"
        # The echo handler wrote that object through AWS_ENDPOINT_URL (the seam sets it while
        # the stack runs and restores it after).
    assert os.environ.get("AWS_ENDPOINT_URL") == before
