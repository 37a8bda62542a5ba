"""The typed inputs and results of each Lambda, as the state machine passes them.

Ids, keys and counts only: nothing here may carry report text (execution history, 256 KiB limit).
Each step returns its result model; the handler returns ``model_dump()`` of it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class IngestEvent(_Event):
    bucket: str
    key: str
    run_id: str
    started_at: str = ""


class StartTrainingEvent(_Event):
    bucket: str
    run_id: str
    dataset: str
    records: int = Field(ge=1)
    # The execution's wait bound: the job may not outlive the loop that watches it.
    max_wait_seconds: int | None = Field(default=None, ge=1)


class JobStatusEvent(_Event):
    kind: Literal["training", "transform"]
    job_name: str
    started_epoch: int
    max_wait_seconds: int = Field(ge=1)


class RegisterModelEvent(_Event):
    bucket: str
    run_id: str
    dataset: str
    job_name: str


class ResolveModelsEvent(_Event):
    bucket: str
    run_id: str


class ModelRef(_Event):
    """One model of an inference run. ``model_name`` is the SageMaker model; ``name`` is what the
    results call the model (restate, lead, a JumpStart id). The identity fields default to empty
    so inputs written before they existed still parse."""

    model_key: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,40}$")
    label: str
    model_name: str
    role: Literal["", "pre-trained", "fine-tuned", "candidate"] = ""
    name: str = ""
    version: str = ""
    training_job: str = ""
    training_run_id: str = ""


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


class IngestResult(_Event):
    route: Literal["train", "infer"]
    run_id: str
    dataset: str
    source_key: str
    started_at: str = ""
    records_key: str
    rejected_key: str
    records: int
    rejected: int
    has_references: bool
    format: str = ""


class JobStarted(_Event):
    """A training or transform job the JobStatus loop polls."""

    kind: Literal["training", "transform"]
    job_name: str
    started_epoch: int


class TransformStarted(JobStarted):
    output_key: str
    lines: int


class JobStatusResult(_Event):
    status: Literal["InProgress", "Completed"]
    elapsed_seconds: int


class ModelsToCompare(_Event):
    models: list[ModelRef]


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


class RegisteredModel(_Event):
    model_name: str
    model_data_url: str
    pointer_key: str


class PipelineState(_Event):
    bucket: str
    key: str
    ingest: IngestResult
    scores: list[ScoreResult] = []
    model: RegisteredModel | None = None


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
    execution: str
    error: CaughtError = CaughtError()


class FailedModel(_Event):
    model_key: str
    error: str


class PublishResult(_Event):
    summary_key: str | None = None
    notified: bool
    failed: int
    failed_models: list[FailedModel] = []


class FailureRecorded(_Event):
    failure_key: str
    notified: bool
