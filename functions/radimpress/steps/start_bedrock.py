"""StartTransform for a Bedrock model: write the batch input, then start a batch inference job,
or (below the account's minimum records per job) call the model once per record.

The input (``batch_files``): one line ``{"recordId", "modelInput"}`` per record, modelInput the
model family's request body (``model_input``) for the prompt ``prompt.build_prompt`` writes: the
instruction, the k training pairs whose findings read most like the report's, then the findings,
all in the report's own placeholder convention. The examples come from the training records of
the fine-tuned model the run compares (``ModelRef.examples_key``); without them the prompt has
none. CreateModelInvocationJob ("Run batch inference", Bedrock user guide) gets the input prefix,
the output prefix (written with the data key), the service role and an idempotency token derived
from the job name, so a retried step gets the job it already started back. Per-record answers
are written in the batch output's format (``run_record``), so Score reads both the same way.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from radimpress import jumpstart
from radimpress.bedrock import batch_files, fallback, prompt
from radimpress.bedrock.costs import Mode
from radimpress.bedrock.model_input import Generation, body_format, model_input
from radimpress.bedrock.run_record import PER_RECORD, RECORD_NAME, BedrockRun, write_run
from radimpress.errors import RadimpressError, aws_call, error_code
from radimpress.events import ModelRef, TransformStarted
from radimpress.layout import RunKeys
from radimpress.settings import Settings
from radimpress.storage import S3LineWriter, iter_jsonl, put_json

# Per-record calls stop being started after this long (the Lambda's timeout is 900 s): the rest
# are rejected as not attempted, and the run still publishes what was answered.
FALLBACK_SECONDS = 600


def run_record_key(run_id: str, model_key: str) -> str:
    return f"{RunKeys(run_id).prefix}/transform/{model_key}/{RECORD_NAME}"


def input_prefix(run_id: str, model_key: str) -> str:
    return f"{RunKeys(run_id).prefix}/transform/{model_key}/input/"


def output_prefix(run_id: str, model_key: str) -> str:
    return f"{RunKeys(run_id).prefix}/transform/{model_key}/output/"


def load_examples(s3: Any, bucket: str, key: str) -> list[prompt.Example]:
    """The training pairs of ``key``; none when there is no key or it is gone (``runs/``
    expires; without s3:ListBucket a missing key reads as AccessDenied)."""
    if not key:
        return []
    try:
        return prompt.examples_from_records(record for _, record in iter_jsonl(s3, bucket, key))
    except ClientError as err:
        if error_code(err) in ("NoSuchKey", "404", "AccessDenied"):
            return []
        raise


def _input_lines(
    s3: Any,
    bucket: str,
    records_key: str,
    index: prompt.ExampleIndex,
    settings: Settings,
    fmt: Any,
) -> Iterator[dict[str, Any]]:
    generation = Generation(settings.bedrock_max_tokens, settings.bedrock_temperature)
    for _, record in iter_jsonl(s3, bucket, records_key):
        study_id, findings = str(record["study_id"]), record["findings"]
        shots = index.nearest(findings, settings.bedrock_examples, exclude_study_id=study_id)
        body = model_input(fmt, prompt.build_prompt(findings, shots), generation)
        yield batch_files.input_line(study_id, body)


def start_bedrock(
    bedrock: Any,
    runtime: Any,
    s3: Any,
    bucket: str,
    settings: Settings,
    *,
    run_id: str,
    records_key: str,
    model: ModelRef,
    now: Any = time.monotonic,
    backoff: fallback.Backoff | None = None,
) -> TransformStarted:
    """Write the input; start the batch job, or answer each record when there are too few."""
    if not settings.bedrock_role_arn:
        raise RadimpressError("RADIMPRESS_BEDROCK_ROLE_ARN is not set (the Bedrock service role)")
    model_id = model.model_name
    fmt = body_format(model_id, settings.bedrock_invocation_type)
    examples = load_examples(s3, bucket, model.examples_key) if settings.bedrock_examples else []
    index = prompt.ExampleIndex(examples)
    lines = _input_lines(s3, bucket, records_key, index, settings, fmt)
    written = batch_files.write_input_files(
        s3, bucket, input_prefix(run_id, model.model_key), lines
    )
    job_name = jumpstart.resource_name(settings.resource_prefix, "br", run_id, model.model_key)
    run = BedrockRun(
        mode=Mode.BATCH,
        model_id=model_id,
        invocation_type=settings.bedrock_invocation_type,
        body_format=fmt.value,
        job_name=job_name,
        output_prefix=output_prefix(run_id, model.model_key).rstrip("/"),
        input_keys=written.keys,
        records=written.records,
        examples=settings.bedrock_examples if examples else 0,
        examples_source=model.examples_key if examples else "",
    )
    if written.records >= settings.bedrock_min_records:
        run = _start_job(bedrock, bucket, settings, run, run_id, model.model_key)
        kind, name = "bedrock", run.job_arn
    else:
        deadline = now() + FALLBACK_SECONDS

        def out_of_time() -> bool:
            return bool(now() > deadline)

        run = _answer_each(runtime, s3, bucket, settings, run, out_of_time, backoff)
        kind, name = "bedrock-calls", job_name
    write_run(s3, bucket, run_record_key(run_id, model.model_key), run)
    return TransformStarted(
        kind=kind,
        job_name=name,
        started_epoch=int(time.time()),
        output_key=run_record_key(run_id, model.model_key),
        lines=written.records,
    )


def _start_job(
    bedrock: Any, bucket: str, settings: Settings, run: BedrockRun, run_id: str, model_key: str
) -> BedrockRun:
    token = hashlib.sha256(run.job_name.encode()).hexdigest()[:32]
    output: dict[str, Any] = {"s3Uri": f"s3://{bucket}/{run.output_prefix}/"}
    if settings.kms_key_arn:
        output["s3EncryptionKeyId"] = settings.kms_key_arn
    with aws_call(f"Bedrock batch job {run.job_name}: create"):
        response = bedrock.create_model_invocation_job(
            jobName=run.job_name,
            roleArn=settings.bedrock_role_arn,
            clientRequestToken=token,
            modelId=run.model_id,
            modelInvocationType=run.invocation_type,
            inputDataConfig={
                "s3InputDataConfig": {
                    "s3Uri": f"s3://{bucket}/{input_prefix(run_id, model_key)}",
                    "s3InputFormat": "JSONL",
                }
            },
            outputDataConfig={"s3OutputDataConfig": output},
        )
    return BedrockRun(**{**run.__dict__, "job_arn": response["jobArn"]})


def _answer_each(
    runtime: Any,
    s3: Any,
    bucket: str,
    settings: Settings,
    run: BedrockRun,
    should_stop: Any,
    backoff: fallback.Backoff | None,
) -> BedrockRun:
    """Per-record calls; answers and errors written as a batch job's output would be."""
    fmt = body_format(run.model_id, run.invocation_type)

    def requests() -> Iterator[tuple[str, dict[str, Any]]]:
        for key in run.input_keys:
            for _, line in iter_jsonl(s3, bucket, key):
                yield batch_files.study_id_of(line["recordId"]), line["modelInput"]

    result = fallback.invoke_each(
        runtime,
        run.model_id,
        fmt,
        requests(),
        max_workers=settings.bedrock_concurrency,
        should_stop=should_stop,
        backoff=backoff,
    )
    errors = {r.study_id: r for r in result.rejections}
    for input_key, out_key in zip(run.input_keys, _per_record_keys(run), strict=True):
        with S3LineWriter(s3, bucket, out_key) as out:
            for _, line in iter_jsonl(s3, bucket, input_key):
                study = batch_files.study_id_of(line["recordId"])
                if study in result.answers:
                    answer = result.answers[study]
                    out.write_json({"recordId": line["recordId"], "modelOutput": _body(answer)})
                else:
                    code = errors[study].code.removeprefix("bedrock:")
                    message = errors[study].reason
                    out.write_json(
                        {
                            "recordId": line["recordId"],
                            "error": {"errorCode": code, "errorMessage": message},
                        }
                    )
    manifest = {
        "totalRecordCount": run.records,
        "processedRecordCount": len(result.answers) + len(result.rejections),
        "successRecordCount": len(result.answers),
        "errorRecordCount": len(result.rejections),
        "inputTokenCount": result.input_tokens,
        "outputTokenCount": result.output_tokens,
    }
    put_json(s3, bucket, batch_files.manifest_key(run.output_prefix, PER_RECORD), manifest)
    return BedrockRun(**{**run.__dict__, "mode": Mode.ON_DEMAND, "retries": result.retries})


def _per_record_keys(run: BedrockRun) -> list[str]:
    return [batch_files.output_key(run.output_prefix, PER_RECORD, k) for k in run.input_keys]


def _body(answer: Any) -> dict[str, Any]:
    """A Converse-shaped body holding an answer already read: per-record output is written in
    one format whatever the model's (``BedrockRun.output_format``)."""
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": answer.text}]}},
        "stopReason": answer.stop_reason,
        "usage": {"inputTokens": answer.input_tokens, "outputTokens": answer.output_tokens},
    }
