"""Run-time settings of the functions, read from the environment the template gives them.

One place that names every ``RADIMPRESS_*`` variable, so handlers, the embedded runtime and the
template cannot disagree on spelling. Values are read on each call (the local runtime changes the
environment between invocations).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from radimpress.errors import SpecError

OFFLINE_SPEC_VARIABLE = "RADIMPRESS_OFFLINE_SPEC_ALLOWED"


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SpecError(f"environment variable {name} must be a number, got {raw!r}") from None


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SpecError(f"environment variable {name} must be an integer, got {raw!r}") from None


@dataclass(frozen=True)
class Settings:
    bucket: str
    resource_prefix: str
    region: str
    role_arn: str
    kms_key_arn: str
    topic_arn: str
    training_instance_type: str
    transform_instance_type: str
    epochs: int
    max_length: int
    num_beams: int
    # The promotion gate (steps/promote.py): the share of a training upload held out to judge
    # the new model by, the metric and the margin it may lose by, and whether it may approve.
    holdout_percent: int = 10
    promotion_metric: str = "rouge_l"
    promotion_margin: float = 0.0
    auto_approve: bool = True
    # Only the embedded stack sets this: its JumpStart container double plays the containers the
    # offline fixture describes. On AWS a spec resolved offline is refused (see start_training).
    offline_spec_allowed: bool = False
    # A hosted LLM beside the SageMaker models (Amazon Bedrock; "" = off): its model id or
    # inference profile, the invocation type (its family's InvokeModel body, or Converse),
    # generation, few-shot examples, the service role its batch jobs run as, the account's
    # minimum records per batch job (below it: per-record calls) and the per-record concurrency.
    bedrock_model_id: str = ""
    bedrock_invocation_type: str = "InvokeModel"
    bedrock_max_tokens: int = 256
    bedrock_temperature: float = 0.0
    bedrock_examples: int = 3
    bedrock_role_arn: str = ""
    bedrock_min_records: int = 100
    bedrock_concurrency: int = 4

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ.get
        return cls(
            bucket=env("RADIMPRESS_BUCKET", ""),
            resource_prefix=env("RADIMPRESS_RESOURCE_PREFIX", "radimpress"),
            region=env("AWS_REGION") or env("AWS_DEFAULT_REGION") or "us-east-1",
            role_arn=env("RADIMPRESS_SAGEMAKER_ROLE_ARN", ""),
            kms_key_arn=env("RADIMPRESS_KMS_KEY_ARN", ""),
            topic_arn=env("RADIMPRESS_TOPIC_ARN", ""),
            training_instance_type=env("RADIMPRESS_TRAINING_INSTANCE_TYPE", ""),
            transform_instance_type=env("RADIMPRESS_TRANSFORM_INSTANCE_TYPE", ""),
            epochs=_int("RADIMPRESS_EPOCHS", 3),
            max_length=_int("RADIMPRESS_MAX_LENGTH", 128),
            num_beams=_int("RADIMPRESS_NUM_BEAMS", 1),
            holdout_percent=_int("RADIMPRESS_PROMOTION_HOLDOUT_PERCENT", 10),
            promotion_metric=env("RADIMPRESS_PROMOTION_METRIC", "rouge_l"),
            promotion_margin=_float("RADIMPRESS_PROMOTION_MARGIN", 0.0),
            auto_approve=env("RADIMPRESS_AUTO_APPROVE", "true").lower() == "true",
            offline_spec_allowed=env(OFFLINE_SPEC_VARIABLE, "") == "true",
            bedrock_model_id=env("RADIMPRESS_BEDROCK_MODEL_ID", ""),
            bedrock_invocation_type=env("RADIMPRESS_BEDROCK_INVOCATION_TYPE", "") or "InvokeModel",
            bedrock_max_tokens=_int("RADIMPRESS_BEDROCK_MAX_TOKENS", 256),
            bedrock_temperature=_float("RADIMPRESS_BEDROCK_TEMPERATURE", 0.0),
            bedrock_examples=_int("RADIMPRESS_BEDROCK_EXAMPLES", 3),
            bedrock_role_arn=env("RADIMPRESS_BEDROCK_ROLE_ARN", ""),
            bedrock_min_records=_int("RADIMPRESS_BEDROCK_MIN_RECORDS", 100),
            bedrock_concurrency=_int("RADIMPRESS_BEDROCK_CONCURRENCY", 4),
        )

    def require_role(self) -> str:
        if not self.role_arn:
            raise SpecError("RADIMPRESS_SAGEMAKER_ROLE_ARN is not set (the SageMaker role)")
        return self.role_arn
