"""The promotion gate through the embedded stack: a better fine-tune is approved and used by the
next inference run; a worse one stays pending and is never used (issue 20).

The local retrieval model answers a study with the impression of its nearest training study, so
what it learned shows directly. A "worse" upload teaches it nonsense: every study Ingest will
train on (radimpress.holdout.held_out decides, by study id) carries an unrelated impression, while
the held-out studies, on which the gate judges, keep their true ones.
"""

from __future__ import annotations

import json

import pytest
from pipeline_stack import jsonl, pipeline_stack, run_upload

from radimpress import registry
from radimpress.holdout import held_out
from radimpress_workstation.job_backend.backend import local_job_backend
from radimpress_workstation.synthetic import generate_reports

NONSENSE = "Refer to the dermatology clinic for the ankle rash."


def upload(prefix: str, seed: int, *, teach_nonsense: bool, n: int = 300) -> bytes:
    rows = []
    for row in generate_reports(n, seed=seed, prefix=prefix):
        if teach_nonsense and not held_out(str(row["study_id"]), 10):
            row = {**row, "impression": NONSENSE}
        rows.append(row)
    return jsonl(rows)


@pytest.fixture(scope="module")
def stack():
    with pipeline_stack("gate", {"ModelSpec": "local-retrieval"}) as running:
        yield running


run = run_upload


def versions(stack) -> list[dict]:
    sagemaker = stack.client("sagemaker")
    listed = sagemaker.list_model_packages(
        ModelPackageGroupName=registry.group_name("gate"), SortBy="CreationTime"
    )["ModelPackageSummaryList"]
    return [sagemaker.describe_model_package(ModelPackageName=p["ModelPackageArn"]) for p in listed]


def read(stack, key: str) -> bytes:
    return stack.client("s3").get_object(Bucket=stack.bucket, Key=key)["Body"].read()


def published_promotion(stack, run_id: str) -> set[str]:
    """promotion_status of the run's rows in the runs table (Parquet, as Athena reads it)."""
    import io

    import pyarrow.parquet as pq

    listed = stack.client("s3").list_objects_v2(Bucket=stack.bucket, Prefix="results/runs/")
    (key,) = [
        o["Key"] for o in listed.get("Contents", []) if o["Key"].endswith(f"{run_id}.parquet")
    ]
    table = pq.read_table(io.BytesIO(read(stack, key)))
    return set(table.column("promotion_status").to_pylist())


def fine_tuned_of_next_inference(stack, name: str) -> str:
    """The training run whose model the next inference run's fine-tuned rows name."""
    result = run(
        stack,
        f"incoming/infer/gate/{name}.jsonl",
        upload("I" + name, 9, teach_nonsense=False, n=30),
    )
    scores = (
        stack.client("s3")
        .get_object(Bucket=stack.bucket, Key=f"runs/{result.name}/scores/fine-tuned.jsonl")["Body"]
        .read()
    )
    first = json.loads(scores.decode().splitlines()[0])
    return str(first["training_run_id"])


def test_better_is_approved_and_used_worse_waits_and_is_not(stack):
    first = run(stack, "incoming/train/gate/a.jsonl", upload("A", 1, teach_nonsense=True))
    (a,) = versions(stack)
    assert a["ModelApprovalStatus"] == "Approved"  # the first one follows AutoApprove
    assert "first fine-tuned model" in a["ApprovalDescription"]
    assert a["CustomerMetadataProperties"]["training_run_id"] == first.name

    better = run(stack, "incoming/train/gate/b.jsonl", upload("B", 2, teach_nonsense=False))
    b = versions(stack)[1]
    meta = b["CustomerMetadataProperties"]
    assert b["ModelApprovalStatus"] == "Approved", b.get("ApprovalDescription")
    assert float(meta["gate_candidate"]) > float(meta["gate_baseline"])
    assert meta["gate_baseline_package"] == a["ModelPackageArn"]
    assert fine_tuned_of_next_inference(stack, "after-b") == better.name
    # The decision is in the training run's published results and its report, too.
    assert published_promotion(stack, better.name) == {"Approved"}
    report = read(stack, f"results/reports/{better.name}/report.html").decode()
    assert "Promotion gate:</strong> fine-tuned version v2 is Approved" in report

    worse = run(stack, "incoming/train/gate/c.jsonl", upload("C", 3, teach_nonsense=True))
    c = versions(stack)[2]
    assert c["ModelApprovalStatus"] == "PendingManualApproval"
    assert "worse than the approved model" in c["ApprovalDescription"]
    assert published_promotion(stack, worse.name) == {"PendingManualApproval"}
    meta = c["CustomerMetadataProperties"]
    assert float(meta["gate_candidate"]) < float(meta["gate_baseline"])
    assert fine_tuned_of_next_inference(stack, "after-c") == better.name  # C is never used

    # An operator approves C anyway (through the registry double: moto alone would drop the
    # version's metadata on an update): the next inference run uses it.
    local_job_backend().update_model_package(
        ModelPackageArn=c["ModelPackageArn"], ModelApprovalStatus="Approved"
    )
    latest = registry.latest_approved(stack.client("sagemaker"), registry.group_name("gate"))
    assert latest is not None and latest.arn == c["ModelPackageArn"]
