"""Three models in one comparison through the embedded stack: pre-trained, fine-tuned and a
Bedrock model (issue 21), with the stack's own policies deciding every call.

A training run registers the fine-tune; the inference run then compares the three. The Bedrock
model runs as a batch inference job (the account's minimum lowered to the run's size on both
sides: the stack parameter and the double's quota) or, in the second run, below the minimum as
per-record calls. Each must: finish, score every record (joined by recordId), name the model in
its rows, carry its token counts and a dated cost estimate in the lineage, and stay inside the
least-privilege table (StartTransform, JobStatus, BedrockBatchRole).
"""

from __future__ import annotations

import pytest
from least_privilege import grants_call
from pipeline_stack import jsonl, pipeline_stack, run_upload

from radimpress.storage import iter_jsonl
from radimpress_workstation.embedded.stack import UPLOADER_ROLE
from radimpress_workstation.job_backend.backend import reset_local_job_backend
from radimpress_workstation.job_backend.bedrock import reset_local_bedrock
from radimpress_workstation.job_backend.bedrock.quotas import Quotas
from radimpress_workstation.synthetic import generate_reports

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
INFER = 12


def _run(min_records: str, double_minimum: int):
    parameters = {
        "BedrockModelId": MODEL,
        "BedrockFewShotExamples": "2",
        "BedrockMinRecordsPerJob": min_records,
    }
    with pipeline_stack("br", parameters) as stack:
        double = reset_local_bedrock(quotas=Quotas(min_records_per_job=double_minimum))
        outputs = []
        for key, rows in (
            ("incoming/train/br/train.jsonl", generate_reports(40, seed=1, prefix="T")),
            ("incoming/infer/br/infer.jsonl", generate_reports(INFER, seed=2, prefix="I")),
        ):
            outputs.append(run_upload(stack, key, jsonl(rows)).output)
        double.wait(30)
        infer = outputs[1]
        s3 = stack.client("s3")
        rows = {
            item["model_key"]: [r for _, r in iter_jsonl(s3, stack.bucket, item["score_key"])]
            for item in infer["scores"]
        }
        jobs = double.list_model_invocation_jobs()["invocationJobSummaries"]
        roles = {
            stack.resources[logical].attributes["Arn"]: logical.removesuffix("Role")
            if logical.endswith("FunctionRole")
            else logical
            for logical in stack.resources
            if stack.resources[logical].type == "AWS::IAM::Role"
        }
        values = {
            "${DataBucket.Arn}": f"arn:aws:s3:::{stack.bucket}",
            "${DataKey.Arn}": stack.resources["DataKey"].attributes["Arn"],
            "${BedrockBatchRole.Arn}": stack.resources["BedrockBatchRole"].attributes["Arn"],
            "${BedrockModelId}": MODEL,
            "${AWS::Partition}": "aws",
            "${AWS::Region}": stack.region,
            "${AWS::AccountId}": stack.resources["DataKey"].attributes["Arn"].split(":")[4],
            "${AWS::StackName}": stack.stack_name,
        }
        granted = {(roles[p], a, r) for p, a, r in stack.authorizer.granted if p != UPLOADER_ROLE}
    reset_local_job_backend()
    return infer, rows, jobs, granted, values


@pytest.fixture(scope="module")
def batch_run():
    return _run(min_records="10", double_minimum=10)


@pytest.fixture(scope="module")
def per_record_run():
    return _run(min_records="100", double_minimum=100)


def _bedrock(infer):
    return next(item for item in infer["scores"] if item["model_key"] == "bedrock")


def test_three_models_are_compared_and_the_bedrock_one_ran_as_a_batch_job(batch_run):
    infer, rows, jobs, _, _ = batch_run
    assert sorted(rows) == ["bedrock", "fine-tuned", "pre-trained"]
    assert all(len(found) == INFER for found in rows.values())
    assert {r["model_role"] for r in rows["bedrock"]} == {"bedrock"}
    assert {r["model_name"] for r in rows["bedrock"]} == {MODEL}
    assert all(r["rougeL"] is not None for r in rows["bedrock"])
    assert [(j["modelId"], j["status"]) for j in jobs] == [(MODEL, "Completed")]
    usage = _bedrock(infer)["job_usage"]
    assert usage["kind"] == "bedrock" and usage["mode"] == "batch" and usage["examples"] == 2
    cost = usage["bedrock"]
    assert cost["input_tokens"] > 0 and cost["usd"] > 0 and cost["prices_as_of"]
    assert cost["usd_per_1000_reports"] == pytest.approx(cost["usd"] / INFER * 1000, rel=1e-3)


def test_below_the_minimum_the_same_comparison_calls_the_model_per_record(per_record_run):
    infer, rows, jobs, _, _ = per_record_run
    assert sorted(rows) == ["bedrock", "fine-tuned", "pre-trained"]
    assert len(rows["bedrock"]) == INFER and jobs == []
    usage = _bedrock(infer)["job_usage"]
    assert usage["mode"] == "on-demand" and usage["bedrock"]["usd"] > 0


@pytest.mark.parametrize("run", ["batch_run", "per_record_run"])
def test_every_bedrock_call_is_inside_the_least_privilege_table(run, request):
    _, _, _, granted, values = request.getfixturevalue(run)

    bedrock_calls = {
        (role, action, resource)
        for role, action, resource in granted
        if action.startswith("bedrock:") or role == "BedrockBatchRole" or "bedrock" in resource
    }
    assert bedrock_calls  # the Bedrock branch ran as the stack's roles
    assert {c for c in bedrock_calls if not grants_call(*c, values)} == set()
