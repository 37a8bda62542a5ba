"""The Lambda side and the Bedrock double together: prompts with few-shot examples, input files,
a batch job, outputs joined back to the records, the manifest and the cost, for every body format.

The two sides were written separately from the Bedrock documentation (radimpress.bedrock in the
Lambda package, radimpress_workstation.job_backend.bedrock for the double): a record whose body,
file layout or output parsing disagrees with the double's reading of the docs fails here.
"""

from __future__ import annotations

import pytest
from handler_support import BUCKET

from radimpress.bedrock.batch_files import (
    MISSING,
    RecordRejection,
    input_line,
    manifest_key,
    output_key,
    read_manifest,
    read_outputs,
    write_input_files,
)
from radimpress.bedrock.costs import Mode, estimate
from radimpress.bedrock.model_input import (
    CONVERSE,
    INVOKE_MODEL,
    Generation,
    body_format,
    model_input,
)
from radimpress.bedrock.prompt import ExampleIndex, build_prompt, examples_from_records
from radimpress_workstation.job_backend.bedrock import LocalBedrock
from radimpress_workstation.job_backend.bedrock.quotas import Quotas

ROLE = "arn:aws:iam::123456789012:role/radimpress-bedrock"
TRAINING = [
    {
        "study_id": "t1",
        "findings": "Heart size normal. Lungs are clear.",
        "impression": "Normal chest.",
    },
    {
        "study_id": "t2",
        "findings": "Right lower lobe opacity. XXXX effusion.",
        "impression": "Pneumonia.",
    },
    {"study_id": "t3", "findings": "Cardiomegaly with edema.", "impression": "Heart failure."},
]
RECORDS = [
    {"study_id": f"{i:04d}", "findings": f"Finding number {i}. Right lower lobe opacity. XXXX."}
    for i in range(8)
] + [{"study_id": "odd id/ü", "findings": "Heart size normal. Lungs are clear."}]


@pytest.mark.parametrize(
    ("model_id", "invocation"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0", INVOKE_MODEL),
        ("us.meta.llama3-1-8b-instruct-v1:0", INVOKE_MODEL),
        ("amazon.nova-micro-v1:0", INVOKE_MODEL),
        ("amazon.titan-text-express-v1", INVOKE_MODEL),
        ("amazon.nova-lite-v1:0", CONVERSE),
    ],
)
def test_a_run_through_the_batch_double_joins_back_to_every_record(s3, model_id, invocation):
    fmt = body_format(model_id, invocation)
    index = ExampleIndex(examples_from_records(TRAINING))
    generation = Generation(max_tokens=100, temperature=0.5)
    lines = []
    for record in RECORDS:
        examples = index.nearest(record["findings"], k=2, exclude_study_id=record["study_id"])
        body = model_input(fmt, build_prompt(record["findings"], examples), generation)
        lines.append(input_line(record["study_id"], body))
    lines.append(input_line("broken", {"messages": "not a list"}))  # answered with an error line
    files = write_input_files(s3, BUCKET, "runs/r1/bedrock/input", lines)

    bedrock = LocalBedrock(lambda: s3, quotas=Quotas(min_records_per_job=5))
    output_prefix = "runs/r1/bedrock/output"
    arn = bedrock.create_model_invocation_job(
        jobName="radimpress-r1-bedrock",
        roleArn=ROLE,
        modelId=model_id,
        modelInvocationType=invocation,
        inputDataConfig={"s3InputDataConfig": {"s3Uri": f"s3://{BUCKET}/runs/r1/bedrock/input/"}},
        outputDataConfig={"s3OutputDataConfig": {"s3Uri": f"s3://{BUCKET}/{output_prefix}/"}},
    )["jobArn"]
    bedrock.wait(30)
    bedrock.shutdown()
    assert bedrock.get_model_invocation_job(jobIdentifier=arn)["status"] == "Completed"

    keys = [output_key(output_prefix, arn, key) for key in files.keys]
    outputs = read_outputs(s3, BUCKET, keys, fmt)
    for record in RECORDS:
        answer = outputs.take(record["study_id"])
        assert not isinstance(answer, RecordRejection), answer
        # The stand-in answers with the first sentence of the findings, in their convention.
        assert answer.text == record["findings"].split(". ")[0] + "."
    broken = outputs.take("broken")
    assert isinstance(broken, RecordRejection) and broken.code == "bedrock:400"
    assert outputs.take("never-sent").code == MISSING  # type: ignore[union-attr]
    assert outputs.leftover() == 0

    manifest = read_manifest(s3, BUCKET, manifest_key(output_prefix, arn))
    assert manifest is not None
    assert (manifest.total_records, manifest.success_records, manifest.error_records) == (10, 9, 1)
    cost = estimate(
        model_id,
        Mode.BATCH,
        reports=len(RECORDS),
        input_tokens=manifest.input_tokens,
        output_tokens=manifest.output_tokens,
    )
    assert cost.usd > 0 and cost.usd_per_1000_reports == pytest.approx(
        cost.usd / len(RECORDS) * 1000
    )
