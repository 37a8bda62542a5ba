"""Score for a Bedrock model: its answers joined to the records by recordId, scored like any
model's, and its cost from the job's token counts.

What StartTransform did is in its run record (``run_record``): the input files, and so the
``<name>.jsonl.out`` files Bedrock wrote for them, and ``manifest.json.out``. Output order is not
the input's ("View the results of a batch inference job", Bedrock user guide): the outputs are
read into a map by recordId (``batch_files.read_outputs``; generated text only, never the
records), then the records are streamed and each takes its answer. A record Bedrock answered with
an ``error`` line, gave no line for, or answered without text gets no score row: it is written to
``scores/<model>.rejected.jsonl`` with its code (``bedrock:<errorCode>``, ``bedrock:missing``,
``bedrock:malformed-output``) and counted, never raised and never quoting text.

Cost (``costs``): the manifest's inputTokenCount and outputTokenCount at the model's batch price
(on-demand for per-record calls), per run and per 1,000 reports answered, with the price table's
date and source; a model without a known price is reported unpriced.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from radimpress.bedrock import batch_files, costs
from radimpress.bedrock.batch_files import Manifest, RecordRejection
from radimpress.bedrock.run_record import BedrockRun, read_run
from radimpress.events import ModelRef, ScoreResult
from radimpress.layout import RunKeys
from radimpress.steps.score import write_scores
from radimpress.storage import S3LineWriter, iter_jsonl


def rejected_key(run_id: str, model_key: str) -> str:
    return f"{RunKeys(run_id).prefix}/scores/{model_key}.rejected.jsonl"


def cost_of(run: BedrockRun, manifest: Manifest | None, answered: int) -> dict[str, Any]:
    """The run's cost estimate as plain JSON (``usd`` None when unpriced or no manifest)."""
    mode = costs.Mode(run.mode)
    base: dict[str, Any] = {
        "model_id": run.model_id,
        "mode": mode.value,
        "reports": answered,
        "input_tokens": manifest.input_tokens if manifest else None,
        "output_tokens": manifest.output_tokens if manifest else None,
        "usd": None,
        "usd_per_1000_reports": None,
        "prices_as_of": costs.PRICES_AS_OF,
        "prices_source": costs.PRICES_SOURCE,
    }
    if manifest is None:
        return {**base, "note": "no manifest.json.out: token counts unknown"}
    try:
        estimate = costs.estimate(
            run.model_id,
            mode,
            reports=answered,
            input_tokens=manifest.input_tokens,
            output_tokens=manifest.output_tokens,
        )
    except costs.UnknownPrice:
        return {**base, "note": "no price known for this model (see radimpress.bedrock.costs)"}
    found = asdict(estimate)
    found["mode"] = mode.value
    found["usd"] = round(estimate.usd, 6)
    if estimate.usd_per_1000_reports is not None:
        found["usd_per_1000_reports"] = round(estimate.usd_per_1000_reports, 6)
    return found


def score_bedrock(
    s3: Any,
    bucket: str,
    *,
    run_id: str,
    dataset: str,
    records_key: str,
    output_key: str,
    model: ModelRef,
    job_usage: dict[str, Any] | None = None,
) -> ScoreResult:
    """Score rows for the answered records, rejections for the others, the run's cost."""
    run = read_run(s3, bucket, output_key)
    outputs = batch_files.read_outputs(s3, bucket, run.output_keys(), run.output_format)
    manifest = batch_files.read_manifest(s3, bucket, run.manifest_key())
    rejections: list[RecordRejection] = []

    def pairs() -> Iterator[tuple[dict[str, Any], str]]:
        for _, record in iter_jsonl(s3, bucket, records_key):
            taken = outputs.take(str(record["study_id"]))
            if isinstance(taken, RecordRejection):
                rejections.append(taken)
            else:
                yield record, taken.text

    result = write_scores(s3, bucket, pairs(), run_id=run_id, dataset=dataset, model=model)
    key = _write_rejections(s3, bucket, run_id, model, rejections) if rejections else ""
    usage = {
        **(job_usage or {"kind": "bedrock", "name": run.job_name, "model_name": run.model_id}),
        "mode": run.mode,
        "records": run.records,
        "examples": run.examples,
        "retries": run.retries,
        "rejected": len(rejections),
        "unmatched_output_lines": outputs.leftover() + outputs.unreadable_lines,
        "bedrock": cost_of(run, manifest, result.generated),
    }
    return result.model_copy(
        update={"job_usage": usage, "rejected": len(rejections), "rejected_key": key}
    )


def _write_rejections(
    s3: Any, bucket: str, run_id: str, model: ModelRef, rejections: list[RecordRejection]
) -> str:
    key = rejected_key(run_id, model.model_key)
    with S3LineWriter(s3, bucket, key) as out:
        for rejection in rejections:
            out.write_json(
                {
                    "study_id": rejection.study_id,
                    "model": model.label,
                    "code": rejection.code,
                    "reason": rejection.reason,
                }
            )
    return key
