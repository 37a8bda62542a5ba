"""`radimpress models` against the embedded stack: the group template.yaml creates, versions
created through the stack's registry double (what RegisterModel and Promote call), an endpoint
in moto, and the CLI's own boto3 session talking to moto.

The CLI's UpdateModelPackage goes through the registry double too, as every registry call of
the embedded stack does: moto alone resets a version's metadata on an update, which SageMaker
does not (every UpdateModelPackage field but the ARN is optional; workstation/job_backend/
registry.py). After each decision, ResolveModels itself is asked which version it pins, so the
CLI's "next inference run" is checked against the pipeline, not against a copy of its rule.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from radimpress import registry
from radimpress.spec import load_spec
from radimpress.steps.resolve_models import resolve_models
from radimpress_workstation.cli import main
from radimpress_workstation.commands import models
from radimpress_workstation.embedded.stack import EmbeddedStack
from radimpress_workstation.job_backend.backend import local_job_backend, reset_local_job_backend
from radimpress_workstation.job_backend.registry import REGISTRY_CALLS

ROOT = Path(__file__).resolve().parents[2]
STACK = "models-cli"
SPEC = "local-retrieval"
GROUP = registry.group_name(STACK)
ROLE = "arn:aws:iam::123456789012:role/models-cli-sagemaker"


class StackSession:
    """boto3's session as the CLI makes it, its Model Registry calls through the stack's double."""

    region_name = "us-east-1"

    def client(self, service: str, region_name: str | None = None) -> Any:
        client = boto3.client(service, region_name=region_name or self.region_name)
        return ThroughRegistryDouble(client) if service == "sagemaker" else client


class ThroughRegistryDouble:
    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        if name in REGISTRY_CALLS:
            return getattr(local_job_backend(), name)
        return getattr(self._client, name)


@pytest.fixture(scope="module")
def stack():
    reset_local_job_backend()
    with EmbeddedStack(
        ROOT / "template.yaml",
        parameters={"PollSeconds": "1", "ModelSpec": SPEC},
        stack_name=STACK,
    ) as running:
        yield running
        local_job_backend().wait()


def register(version: int, trained_at: str) -> str:
    """A version as RegisterModel creates it (pending, with its lineage in the metadata)."""
    spec = load_spec(SPEC, region="")
    job = f"{STACK}-ft-{version:020d}"
    metadata = {
        "training_job": job,
        "training_run_id": f"run-{version}",
        "dataset": "cli",
        "spec": spec.name,
        "model_id": spec.model_id,
        "model_version": spec.model_version,
        "sagemaker_model": job,
        "trained_at": trained_at,
        "train_records": 300,
    }
    created = local_job_backend().create_model_package(
        ModelPackageGroupName=GROUP,
        ModelPackageDescription=f"fine-tune {job}",
        InferenceSpecification={
            "Containers": [
                {
                    "Image": spec.fine_tuned_image_uri,
                    "ModelDataUrl": f"s3://bucket/models/{job}/output/model.tar.gz",
                }
            ],
            "SupportedContentTypes": ["application/jsonlines"],
            "SupportedResponseMIMETypes": ["application/jsonlines"],
        },
        ModelApprovalStatus=registry.PENDING,
        CustomerMetadataProperties=registry.encode_metadata(metadata),
        ClientToken=job,
    )
    return str(created["ModelPackageArn"])


def serve_on_endpoint(sagemaker: Any, model: str) -> None:
    """An endpoint serving ``model`` as steps/deploy_endpoint.py builds one."""
    sagemaker.create_model(
        ModelName=model,
        PrimaryContainer={"Image": "radimpress-local/retrieval"},
        ExecutionRoleArn=ROLE,
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{STACK}-ep-v1-00000000",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": model,
                "InstanceType": "ml.g4dn.xlarge",  # in moto 5.2's list (ml.g5 is not)
                "InitialInstanceCount": 1,
            }
        ],
    )
    sagemaker.create_endpoint(
        EndpointName=f"{STACK}-endpoint", EndpointConfigName=f"{STACK}-ep-v1-00000000"
    )


def cli(capsys, *argv: str) -> tuple[int, Any]:
    base = ["--stack-name", STACK, "--region", "us-east-1", "--spec", SPEC, "--json"]
    code = main(["models", *argv, *base])
    out = capsys.readouterr().out
    return code, json.loads(out) if code == 0 else out


def pinned_version() -> int:
    """The fine-tuned version ResolveModels pins for an inference run now (0: none)."""
    chosen = resolve_models(
        local_job_backend(),
        load_spec(SPEC),
        prefix=STACK,
        role_arn=ROLE,
        records_key="runs/x/ingest/records.jsonl",
        has_references=False,
    )
    return max((m.package_version for m in chosen.models), default=0)


def test_list_approve_reject_through_the_cli(stack, monkeypatch, capsys):
    monkeypatch.setattr(models, "make_session", lambda region: StackSession())
    first = register(1, "2026-12-01T10:00:00.000000+00:00")
    local_job_backend().update_model_package(
        ModelPackageArn=first,
        ModelApprovalStatus=registry.APPROVED,
        ApprovalDescription="first fine-tuned model; AutoApprove is on",
    )
    second = register(2, "2026-12-03T10:00:00.000000+00:00")
    serve_on_endpoint(stack.client("sagemaker"), f"{STACK}-ft-{1:020d}")

    code, listed = cli(capsys, "list")
    assert code == 0
    assert [(v["version"], v["status"]) for v in listed["versions"]] == [
        (2, "PendingManualApproval"),
        (1, "Approved"),
    ]
    assert listed["next_inference_run"]["version"] == 1 == pinned_version()
    assert listed["endpoint"]["versions"] == [1]
    assert listed["versions"][0]["train_records"] == 300
    assert listed["versions"][0]["training_run_id"] == "run-2"

    code, approved = cli(capsys, "approve", "v2", "--reason", "reviewed by the on-call")
    assert code == 0 and approved["next_inference_run"]["arn"] == second
    assert pinned_version() == 2
    described = stack.client("sagemaker").describe_model_package(ModelPackageName=second)
    assert described["ApprovalDescription"] == "reviewed by the on-call"
    assert described["CustomerMetadataProperties"]["training_job"] == f"{STACK}-ft-{2:020d}"

    code, rejected = cli(capsys, "reject", "2")  # the rollback
    assert code == 0 and rejected["previous_status"] == "Approved"
    assert rejected["next_inference_run"]["arn"] == first
    assert pinned_version() == 1

    assert main(["models", "approve", "9", "--stack-name", STACK, "--spec", SPEC]) == 2
    assert "has no version 9 (versions: v1, v2)" in capsys.readouterr().err


def test_a_stack_without_the_group_exits_2(stack, monkeypatch, capsys):
    monkeypatch.setattr(models, "make_session", lambda region: StackSession())
    assert main(["models", "list", "--stack-name", "elsewhere", "--spec", SPEC]) == 2
    assert capsys.readouterr().err.startswith(
        "radimpress models: error: no model package group elsewhere-fine-tuned"
    )
