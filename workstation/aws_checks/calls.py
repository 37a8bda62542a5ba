"""The AWS calls each Lambda function of template.yaml makes, as plain data.

``FUNCTION_CALLS`` maps a function's logical id to the (action, resource) pairs its code needs
(read from functions/radimpress/steps/ and the modules they call; the function's ``Policies`` in
template.yaml must allow every pair). ``radimpress preflight`` asks IAM to simulate each pair
against the deployed function's role, and checks offline that the template's policies allow it,
so a policy that forgets a call fails before an upload does.

Resources are example ARNs in the shape the code uses (run id ``preflight``, job and model names
``<stack>-<kind>-<20 hex>`` as ``radimpress.jumpstart.resource_name`` builds them), with these
placeholders: ``{bucket}`` (the data bucket's name), ``{key_arn}`` (the data key's ARN),
``{topic_arn}`` (the run-outcome topic), ``{role_arn}`` (the SageMaker execution role the
functions pass), ``{region}``, ``{account}``, ``{stack}``. Only the ``aws`` partition is written.

Bedrock (BedrockModelId set): job creation, polling and stopping, the batch input and output
are listed; ``iam:PassRole`` of BedrockBatchRole (context ``iam:PassedToService`` =
bedrock.amazonaws.com, where ``CALL_CONTEXT`` holds one context per action) and
``bedrock:InvokeModel`` on the deployed model id are not simulated yet: the embedded stack's
policy evaluation checks both (tests/integration/test_bedrock_comparison.py).

Not listed: CloudWatch Logs and X-Ray writes (SAM attaches its managed policies for those), and
s3:ListBucket (no function lists; without it a missing key reads as AccessDenied, which the code
treats as missing).
"""

from __future__ import annotations

# A SageMaker name as the functions build it: <stack>-<kind>-<20 hex digits>.
_HEX = "0123456789abcdef0123"
_TRAINING_JOB = f"arn:aws:sagemaker:{{region}}:{{account}}:training-job/{{stack}}-ft-{_HEX}"
_TRANSFORM_JOB = f"arn:aws:sagemaker:{{region}}:{{account}}:transform-job/{{stack}}-tf-{_HEX}"
_PRETRAINED_MODEL = f"arn:aws:sagemaker:{{region}}:{{account}}:model/{{stack}}-pt-{_HEX}"
_FINE_TUNED_MODEL = f"arn:aws:sagemaker:{{region}}:{{account}}:model/{{stack}}-ft-{_HEX}"
_PACKAGE = "arn:aws:sagemaker:{region}:{account}:model-package/{stack}-fine-tuned/1"
_ENDPOINT = "arn:aws:sagemaker:{region}:{account}:endpoint/{stack}-endpoint"
_ENDPOINT_CONFIG = "arn:aws:sagemaker:{region}:{account}:endpoint-config/{stack}-ep-v1-0123abcd"

# Bedrock names its batch jobs (an id of 12 letters and digits), so the grant is on every job.
_BEDROCK_JOB = "arn:aws:bedrock:{region}:{account}:model-invocation-job/abcdefgh1234"

_OBJECT = "arn:aws:s3:::{bucket}/"
_UPLOAD = _OBJECT + "incoming/train/preflight/reports.json"
_CLAIM = _OBJECT + "claims/preflight.json"
_RECORDS = _OBJECT + "runs/preflight/ingest/records.jsonl"
_REJECTED = _OBJECT + "runs/preflight/ingest/rejected.jsonl"
_TRAIN_CHANNEL = _OBJECT + "runs/preflight/train/data/train.jsonl"
_TRANSFORM_INPUT = _OBJECT + "runs/preflight/transform/pre-trained/input.jsonl"
_TRANSFORM_OUTPUT = _OBJECT + "runs/preflight/transform/pre-trained/output/input.jsonl.out"
_SCORES = _OBJECT + "runs/preflight/scores/pre-trained.jsonl"
_BEDROCK_INPUT = _OBJECT + "runs/preflight/transform/bedrock/input/part-00001.jsonl"
_BEDROCK_OUTPUT = (
    _OBJECT + "runs/preflight/transform/bedrock/output/abcdefgh1234/part-00001.jsonl.out"
)
_BEDROCK_RUN = _OBJECT + "runs/preflight/transform/bedrock/bedrock-run.json"
_FAILURE = _OBJECT + "runs/preflight/failure.json"
_ARCHIVE = _OBJECT + "models/{stack}-ft-" + _HEX + "/output/model.tar.gz"
_RESULTS = _OBJECT + "results/scores/run_date=2026-01-01/preflight.parquet"
_REPORT = _OBJECT + "results/reports/preflight/report.html"
_STAGED = _OBJECT + "results/staging/preflight/scores.parquet"

_USE_KEY = [("kms:Decrypt", "{key_arn}"), ("kms:GenerateDataKey", "{key_arn}")]

FUNCTION_CALLS: dict[str, list[tuple[str, str]]] = {
    # Reads the version the event names, claims it (If-None-Match; reads the claim when taken),
    # writes records/rejected (S3LineWriter: multipart beyond 8 MiB) and the training channel.
    "IngestFunction": [
        ("s3:GetObject", _UPLOAD),
        ("s3:GetObjectVersion", _UPLOAD),
        ("s3:PutObject", _CLAIM),
        ("s3:GetObject", _CLAIM),
        ("s3:PutObject", _RECORDS),
        ("s3:AbortMultipartUpload", _RECORDS),
        ("s3:PutObject", _REJECTED),
        ("s3:PutObject", _TRAIN_CHANNEL),
        *_USE_KEY,
    ],
    # CreateTrainingJob with Tags (AddTags) and the SageMaker role (PassRole).
    "StartTrainingFunction": [
        ("sagemaker:CreateTrainingJob", _TRAINING_JOB),
        ("sagemaker:AddTags", _TRAINING_JOB),
        ("iam:PassRole", "{role_arn}"),
    ],
    # Polls either kind of job; stops one that outlives the maximum wait.
    "JobStatusFunction": [
        ("sagemaker:DescribeTrainingJob", _TRAINING_JOB),
        ("sagemaker:StopTrainingJob", _TRAINING_JOB),
        ("sagemaker:DescribeTransformJob", _TRANSFORM_JOB),
        ("sagemaker:StopTransformJob", _TRANSFORM_JOB),
        ("bedrock:GetModelInvocationJob", _BEDROCK_JOB),
        ("bedrock:StopModelInvocationJob", _BEDROCK_JOB),
    ],
    # HEAD of the archive the training job wrote under models/ (never copied), CreateModel
    # (named as the training job, with Tags) and the latest-model pointer's compare-and-swap
    # (GetObject, then PutObject with If-Match).
    "RegisterModelFunction": [
        ("sagemaker:DescribeTrainingJob", _TRAINING_JOB),
        ("s3:GetObject", _ARCHIVE),
        ("sagemaker:CreateModel", _FINE_TUNED_MODEL),
        ("sagemaker:AddTags", _FINE_TUNED_MODEL),
        ("iam:PassRole", "{role_arn}"),
        ("sagemaker:ListModelPackages", "*"),
        ("sagemaker:CreateModelPackage", _PACKAGE),
        ("sagemaker:DescribeModelPackage", _PACKAGE),
    ],
    # The pre-trained model is created once (no Tags); the registry is read once.
    "ResolveModelsFunction": [
        ("sagemaker:CreateModel", _PRETRAINED_MODEL),
        ("iam:PassRole", "{role_arn}"),
        ("sagemaker:ListModelPackages", "*"),
        ("sagemaker:DescribeModelPackage", _PACKAGE),
    ],
    # The optional endpoint (DeployEndpoint=true): the newest Approved version's config, the
    # endpoint created or updated, configs no longer used deleted.
    "DeployEndpointFunction": [
        ("sagemaker:ListModelPackages", "*"),
        ("sagemaker:DescribeModelPackage", _PACKAGE),
        ("sagemaker:CreateEndpointConfig", _ENDPOINT_CONFIG),
        ("sagemaker:DescribeEndpoint", _ENDPOINT),
        ("sagemaker:CreateEndpoint", _ENDPOINT),
        ("sagemaker:UpdateEndpoint", _ENDPOINT),
        ("sagemaker:ListEndpointConfigs", "*"),
        ("sagemaker:DeleteEndpointConfig", _ENDPOINT_CONFIG),
    ],
    # The promotion gate reads a version's status and approves it or records why it waits.
    "PromoteFunction": [
        ("sagemaker:DescribeModelPackage", _PACKAGE),
        ("sagemaker:UpdateModelPackage", _PACKAGE),
    ],
    # Reads the run's records, writes one model's transform input, starts Batch Transform (Tags).
    "StartTransformFunction": [
        ("s3:GetObject", _RECORDS),
        ("s3:PutObject", _TRANSFORM_INPUT),
        ("s3:AbortMultipartUpload", _TRANSFORM_INPUT),
        ("sagemaker:CreateTransformJob", _TRANSFORM_JOB),
        ("sagemaker:AddTags", _TRANSFORM_JOB),
        ("s3:PutObject", _BEDROCK_INPUT),
        ("s3:PutObject", _BEDROCK_RUN),
        ("bedrock:CreateModelInvocationJob", _BEDROCK_JOB),
        *_USE_KEY,
    ],
    # Joins records and transform output, writes the score rows.
    "ScoreFunction": [
        ("s3:GetObject", _RECORDS),
        ("s3:GetObject", _TRANSFORM_OUTPUT),
        ("s3:GetObject", _BEDROCK_RUN),
        ("s3:GetObject", _BEDROCK_OUTPUT),
        ("s3:PutObject", _SCORES),
        ("s3:AbortMultipartUpload", _SCORES),
        *_USE_KEY,
    ],
    # Reads score rows and rejections, stages Parquet and the report under results/staging/
    # (managed transfer: multipart when large), records the run's lifecycle in its claim, copies
    # the staged objects to results/ (GetObject of the copy source), deletes the staging, notifies
    # the (KMS) topic.
    "PublishFunction": [
        ("s3:GetObject", _SCORES),
        ("s3:GetObject", _REJECTED),
        ("s3:PutObject", _STAGED),
        ("s3:AbortMultipartUpload", _STAGED),
        ("s3:GetObject", _STAGED),
        ("s3:DeleteObject", _STAGED),
        ("s3:PutObject", _RESULTS),
        ("s3:PutObject", _REPORT),
        ("s3:GetObject", _CLAIM),
        ("s3:PutObject", _CLAIM),
        ("sns:Publish", "{topic_arn}"),
        *_USE_KEY,
    ],
    # Writes failure.json, takes back what a half-done commit copied, marks the claim
    # failed-before-commit (read, then PutObject with If-Match), notifies the topic.
    "RecordFailureFunction": [
        ("s3:PutObject", _FAILURE),
        ("s3:DeleteObject", _RESULTS),
        ("s3:GetObject", _CLAIM),
        ("s3:PutObject", _CLAIM),
        ("sns:Publish", "{topic_arn}"),
        *_USE_KEY,
    ],
    # An execution that ended ABORTED, TIMED_OUT or FAILED without RecordFailure: reads and
    # marks its claim (If-Match), takes back a half-done commit, creates failure.json
    # (If-None-Match), notifies the topic.
    "ReleaseStoppedRunFunction": [
        ("s3:GetObject", _CLAIM),
        ("s3:PutObject", _CLAIM),
        ("s3:DeleteObject", _RESULTS),
        ("s3:PutObject", _FAILURE),
        ("sns:Publish", "{topic_arn}"),
        *_USE_KEY,
    ],
}

# Request context the calls carry, by action: every write names SSE-KMS and the data key
# (radimpress.storage.encryption_arguments), and PassRole goes to SageMaker only.
CALL_CONTEXT: dict[str, dict[str, str]] = {
    "s3:PutObject": {
        "s3:x-amz-server-side-encryption": "aws:kms",
        "s3:x-amz-server-side-encryption-aws-kms-key-id": "{key_arn}",
    },
    "iam:PassRole": {"iam:PassedToService": "sagemaker.amazonaws.com"},
}

PLACEHOLDERS = ("bucket", "key_arn", "topic_arn", "role_arn", "region", "account", "stack")


def fill(pattern: str, values: dict[str, str]) -> str:
    """A resource pattern or context value with the placeholders ``values`` names replaced."""
    for name in PLACEHOLDERS:
        if name in values:
            pattern = pattern.replace("{" + name + "}", values[name])
    return pattern
