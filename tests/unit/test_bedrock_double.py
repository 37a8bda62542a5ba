"""The Bedrock batch inference double: requests checked against botocore's models, input lines,
quotas, outputs in the documented format, statuses, and IAM (radimpress_workstation.job_backend.
bedrock).

Sources: botocore's ``bedrock`` service model (CreateModelInvocationJob's shapes and patterns;
the job statuses: "Validating ... Your files fulfill the requirements for file size and number of
records"), Bedrock user guide "Format and upload your batch inference data" and "View the results
of a batch inference job", and the quotas listed in job_backend/bedrock/quotas.py.
"""

from __future__ import annotations

import json
import re

import boto3
import pytest
from botocore.exceptions import ClientError
from handler_support import BUCKET

from radimpress_workstation.embedded.aws_authorization import (
    Authorizer,
    StackPolicies,
    acting_as,
    activate,
    deactivate,
)
from radimpress_workstation.job_backend.bedrock import LocalBedrock, generator_label
from radimpress_workstation.job_backend.bedrock.quotas import Quotas
from radimpress_workstation.job_backend.bedrock.service_model import service_model

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
ROLE = "arn:aws:iam::123456789012:role/radimpress-bedrock"
CALLER = "arn:aws:iam::123456789012:role/radimpress-start-transform"
SECRET = "Patient John Smith"


def body(findings: str = "Heart size normal. Lungs clear.") -> dict:
    return {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": f"FINDINGS: {findings}\nIMPRESSION:"}],
            }
        ],
    }


def request(name: str = "radimpress-bedrock-1", **extra) -> dict:
    return {
        "jobName": name,
        "roleArn": ROLE,
        "modelId": MODEL,
        "inputDataConfig": {"s3InputDataConfig": {"s3Uri": f"s3://{BUCKET}/in/"}},
        "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": f"s3://{BUCKET}/out/"}},
        **extra,
    }


def put_input(s3, lines, key="in/part-00001.jsonl"):
    data = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    s3.put_object(Bucket=BUCKET, Key=key, Body=data.encode())


@pytest.fixture
def double(s3):
    bedrock = LocalBedrock(lambda: s3, quotas=Quotas(min_records_per_job=3))
    yield bedrock
    bedrock.shutdown()


def finished(bedrock: LocalBedrock, arn: str) -> dict:
    bedrock.wait(30)
    return bedrock.get_model_invocation_job(jobIdentifier=arn)


def output_lines(s3, arn, name="part-00001.jsonl.out"):
    key = f"out/{arn.rsplit('/', 1)[-1]}/{name}"
    return [
        json.loads(x) for x in s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().splitlines()
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"jobName": "radimpress_bedrock"}, "regular expression pattern"),  # underscore
        ({"roleArn": "arn:aws:iam::123456789012:user/alice"}, "at 'roleArn'"),
        ({"modelId": "Anthropic Claude"}, "at 'modelId'"),
        ({"timeoutDurationInHours": 200}, "less than or equal to 168"),
        ({"timeoutDurationInHours": 1}, "valid min value: 24"),
        ({"modelInvocationType": "Chat"}, "enum value set"),
        ({"jobName": "x" * 64}, "length less than or equal to 63"),
        ({"bogus": 1}, "Unknown parameter"),
        ({"inputDataConfig": {"s3InputDataConfig": {"s3Uri": "https://bucket/in"}}}, "s3Uri"),
    ],
)
def test_requests_are_checked_against_botocores_service_model(double, change, expected):
    with pytest.raises(ClientError) as refused:
        double.create_model_invocation_job(**{**request(), **change})
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert expected in refused.value.response["Error"]["Message"]


def test_a_required_parameter_missing_is_refused(double):
    incomplete = request()
    del incomplete["roleArn"]
    with pytest.raises(ClientError, match="Missing required parameter"):
        double.create_model_invocation_job(**incomplete)


def test_a_job_runs_through_its_statuses_and_writes_the_documented_outputs(s3, double):
    put_input(
        s3,
        [{"recordId": f"S{i}", "modelInput": body(f"Finding {i}. More text.")} for i in range(6)],
    )
    changes = []
    double.on_job_change = lambda name, status: changes.append(status)
    arn = double.create_model_invocation_job(**request())["jobArn"]
    assert arn.startswith("arn:aws:bedrock:") and ":model-invocation-job/" in arn
    job = finished(double, arn)
    assert job["status"] == "Completed"
    assert changes == ["Validating", "Scheduled", "InProgress", "Completed"]
    assert job["totalRecordCount"] == job["successRecordCount"] == 6
    lines = output_lines(s3, arn)
    ids = [line["recordId"] for line in lines]
    assert sorted(ids) == sorted(f"S{i}" for i in range(6))
    assert ids != sorted(ids, key=lambda x: int(x[1:]))  # order is not the input's
    for line in lines:
        number = line["recordId"][1:]
        assert line["modelInput"] == body(f"Finding {number}. More text.")
        assert line["modelOutput"]["content"][0]["text"] == f"Finding {number}."
        assert line["generator"] == generator_label(MODEL)
    manifest = json.loads(
        s3.get_object(Bucket=BUCKET, Key=f"out/{arn.rsplit('/', 1)[-1]}/manifest.json.out")[
            "Body"
        ].read()
    )
    assert manifest["totalRecordCount"] == manifest["processedRecordCount"] == 6
    assert manifest["successRecordCount"] == 6 and manifest["errorRecordCount"] == 0
    assert manifest["outputTokenCount"] == 12  # "Finding n." is 2 whitespace tokens
    assert manifest["inputTokenCount"] == sum(
        line["modelOutput"]["usage"]["input_tokens"] for line in lines
    )
    assert "stand-in: lead" in manifest["generator"]


def test_malformed_model_inputs_become_error_lines_without_the_text(s3, double):
    bad_type = {**body(), "max_tokens": "100"}
    extra_key = {**body(), "prompt": SECRET}
    no_messages = {k: v for k, v in body().items() if k != "messages"}
    put_input(
        s3,
        [
            {"recordId": "Sgood", "modelInput": body()},
            {"recordId": "Stype", "modelInput": bad_type},
            {"recordId": "Sextra", "modelInput": extra_key},
            {"recordId": "Smissing", "modelInput": no_messages},
            {"modelInput": body()},  # no recordId: Bedrock adds one
        ],
    )
    arn = double.create_model_invocation_job(**request())["jobArn"]
    job = finished(double, arn)
    assert job["status"] == "Completed"
    assert (job["successRecordCount"], job["errorRecordCount"]) == (2, 3)
    by_id = {line["recordId"]: line for line in output_lines(s3, arn)}
    assert by_id["Stype"]["error"] == {
        "errorCode": 400,
        "errorMessage": "Malformed input request: #/max_tokens: expected type: Integer, found: "
        "String, please reformat your input and try again.",
    }
    assert "extraneous key [prompt]" in by_id["Sextra"]["error"]["errorMessage"]
    assert SECRET not in by_id["Sextra"]["error"]["errorMessage"]
    assert "required key [messages]" in by_id["Smissing"]["error"]["errorMessage"]
    added = [rid for rid in by_id if not rid.startswith("S")]
    assert len(added) == 1 and len(added[0]) == 11 and added[0].isalnum()


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            ["{not json", {"modelInput": body()}, {"modelInput": body()}],
            "line 1: the record is not valid JSON",
        ),
        (
            [{"modelInput": body()}, [1, 2], {"modelInput": body()}],
            "line 2: the record is not a JSON object",
        ),
        ([{"modelInput": "text"}] * 3, "modelInput is missing or not a JSON object"),
        ([{"recordId": 7, "modelInput": body()}] * 3, "recordId is not a string"),
        (
            [{"modelInput": body()}] * 2,
            "below the minimum number of records per batch inference job (3)",
        ),
    ],
)
def test_validation_failures_fail_the_job_with_a_message_naming_the_rule(
    s3, double, lines, message
):
    put_input(s3, lines)
    arn = double.create_model_invocation_job(**request())["jobArn"]
    job = finished(double, arn)
    assert job["status"] == "Failed"
    assert message in job["message"]


def test_file_and_job_quotas(s3):
    quotas = Quotas(min_records_per_job=1, max_records_per_file=2, max_records_per_job=3)
    bedrock = LocalBedrock(lambda: s3, quotas=quotas)
    put_input(s3, [{"modelInput": body()}] * 3)
    arn = bedrock.create_model_invocation_job(**request("one-big-file"))["jobArn"]
    assert "records per input file" in finished(bedrock, arn)["message"]
    s3.delete_object(Bucket=BUCKET, Key="in/part-00001.jsonl")
    for n in (1, 2):
        put_input(s3, [{"modelInput": body()}] * 2, key=f"in/part-0000{n}.jsonl")
    arn = bedrock.create_model_invocation_job(**request("too-many-records"))["jobArn"]
    assert "records per batch inference job (3)" in finished(bedrock, arn)["message"]
    bedrock.shutdown()


def test_no_input_file_fails_the_job(double):
    arn = double.create_model_invocation_job(**request())["jobArn"]
    assert "No .jsonl input file" in finished(double, arn)["message"]


def test_a_timeout_leaves_a_partially_completed_job_with_the_processed_records(s3):
    bedrock = LocalBedrock(
        lambda: s3, quotas=Quotas(min_records_per_job=1), records_before_timeout=2
    )
    put_input(s3, [{"recordId": f"S{i}", "modelInput": body()} for i in range(5)])
    arn = bedrock.create_model_invocation_job(**request())["jobArn"]
    job = finished(bedrock, arn)
    assert job["status"] == "PartiallyCompleted"
    assert (job["totalRecordCount"], job["processedRecordCount"]) == (5, 2)
    assert len(output_lines(s3, arn)) == 2
    bedrock.shutdown()


def test_names_are_unique_and_client_tokens_make_creates_idempotent(s3, double):
    put_input(s3, [{"modelInput": body()}] * 3)
    first = double.create_model_invocation_job(**request(clientRequestToken="token1"))["jobArn"]
    again = double.create_model_invocation_job(**request(clientRequestToken="token1"))["jobArn"]
    assert again == first
    with pytest.raises(ClientError) as conflict:
        double.create_model_invocation_job(**request())
    assert conflict.value.response["Error"]["Code"] == "ConflictException"
    double.wait(30)


def test_get_stop_and_list(s3, double):
    put_input(s3, [{"modelInput": body()}] * 3)
    arn = double.create_model_invocation_job(**request("job-a"))["jobArn"]
    job_id = arn.rsplit("/", 1)[-1]
    arn_shape = service_model("bedrock").shape_for("ModelInvocationJobArn")
    assert re.fullmatch(arn_shape.metadata["pattern"], arn)  # .../model-invocation-job/[a-z0-9]{12}
    finished(double, arn)
    assert double.get_model_invocation_job(jobIdentifier=job_id)["jobArn"] == arn
    with pytest.raises(ClientError) as stopping_done:
        double.stop_model_invocation_job(jobIdentifier=arn)
    assert stopping_done.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as unknown:
        double.get_model_invocation_job(jobIdentifier="zzzzzzzzzzzz")
    assert unknown.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError, match="regular expression"):
        double.get_model_invocation_job(jobIdentifier="not-an-id")
    double.create_model_invocation_job(**request("job-b"))
    double.wait(30)
    listed = double.list_model_invocation_jobs(nameContains="job-", maxResults=1)
    assert len(listed["invocationJobSummaries"]) == 1 and listed["nextToken"] == "1"
    rest = double.list_model_invocation_jobs(nameContains="job-", nextToken="1")
    names = {
        listed["invocationJobSummaries"][0]["jobName"],
        rest["invocationJobSummaries"][0]["jobName"],
    }
    assert names == {"job-a", "job-b"}
    assert double.list_model_invocation_jobs(statusEquals="Failed")["invocationJobSummaries"] == []


def test_a_stop_before_the_job_runs_ends_it_stopped(s3):
    bedrock = LocalBedrock(lambda: s3, quotas=Quotas(min_records_per_job=1), max_workers=1)
    put_input(s3, [{"modelInput": body()}] * 3)
    # The one worker is busy with the first job: the second waits, and is stopped while queued.
    first = bedrock.create_model_invocation_job(**request("first"))["jobArn"]
    second = bedrock.create_model_invocation_job(**request("second"))["jobArn"]
    bedrock.stop_model_invocation_job(jobIdentifier=second)
    assert bedrock.get_model_invocation_job(jobIdentifier=second)["status"] in (
        "Stopping",
        "Stopped",
    )
    bedrock.wait(30)
    assert bedrock.get_model_invocation_job(jobIdentifier=second)["status"] == "Stopped"
    assert bedrock.get_model_invocation_job(jobIdentifier=first)["status"] == "Completed"
    bedrock.shutdown()


def test_converse_jobs_and_kms_output_encryption(s3, double):
    converse_body = {
        "messages": [
            {
                "role": "user",
                "content": [{"text": "FINDINGS: Mild cardiomegaly. Stable.\nIMPRESSION:"}],
            }
        ],
        "inferenceConfig": {"maxTokens": 50, "temperature": 0.0},
    }
    bad = {"messages": [{"role": "user", "content": SECRET}]}
    put_input(
        s3,
        [{"recordId": "Sa", "modelInput": converse_body}] * 2
        + [{"recordId": "Sb", "modelInput": bad}],
    )
    key = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    out = {"s3OutputDataConfig": {"s3Uri": f"s3://{BUCKET}/out/", "s3EncryptionKeyId": key}}
    arn = double.create_model_invocation_job(
        **request(
            modelId="cohere.command-r-v1:0", modelInvocationType="Converse", outputDataConfig=out
        )
    )["jobArn"]
    assert finished(double, arn)["status"] == "Completed"
    lines = {line["recordId"]: line for line in output_lines(s3, arn)}
    assert (
        lines["Sa"]["modelOutput"]["output"]["message"]["content"][0]["text"]
        == "Mild cardiomegaly."
    )
    assert "messages[0].content" in lines["Sb"]["error"]["errorMessage"]
    assert SECRET not in lines["Sb"]["error"]["errorMessage"]
    head = s3.head_object(Bucket=BUCKET, Key=f"out/{arn.rsplit('/', 1)[-1]}/manifest.json.out")
    assert head["ServerSideEncryption"] == "aws:kms"


def test_invoke_model_jobs_for_models_the_double_cannot_serve_are_refused(double):
    with pytest.raises(ClientError, match="Converse"):
        double.create_model_invocation_job(**request(modelId="cohere.command-r-v1:0"))


def test_runtime_calls_check_bodies_and_can_be_made_to_fail(double):
    response = double.invoke_model(modelId=MODEL, body=json.dumps(body("Small effusion. Stable.")))
    assert json.loads(response["body"].read())["content"][0]["text"] == "Small effusion."
    with pytest.raises(ClientError) as refused:
        double.invoke_model(modelId=MODEL, body=json.dumps({**body(), "system": 5}))
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError, match="not JSON"):
        double.invoke_model(modelId=MODEL, body=b"{")
    with pytest.raises(ClientError, match="model identifier is invalid"):
        double.invoke_model(modelId="cohere.command-r-v1:0", body=b"{}")
    double.fail_next("ThrottlingException", "ModelNotReadyException")
    for code in ("ThrottlingException", "ModelNotReadyException"):
        with pytest.raises(ClientError) as failed:
            double.converse(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "x"}]}])
        assert failed.value.response["Error"]["Code"] == code
        assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    answer = double.converse(
        modelId=MODEL, messages=[{"role": "user", "content": [{"text": "A. B."}]}]
    )
    assert answer["output"]["message"]["content"][0]["text"] == "A."
    with pytest.raises(ClientError, match="start with a user message"):
        double.converse(modelId=MODEL, messages=[{"role": "assistant", "content": [{"text": "x"}]}])


# -- IAM: the caller's Bedrock permissions, and the service role's S3 --


def allow(actions, resources, **extra):
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


@pytest.fixture
def enforced(s3):
    """An embedded stack's authorizer with the caller's and the service role's policies."""
    stack = StackPolicies(account="123456789012", region="us-east-1")

    def enforce(caller_statements, role_statements):
        stack.identity[CALLER] = [
            ("caller", {"Version": "2012-10-17", "Statement": caller_statements})
        ]
        stack.identity[ROLE] = [("role", {"Version": "2012-10-17", "Statement": role_statements})]
        authorizer = Authorizer(
            stack, lambda service: boto3.client(service, region_name="us-east-1")
        )
        activate(authorizer)
        return authorizer

    yield enforce
    deactivate()


JOBS = "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/*"
ROLE_S3 = [
    allow(["s3:GetObject", "s3:PutObject"], f"arn:aws:s3:::{BUCKET}/*"),
    allow("s3:ListBucket", f"arn:aws:s3:::{BUCKET}"),
]
CALLER_BEDROCK = [
    allow(["bedrock:CreateModelInvocationJob", "bedrock:GetModelInvocationJob"], JOBS),
    allow(
        "iam:PassRole",
        ROLE,
        Condition={"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
    ),
]


def test_the_caller_needs_create_and_pass_role_and_the_job_runs_as_its_service_role(
    s3, double, enforced
):
    put_input(s3, [{"modelInput": body()}] * 3)
    authorizer = enforced(CALLER_BEDROCK, ROLE_S3)
    with acting_as(CALLER):
        arn = double.create_model_invocation_job(**request())["jobArn"]
        assert finished(double, arn)["status"] == "Completed"
    granted = {(p, a) for p, a, _ in authorizer.granted}
    assert (CALLER, "iam:PassRole") in granted and (ROLE, "s3:GetObject") in granted
    assert (ROLE, "s3:PutObject") in granted


def test_a_caller_without_pass_role_is_refused(s3, double, enforced):
    enforced(CALLER_BEDROCK[:1], ROLE_S3)
    with acting_as(CALLER), pytest.raises(ClientError) as refused:
        double.create_model_invocation_job(**request())
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "iam:PassRole" in refused.value.response["Error"]["Message"]


def test_a_service_role_that_cannot_read_the_input_fails_the_job(s3, double, enforced):
    put_input(s3, [{"modelInput": body()}] * 3)
    enforced(CALLER_BEDROCK, [allow("s3:PutObject", f"arn:aws:s3:::{BUCKET}/out/*")])
    with acting_as(CALLER):
        arn = double.create_model_invocation_job(**request())["jobArn"]
        job = finished(double, arn)
    assert job["status"] == "Failed"
    assert "AccessDenied" in job["message"] and ROLE in job["message"]


def test_runtime_calls_need_invoke_model_on_the_model_arn(double, enforced):
    model_arn = f"arn:aws:bedrock:us-east-1::foundation-model/{MODEL}"
    enforced([allow("bedrock:InvokeModel", model_arn)], [])
    with acting_as(CALLER):
        double.invoke_model(modelId=MODEL, body=json.dumps(body()))
        with pytest.raises(ClientError) as refused:
            double.invoke_model(modelId="amazon.nova-lite-v1:0", body=b"{}")
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
