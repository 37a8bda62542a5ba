"""The typed inputs and results of each Lambda, as the state machine passes them.

Ids, keys and counts only: nothing here may carry report text (execution history, 256 KiB limit).
Each step returns its result model; the handler returns ``model_dump()`` of it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class IngestEvent(_Event):
    bucket: str
    key: str
    run_id: str
    started_at: str = ""
    # The S3 object version the event names (EventBridge detail.object.version-id): the run
    # reads exactly this version and claims it, so a repeated delivery is a no-op.
    version_id: str | None = ""


class StartTrainingEvent(_Event):
    bucket: str
    run_id: str
    dataset: str
    records: int = Field(ge=1)
    # The execution's wait bound: the job may not outlive the loop that watches it.
    max_wait_seconds: int | None = Field(default=None, ge=1)


class JobStatusEvent(_Event):
    # "bedrock": a Bedrock batch inference job (job_name is its ARN); "bedrock-calls": the
    # per-record calls StartTransform already made (nothing left to poll).
    kind: Literal["training", "transform", "bedrock", "bedrock-calls"]
    job_name: str
    started_epoch: int
    max_wait_seconds: int = Field(ge=1)


class RegisterModelEvent(_Event):
    bucket: str
    run_id: str
    dataset: str
    job_name: str
    train_records: int = 0
    holdout_key: str = ""
    max_wait_seconds: int = Field(default=6 * 3600, ge=1)


class ResolveModelsEvent(_Event):
    bucket: str
    run_id: str
    records_key: str = ""
    has_references: bool = False
    max_wait_seconds: int | None = Field(default=None, ge=1)
    # The execution's poll interval: with it, the wait bound is lowered to what the models'
    # poll loops fit in (radimpress.history_budget).
    poll_seconds: int | None = Field(default=None, ge=1)


class ModelRef(_Event):
    """One model of an inference run. ``model_name`` is the SageMaker model; ``name`` is what the
    results call the model (restate, lead, a JumpStart id). The identity fields default to empty
    so inputs written before they existed still parse."""

    model_key: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,40}$")
    label: str
    model_name: str
    role: Literal["", "pre-trained", "fine-tuned", "candidate", "bedrock"] = ""
    name: str = ""
    version: str = ""
    training_job: str = ""
    training_run_id: str = ""
    # The model package version a fine-tuned model stands for ("" / 0: none, e.g. pre-trained).
    package_arn: str = ""
    package_version: int = 0
    # A Bedrock model's few-shot examples: the training records they come from ("" = none).
    examples_key: str = ""


class StartTransformEvent(_Event):
    bucket: str
    run_id: str
    records_key: str
    model: ModelRef


class ScoreEvent(_Event):
    bucket: str
    run_id: str
    dataset: str
    records_key: str
    output_key: str
    model: ModelRef
    # The transform job's usage (JobStatusResult.usage), handed back for Publish's lineage.
    job_usage: dict[str, Any] | None = None


class IngestResult(_Event):
    """``route="duplicate"``: this object version was already claimed by run ``duplicate_of``;
    nothing was read or written and the execution ends in the Duplicate state."""

    route: Literal["train", "infer", "duplicate"]
    run_id: str
    dataset: str
    source_key: str
    started_at: str = ""
    records_key: str = ""
    rejected_key: str = ""
    records: int = 0
    rejected: int = 0
    has_references: bool = False
    format: str = ""
    version_id: str = ""
    claim_key: str = ""
    duplicate_of: str = ""
    # Run lineage: the SHA-256 and size of the uploaded object's bytes as Ingest read them.
    input_sha256: str = ""
    input_bytes: int = 0
    # A training run's held-out studies for the promotion gate ("" / 0: none were held out).
    holdout_key: str = ""
    holdout_records: int = 0
    train_records: int = 0


class JobStarted(_Event):
    """A training or transform job (or Bedrock batch job) the JobStatus loop polls."""

    kind: Literal["training", "transform", "bedrock", "bedrock-calls"]
    job_name: str
    started_epoch: int


class TransformStarted(JobStarted):
    output_key: str
    lines: int


class JobStatusResult(_Event):
    status: Literal["InProgress", "Completed"]
    elapsed_seconds: int
    # A finished job's instances, start, end and seconds (radimpress.lineage.job_usage of its
    # Describe* answer): what the run lineage reports and prices. None while it runs.
    usage: dict[str, Any] | None = None


class ModelsToCompare(_Event):
    """What the Map summarizes: these models on these records (an inference run's records, or
    the studies a training run held out for the promotion gate)."""

    models: list[ModelRef]
    records_key: str = ""
    has_references: bool = False
    max_wait_seconds: int | None = Field(default=None, ge=1)  # each transform's wait bound


class ScoreResult(_Event):
    """One Map iteration's result: the model's score rows, or (``failed``) why it failed."""

    model_key: str
    label: str = ""
    score_key: str = ""
    scored: int = 0
    generated: int = 0
    failed: bool = False
    error: str = ""
    cause: str = ""
    job_usage: dict[str, Any] | None = None  # the transform job's (ScoreEvent.job_usage)
    # Records the model gave no usable answer for (a Bedrock ``error`` line, a missing output),
    # listed with their codes under ``rejected_key``; they have no score row.
    rejected: int = 0
    rejected_key: str = ""
    rouge_l_mean: float | None = None
    clinical_f1_mean: float | None = None


class RegisteredModel(_Event):
    """A fine-tune registered as package version ``package_version`` (pending approval);
    ``gate``: what the promotion gate compares on the held-out studies (None: nothing held out)."""

    model_name: str
    model_data_url: str
    trained_at: str = ""
    package_arn: str = ""
    package_version: int = 0
    baseline_package_arn: str = ""
    candidate: ModelRef | None = None
    gate: ModelsToCompare | None = None


class EndpointDeployment(_Event):
    """What the endpoint deployment did (``action``: created, updated, unchanged, none)."""

    endpoint: str
    action: Literal["created", "updated", "unchanged", "none"]
    reason: str = ""
    endpoint_config: str = ""
    package_arn: str = ""
    package_version: int = 0
    previous_config: str = ""
    deleted_configs: list[str] = []


class PromoteEvent(_Event):
    bucket: str
    run_id: str
    model: RegisteredModel
    scores: list[ScoreResult] = []


class Promotion(_Event):
    """The gate's decision on one package version, with the figures it was taken on."""

    package_arn: str
    package_version: int
    status: Literal["Approved", "PendingManualApproval", "Rejected"]
    reason: str
    metric: str = ""
    margin: float = 0.0
    candidate: float | None = None
    baseline: float | None = None
    baseline_package_arn: str = ""


class PipelineState(_Event):
    bucket: str
    key: str
    ingest: IngestResult
    scores: list[ScoreResult] = []
    model: RegisteredModel | None = None
    promotion: Promotion | None = None
    job_status: JobStatusResult | None = None  # a training run's last check: its job's usage


class PublishEvent(_Event):
    execution: str
    state: PipelineState


class CaughtError(_Event):
    Error: str = "States.Unknown"
    Cause: str = ""
    models: list[ScoreResult] = []  # ModelsFailed: every model's result, failed ones included


class RecordFailureEvent(_Event):
    bucket: str
    key: str = ""
    version_id: str | None = ""
    execution: str
    error: CaughtError = CaughtError()
    # $$.State.RetryCount and the state's Retry MaxAttempts: the last attempt notifies even
    # when S3 refuses the failure record. Without them every call counts as the last attempt.
    retry_count: int = 0
    max_retries: int = 0


class FailedModel(_Event):
    model_key: str
    error: str


class PublishResult(_Event):
    summary_key: str | None = None
    notified: bool
    published: int = 0  # models whose results were published
    failed: int
    failed_models: list[FailedModel] = []


class FailureRecorded(_Event):
    failure_key: str
    notified: bool
    failure_written: bool = True
    claim_released: bool = False
