"""The promotion gate: the held-out split (radimpress.holdout), the decision rules
(steps/promote.decide), the registry's metadata encoding, and the registry double's contract
where moto departs from SageMaker (versions under concurrency, ClientToken, partial updates)."""

from __future__ import annotations

import threading
import time

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from radimpress import registry
from radimpress.events import ModelRef, RegisteredModel, ScoreResult
from radimpress.holdout import MIN_HOLDOUT, HoldoutSplit, held_out
from radimpress.steps.promote import GatePolicy, decide

GROUP = "radimpress-fine-tuned"

# ---- the held-out split -----------------------------------------------------------------------


def _split(n: int, percent: int) -> tuple[list, list, int]:
    train: list = []
    holdout: list = []
    split = HoldoutSplit(percent, train.append, holdout.append)
    for i in range(n):
        record = {"study_id": f"s{i}", "findings": "f", "impression": "i"}
        split.add(f"s{i}", record, {"line": i})
    return train, holdout, split.finish()


def test_the_split_depends_on_the_id_only_and_keeps_every_record_once():
    train, holdout, count = _split(1000, 10)
    assert count == len(holdout) and 60 <= count <= 140  # about 10 %
    assert len(train) + len(holdout) == 1000
    assert {r["study_id"] for r in holdout} == {
        f"s{i}" for i in range(1000) if held_out(f"s{i}", 10)
    }
    again = _split(1000, 10)[1]
    assert again == holdout  # seeded: the same studies every time


def test_a_split_too_small_to_judge_by_goes_back_to_training():
    train, holdout, count = _split(100, 10)  # about 10 held out < MIN_HOLDOUT
    assert count == 0 and holdout == [] and len(train) == 100
    assert MIN_HOLDOUT == 20


def test_records_without_a_reference_are_never_held_out():
    train: list = []
    holdout: list = []
    split = HoldoutSplit(50, train.append, holdout.append)
    for i in range(200):
        split.add(f"s{i}", {"study_id": f"s{i}", "impression": None}, {"line": i})
    assert split.finish() == 0 and len(train) == 200


def test_holdout_percent_is_bounded():
    with pytest.raises(ValueError, match="0 to 50"):
        HoldoutSplit(60, print, print)


# ---- the decision -----------------------------------------------------------------------------


def _model(baseline: str = "arn:base") -> RegisteredModel:
    candidate = ModelRef(model_key="candidate", label="candidate (v2)", model_name="m2")
    return RegisteredModel(
        model_name="m2",
        model_data_url="s3://b/models/m2/output/model.tar.gz",
        package_arn="arn:cand",
        package_version=2,
        baseline_package_arn=baseline,
        candidate=candidate,
    )


def _scores(candidate: float | None, baseline: float | None) -> list[ScoreResult]:
    scores = []
    for key, value in (("candidate", candidate), ("fine-tuned", baseline)):
        if value is None:
            scores.append(ScoreResult(model_key=key, failed=True, error="JobFailed"))
        else:
            scores.append(ScoreResult(model_key=key, rouge_l_mean=value, clinical_f1_mean=value))
    return scores


@pytest.mark.parametrize(
    ("candidate", "baseline", "margin", "auto", "status", "why"),
    [
        (0.50, 0.40, 0.0, True, "Approved", "not worse"),
        (0.40, 0.40, 0.0, True, "Approved", "not worse"),  # a tie passes
        (0.39, 0.40, 0.0, True, "PendingManualApproval", "worse"),
        (0.39, 0.40, 0.02, True, "Approved", "not worse"),  # within the margin
        (0.37, 0.40, 0.02, True, "PendingManualApproval", "worse"),
        (0.50, 0.40, 0.0, False, "PendingManualApproval", "AutoApprove is off"),
        (None, 0.40, 0.0, True, "PendingManualApproval", "candidate could not be scored"),
        (0.50, None, 0.0, True, "PendingManualApproval", "approved model could not be scored"),
    ],
)
def test_the_gate_approves_only_a_model_that_is_not_worse(
    candidate, baseline, margin, auto, status, why
):
    decided = decide(_model(), _scores(candidate, baseline), GatePolicy("rouge_l", margin, auto))
    assert decided.status == status and why in decided.reason
    assert (decided.candidate, decided.baseline) == (candidate, baseline)


def test_the_first_model_follows_auto_approve_and_no_evidence_waits():
    first = _model(baseline="")
    assert decide(first, [], GatePolicy("rouge_l", 0, True)).status == "Approved"
    off = decide(first, [], GatePolicy("clinical_f1", 0, False))
    assert off.status == "PendingManualApproval" and "AutoApprove is off" in off.reason
    nothing = decide(_model(), [], GatePolicy("rouge_l", 0, True))
    assert nothing.status == "PendingManualApproval" and "no held-out" in nothing.reason


def test_an_unknown_metric_is_refused():
    with pytest.raises(Exception, match="PromotionMetric 'bleu'"):
        decide(_model(), [], GatePolicy("bleu", 0, True))


# ---- metadata ---------------------------------------------------------------------------------


def test_metadata_is_text_the_api_accepts_or_an_error():
    encoded = registry.encode_metadata(
        {"a": 1, "b": True, "c": None, "d": "", "e": {"y": 2, "x": 1}}
    )
    assert encoded == {"a": "1", "b": "true", "e": "x=1 y=2"}
    with pytest.raises(ValueError, match="only letters"):
        registry.encode_metadata({"h": '{"epochs": "3"}'})  # JSON: quotes, braces, commas
    with pytest.raises(ValueError, match="at most 256"):
        registry.encode_metadata({"h": "x" * 257})


# ---- the registry double ----------------------------------------------------------------------


@pytest.fixture
def double():
    with mock_aws():
        import boto3

        from radimpress_workstation.job_backend.registry import ModelRegistryDouble

        client = boto3.client("sagemaker", region_name="us-east-1")
        client.create_model_package_group(ModelPackageGroupName=GROUP)
        yield ModelRegistryDouble(lambda: client), client


def _create(double, token: str | None = None, **extra) -> str:
    request = {
        "ModelPackageGroupName": GROUP,
        "InferenceSpecification": {
            "Containers": [{"Image": "img", "ModelDataUrl": "s3://b/m.tar.gz"}],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        "ModelApprovalStatus": "PendingManualApproval",
        "CustomerMetadataProperties": {"training_job": "j"},
        **extra,
    }
    if token:
        request["ClientToken"] = token
    return double.create_model_package(**request)["ModelPackageArn"]


class _SlowList:
    """moto's client with a network-like pause in ListModelPackages, so unsynchronized creates
    would interleave between reading the versions and creating the next."""

    def __init__(self, client):
        self._client = client

    def list_model_packages(self, **request):
        time.sleep(0.01)
        return self._client.list_model_packages(**request)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_concurrent_creates_get_distinct_versions(double):
    from radimpress_workstation.job_backend.registry import ModelRegistryDouble

    _, client = double
    slow = _SlowList(client)
    registry_double = ModelRegistryDouble(lambda: slow)
    arns: list[str] = []
    threads = [
        threading.Thread(target=lambda: arns.append(_create(registry_double))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(arns) == 8  # every create answered (a thread that raised appended nothing)
    assert sorted(arns) == sorted({*arns})  # no two creates got the same version
    listed = client.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
    assert sorted(p["ModelPackageVersion"] for p in listed) == list(range(1, 9))


def test_a_repeated_client_token_returns_the_first_version(double):
    registry_double, client = double
    assert _create(registry_double, "job-1") == _create(registry_double, "job-1")
    assert (
        len(client.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]) == 1
    )


def test_an_update_changes_only_what_it_is_given(double):
    """moto alone resets the status and the metadata an update leaves out (shown first)."""
    registry_double, client = double
    raw = _create(registry_double)
    client.update_model_package(ModelPackageArn=raw, ApprovalDescription="why")
    assert "CustomerMetadataProperties" not in client.describe_model_package(ModelPackageName=raw)

    arn = _create(registry_double)
    registry_double.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    registry_double.update_model_package(
        ModelPackageArn=arn, CustomerMetadataProperties={"gate_verdict": "Approved"}
    )
    described = client.describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["CustomerMetadataProperties"] == {
        "training_job": "j",
        "gate_verdict": "Approved",
    }


def test_metadata_the_service_refuses_is_refused(double):
    registry_double, _ = double
    with pytest.raises(ClientError, match="CustomerMetadataProperties"):
        _create(registry_double, CustomerMetadataProperties={"hp": '{"epochs":"3"}'})


def test_status_changes_are_reported_for_eventbridge(double):
    registry_double, _ = double
    seen: list[tuple[str, str]] = []
    registry_double.on_change = lambda p: seen.append(
        (p["ModelPackageArn"], p["ModelApprovalStatus"])
    )
    arn = _create(registry_double)
    registry_double.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    registry_double.update_model_package(ModelPackageArn=arn, ApprovalDescription="again")
    assert seen == [(arn, "PendingManualApproval"), (arn, "Approved")]
