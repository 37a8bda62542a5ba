"""Amazon Bedrock batch inference as a local double: the service's contract, a stand-in model.

moto has no Bedrock model invocation jobs. Without this double the Bedrock branch of the pipeline
could only be tested against AWS, and a request or input file the service refuses would pass every
local test. :class:`~radimpress_workstation.job_backend.bedrock.backend.LocalBedrock` answers the
calls the Lambdas make (``create_model_invocation_job``, ``get_model_invocation_job``,
``stop_model_invocation_job``, ``list_model_invocation_jobs``, and ``invoke_model``/``converse``
for the per-record fallback) and checks what Bedrock checks, from sources outside the code under
test:

- ``service_model``: requests against botocore's own ``bedrock`` and ``bedrock-runtime`` models
  (types, required and unknown members, lengths, enums, patterns), refused with Bedrock's codes;
- ``authorization``: the caller's IAM permissions (``bedrock:*`` actions on the job or model ARN,
  ``iam:PassRole`` to ``bedrock.amazonaws.com``) against the embedded stack's policies;
- ``quotas``: the documented batch quotas (minimum records, records per file and job, sizes);
- ``bodies``: each model family's request body (Anthropic Messages, Meta Llama, Amazon Nova,
  Titan Text; Converse through botocore's model);
- ``batch_job``: the job's work: input read as its service role, Validating's checks, one output
  line per record (``modelOutput`` or ``error``), shuffled, and ``manifest.json.out``;
- ``standin``: the deterministic generator (the local ``lead`` model) and its label,
  ``double:bedrock-<model id> (stand-in: lead)``, with whitespace token counts.

Plug it in for both services: ``clients.override("bedrock", local_bedrock)`` and
``clients.override("bedrock-runtime", local_bedrock)``.
"""

from radimpress_workstation.job_backend.bedrock.backend import (
    LocalBedrock,
    local_bedrock,
    reset_local_bedrock,
)
from radimpress_workstation.job_backend.bedrock.standin import generator_label

__all__ = ["LocalBedrock", "generator_label", "local_bedrock", "reset_local_bedrock"]
