"""What StartTransform did for a Bedrock model, written beside its input for Score to read back.

StartTransform either starts one batch inference job (``mode`` batch) or, below the account's
minimum records per job, calls the model once per record (``mode`` on-demand) and writes the
answers in the batch output's own format (``<output prefix>/per-record/<input name>.out`` and
``manifest.json.out``), so Score has one reader for both. The record names the input files, the
job, the model and how it was asked; ids, keys and counts only, never report text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from radimpress.bedrock import batch_files
from radimpress.bedrock.costs import Mode
from radimpress.bedrock.model_input import BodyFormat
from radimpress.errors import OutputMismatch
from radimpress.storage import put_json, read_json

RECORD_NAME = "bedrock-run.json"
# The folder under the output prefix that per-record answers go to (a batch job's is its id).
PER_RECORD = "per-record"


@dataclass(frozen=True)
class BedrockRun:
    """One Bedrock model's part of a run: how it was asked and where the answers are."""

    mode: str  # Mode.BATCH or Mode.ON_DEMAND
    model_id: str
    invocation_type: str
    body_format: str
    job_name: str
    output_prefix: str
    input_keys: list[str] = field(default_factory=list)
    records: int = 0
    examples: int = 0  # few-shot examples per prompt asked for (0: none available)
    examples_source: str = ""  # the records file the examples came from
    job_arn: str = ""  # batch mode only
    retries: int = 0  # per-record mode: calls tried again after throttling

    def __post_init__(self) -> None:
        Mode(self.mode)  # ValueError for anything else

    @property
    def folder(self) -> str:
        """The output folder: ``<output prefix>/<job id>`` (batch) or ``.../per-record``."""
        return self.job_arn or PER_RECORD

    @property
    def output_format(self) -> BodyFormat:
        """The body format of the output lines: the model's for a batch job; per-record answers
        are written as Converse bodies (``steps.start_bedrock``)."""
        if self.mode == Mode.ON_DEMAND:
            return BodyFormat.CONVERSE
        return BodyFormat(self.body_format)

    def output_keys(self) -> list[str]:
        return [batch_files.output_key(self.output_prefix, self.folder, k) for k in self.input_keys]

    def manifest_key(self) -> str:
        return batch_files.manifest_key(self.output_prefix, self.folder)


def write_run(s3: Any, bucket: str, key: str, run: BedrockRun) -> None:
    put_json(s3, bucket, key, asdict(run))


def read_run(s3: Any, bucket: str, key: str) -> BedrockRun:
    found = read_json(s3, bucket, key)
    if found is None:
        raise OutputMismatch(f"s3://{bucket}/{key}: no Bedrock run record (StartTransform's)")
    value, _ = found
    try:
        return BedrockRun(**value)
    except (TypeError, ValueError) as err:
        raise OutputMismatch(f"s3://{bucket}/{key}: not a Bedrock run record ({err})") from None
