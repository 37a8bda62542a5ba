"""EmbeddedStack: resources from the template, EventBridge-derived input, executions on moto."""

from __future__ import annotations

import json
import os
import time

import pytest
from moto.awslambda_simple.models import LambdaSimpleBackend

from radimpress_workstation.embedded import eventbridge, executions, lambda_seam
from radimpress_workstation.embedded.stack import EmbeddedStack, StackError
from radimpress_workstation.embedded.template import load

pytestmark = pytest.mark.usefixtures("socket_disabled")


# -- resources ---------------------------------------------------------------------------------


def test_resources_are_created_from_the_template(toy_stack, toy_template):
    template = load(toy_template)
    declared = {k for k, r in template["Resources"].items() if r["Type"].endswith("::Function")}
    assert set(toy_stack.functions) == declared

    lam = toy_stack.client("lambda")
    names = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    assert names == {info.name for info in toy_stack.functions.values()}

    echo = lam.get_function_configuration(FunctionName=toy_stack.functions["EchoFunction"].name)
    assert echo["Handler"] == "toy_handlers.app.echo"
    assert echo["MemorySize"] == 256  # function value
    assert echo["Timeout"] == 30  # from Globals
    env = echo["Environment"]["Variables"]
    assert env["TOY_ROLE"] == "echo"  # function overrides Globals
    assert env["TOY_GREETING"] == "hello"  # parameter default through Globals
    assert env["TOY_BUCKET"] == toy_stack.bucket  # !Ref to the local bucket
    assert env["TOY_TOPIC"] == toy_stack.physical_id("ToyTopic")
    square = toy_stack.functions["SquareFunction"]
    assert square.environment["TOY_ROLE"] == "square"
    assert square.code_dir == toy_template.parent / "src"

    toy_stack.client("s3").head_bucket(Bucket=toy_stack.bucket)
    assert toy_stack.bucket.startswith("radimpress-local-toybucket-")
    topics = toy_stack.client("sns").list_topics()["Topics"]
    assert [t["TopicArn"] for t in topics] == [toy_stack.physical_id("ToyTopic")]

    table = toy_stack.client("glue").get_table(DatabaseName="toy_db", Name="toy_scores")["Table"]
    location = table["StorageDescriptor"]["Location"]
    assert location == f"s3://{toy_stack.bucket}/results/scores/"

    definition = toy_stack.client("stepfunctions").describe_state_machine(
        stateMachineArn=toy_stack.state_machine_arn
    )["definition"]
    assert "${" not in definition
    assert toy_stack.functions["EchoFunction"].arn in definition
    assert json.loads(definition)["States"]["Summarise"]["Parameters"]["bucket"] == toy_stack.bucket
    assert toy_stack.outputs == {
        "BucketName": toy_stack.bucket,
        "MachineArn": toy_stack.state_machine_arn,
    }


def test_execution_input_is_what_the_eventbridge_rule_produces(toy_stack):
    payload = toy_stack.execution_input("incoming/x/a b.json")
    assert payload == {
        "bucket": toy_stack.bucket,
        "key": "incoming/x/a b.json",
        "note": "uploaded incoming/x/a b.json",  # placeholder inside a string: raw text
        "poll_seconds": 1,  # PollSeconds parameter through !Sub
    }
    with pytest.raises(StackError, match="would not fire"):
        toy_stack.execution_input("elsewhere/a.json")
    with pytest.raises(StackError, match="not keys the EventBridge rule produces"):
        toy_stack.start_execution("incoming/a.json", input_overrides={"surprise": 1})


def test_upload_streams_files_and_the_event_describes_the_object(toy_stack, tmp_path):
    source = tmp_path / "reports.jsonl"
    source.write_bytes(b'{"study_id": "1"}\n' * 1000)
    put = toy_stack.upload("incoming/train/r.jsonl", source)
    assert put["size"] == source.stat().st_size
    assert toy_stack.upload("incoming/t.json", "text")["size"] == 4
    event = toy_stack.object_created_event("incoming/train/r.jsonl")
    assert event["detail"]["object"]["size"] == put["size"]
    assert event["detail"]["object"]["etag"] == put["etag"]
    assert event["detail"]["bucket"]["name"] == toy_stack.bucket
    assert event["resources"] == [f"arn:aws:s3:::{toy_stack.bucket}"]


def test_fill_template_quotes_values_outside_strings_only():
    event = {"detail": {"object": {"key": 'a"b', "size": 3}}}
    target = {
        "InputTransformer": {
            "InputPathsMap": {"key": "$.detail.object.key", "size": "$.detail.object.size"},
            "InputTemplate": '{"k": <key>, "s": <size>, "text": "key=<key> size=<size>"}',
        }
    }
    assert eventbridge.target_input(target, event) == {
        "k": 'a"b',
        "s": 3,
        "text": 'key=a"b size=3',
    }


# -- executions --------------------------------------------------------------------------------


def test_pipeline_runs_handlers_retries_maps_and_waits(toy_stack):
    seen: list[dict] = []
    started = time.monotonic()
    arn = toy_stack.start_execution("incoming/train/a.json", name="run-ok")
    result = toy_stack.wait(arn, on_event=seen.append, timeout=60)
    elapsed = time.monotonic() - started

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.visited[:4] == ["Echo", "Route", "Flaky", "Squares"]
    assert result.visited[4:] == ["Square"] * 5 + ["Poll", "Summarise"]
    # Every history event reached the callback once, in order.
    assert [e["id"] for e in seen] == [e["id"] for e in result.history]
    assert len({e["id"] for e in seen}) == len(seen)

    out = result.output
    echo = out["echo"]
    assert echo["bucket_matches"] and echo["key"] == "incoming/train/a.json"
    assert echo["role"] == "echo" and echo["greeting"] == "hello"
    assert echo["function_name"] == toy_stack.functions["EchoFunction"].name
    assert echo["memory"] == 256 and echo["remaining_ms_positive"]
    # The handler wrote through radimpress.clients into the embedded bucket.
    body = toy_stack.client("s3").get_object(Bucket=toy_stack.bucket, Key="runs/run-ok/echo.txt")
    assert body["Body"].read() == b"ok"

    # Retry matched the exception class name: two failed attempts, the third succeeded...
    failures = result.task_failures()
    assert [(state, error) for state, error, _ in failures] == [("Flaky", "TransientToyError")] * 2
    assert out["attempts"] == 3
    # ...without sleeping the 5 s + 10 s the ASL asks for (retry_scale=0 through the seam).
    assert lambda_seam.stats().retry_sleep_requested >= 15
    # Map ran every item through the handler, on interpreter threads, with its own environment.
    assert [s["value"] for s in out["squares"]] == [1, 4, 9, 16, 25]
    assert {s["role"] for s in out["squares"]} == {"square"}
    threads = {s["thread"] for s in out["squares"]}
    assert len(threads) > 1 and "MainThread" not in threads
    # Wait took SecondsPath=1 from the input.
    wait_entered = next(e for e in result.history if e["type"] == "WaitStateEntered")
    wait_exited = next(e for e in result.history if e["type"] == "WaitStateExited")
    waited = (wait_exited["timestamp"] - wait_entered["timestamp"]).total_seconds()
    assert 0.9 <= waited < 3
    assert elapsed < 10


def test_catch_path_reports_the_failed_task_and_its_error(toy_stack):
    arn = toy_stack.start_execution("incoming/boom/a.json")
    lines: list[str] = []
    result = toy_stack.wait(
        arn, on_event=lambda e: lines.append(executions.describe(e) or ""), timeout=30
    )
    assert result.status == "FAILED"
    assert result.error == "ToyPipelineFailed"
    assert result.failed_state == "Boom"
    assert result.visited == ["Echo", "Route", "Boom", "RecordFailure", "Failed"]
    [(state, error, cause)] = result.task_failures()
    assert (state, error) == ("Boom", "ToyValidationError")
    assert json.loads(cause)["errorMessage"] == "record 3: field findings is empty"
    assert "!! Boom: ToyValidationError (TaskFailed)" in lines
    assert "-> RecordFailure" in lines
    # Progress lines never carry state input/output.
    assert not any(toy_stack.bucket in line for line in lines)


def test_wait_times_out_and_stops_the_execution(toy_stack):
    arn = toy_stack.start_execution("incoming/slow.json", input_overrides={"poll_seconds": 30})
    started = time.monotonic()
    with pytest.raises(executions.ExecutionTimeout, match="still running"):
        toy_stack.wait(arn, timeout=1.5)
    assert time.monotonic() - started < 5
    sfn = toy_stack.client("stepfunctions")
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"


# -- parameters and lifecycle ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"PollSeconds": "0"}, "below MinValue"),
        ({"PollSeconds": "soon"}, "not a number"),
        ({"Greeting": "Hi!"}, "AllowedPattern"),
        ({"Nope": "1"}, "unknown parameter"),
    ],
)
def test_bad_parameters_are_refused_with_the_name(toy_template, parameters, message):
    with pytest.raises(StackError, match=message) as caught:
        EmbeddedStack(toy_template, parameters=parameters).start()
    assert next(iter(parameters)) in str(caught.value)
    assert not lambda_seam.installed()


def test_stop_restores_moto_environment_and_allows_a_new_stack(toy_template):
    before = {k: os.environ.get(k) for k in ("TOY_ROLE", "AWS_DEFAULT_REGION")}
    with EmbeddedStack(toy_template, environment={"TOY_EXTRA": "1"}) as stack:
        assert stack.functions["EchoFunction"].environment["TOY_EXTRA"] == "1"
        with pytest.raises(StackError, match="another EmbeddedStack"):
            EmbeddedStack(toy_template).start()
        arn = stack.start_execution("incoming/boom/b.json")
        # Leaving the block without waiting: stop() waits for the execution first.
    # stop() waited for the execution to end before stopping moto.
    assert stack.final_status == {arn: "FAILED"}
    assert LambdaSimpleBackend.invoke is not lambda_seam._invoke
    assert {k: os.environ.get(k) for k in before} == before
    assert "TOY_EXTRA" not in os.environ
    with EmbeddedStack(toy_template) as again:
        assert again.client("lambda").list_functions()["Functions"]


# -- the real template -------------------------------------------------------------------------


def test_real_template_builds_with_every_substitution_resolved(embedded_stack, root):
    template_path = root / "template.yaml"
    template = load(template_path)
    stack = embedded_stack(
        template_path,
        parameters={"PollSeconds": "1", "DeployEndpoint": "true"},  # every function, once
        environment={"RADIMPRESS_STACK_TEST": "on"},
    )
    serverless = {
        k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"
    }
    assert serverless and set(stack.functions) == set(serverless)
    for logical, info in stack.functions.items():
        assert info.handler == serverless[logical]["Properties"]["Handler"]
        assert info.code_dir == root / "functions"
        assert info.environment["RADIMPRESS_STACK_TEST"] == "on"
        unresolved = {k: v for k, v in info.environment.items() if "{" in v or "Fn::" in v}
        assert not unresolved, f"{logical}: {unresolved}"

    machine = stack.client("stepfunctions").describe_state_machine(
        stateMachineArn=stack.state_machine_arn
    )
    definition = machine["definition"]
    assert "${" not in definition
    arns = {info.arn for info in stack.functions.values()}
    used = {arn for arn in arns if arn in definition}
    # DeployEndpoint is the registry event rule's target, ReleaseStoppedRun the target of the
    # machine's own status changes: neither is a state of the machine.
    by_event = {
        stack.functions[name].arn
        for name in ("DeployEndpointFunction", "ReleaseStoppedRunFunction")
    }
    assert used == arns - by_event, f"functions not referenced by the ASL: {sorted(arns - used)}"

    stack.upload("incoming/train/demo/train.jsonl", b"{}\n")
    payload = stack.execution_input("incoming/train/demo/train.jsonl")
    assert payload["bucket"] == stack.bucket
    assert payload["key"] == "incoming/train/demo/train.jsonl"
    assert payload["poll_seconds"] == 1
    with pytest.raises(StackError, match="would not fire"):
        stack.execution_input("results/not-an-upload.json")
    stack.upload("incoming/train/demo/", b"")  # a console "folder": zero bytes, no run
    with pytest.raises(StackError, match="would not fire"):
        stack.execution_input("incoming/train/demo/")
    glue = stack.client("glue")
    for resource in stack.resources.values():
        if resource.type == "AWS::Glue::Database":
            glue.get_database(Name=resource.physical_id)
