"""The batch inference quotas the double enforces, and where they come from.

The Bedrock user guide ("Format and upload your batch inference data") names the quotas an input
must meet, and its job statuses (botocore's ``bedrock`` model, ``GetModelInvocationJob``
``status``: "Validating – ... Your files fulfill the requirements for file size and number of
records") say when they are checked: while the job is Validating, after CreateModelInvocationJob
accepted it. A job that breaks one ends ``Failed`` with a message naming it. Default values, from
the Amazon Bedrock service quotas table of the AWS General Reference (general/latest/gr/
bedrock.html; per model, adjustable in Service Quotas):

- Minimum number of records per batch inference job: 100
- Records per input file per batch inference job: 50,000
- Records per batch inference job: 50,000
- Batch inference input file size: 1 GB
- Batch inference job size: 5 GB

The double keeps its own copy of these numbers on purpose: the Lambda package's
``radimpress.bedrock.batch_files.BatchQuotas`` is the code under test and cannot vouch for itself.
Tests and the local runtime may lower them (a run of 12 records through the batch path).
"""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1024**3


@dataclass(frozen=True)
class Quotas:
    min_records_per_job: int = 100
    max_records_per_file: int = 50_000
    max_records_per_job: int = 50_000
    max_file_bytes: int = GIB
    max_job_bytes: int = 5 * GIB


DEFAULT_QUOTAS = Quotas()
