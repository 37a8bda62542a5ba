"""`radimpress smoke`: one tiny training run, then one tiny inference run, on a deployed stack.

Opt-in and never run in CI: it needs credentials and a deployed stack, and it costs money (a
fine-tune on TrainingInstanceType and two Batch Transform jobs; see ``job_costs``). It uploads
generated reports (workstation/synthetic.py: no patient text) with a plain PutObject and no
encryption header, which the bucket policy lets through and the bucket's default encryption
(the stack's data key) covers. The findings file goes up only once the training run has
succeeded, so its Batch Transform compares the pre-trained model with the model just
fine-tuned. Progress comes from the execution history (state names, job names, counts: never
report text); then the outcome, where the results landed and what the jobs cost. Exit 0 when
every run succeeds, 1 otherwise (a failure, or the timeout), 2 for unusable arguments.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from radimpress_workstation.aws_checks import walk
from radimpress_workstation.aws_checks.aws import AWS_ERRORS, Clients, error_line, make_session
from radimpress_workstation.aws_checks.executions import (
    Deadline,
    Followed,
    find_execution,
    follow,
)
from radimpress_workstation.aws_checks.job_costs import cost_lines
from radimpress_workstation.aws_checks.stack import stack_resources
from radimpress_workstation.console import Console, ProgressPrinter, error

EXIT_OK, EXIT_FAILED = 0, 1
DATASET = "smoke"
SEED = 20261207
MAX_RECORDS = 10_000
# Seams for the tests: the wall clock of the uploads, the monotonic clock, the pause.
utcnow = lambda: datetime.now(UTC)  # noqa: E731
clock = time.monotonic
sleep = time.sleep


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "smoke",
        help="upload a tiny training and findings file to a deployed stack and follow both runs",
        description=(
            "Needs AWS credentials and a deployed stack, and costs money (a fine-tune on the "
            "TrainingInstanceType and two Batch Transform jobs). Uploads generated reports "
            "under incoming/train/smoke/, follows that execution to its end, then uploads a "
            "findings file under incoming/infer/smoke/ and follows it; prints each outcome, the "
            "results' keys and a cost estimate. Exit 0 when all succeed, 1 otherwise, 2 for "
            "unusable arguments."
        ),
    )
    parser.add_argument("--stack-name", required=True, help="the deployed stack")
    parser.add_argument("--region", help="AWS region (default: your AWS_REGION / profile's)")
    parser.add_argument(
        "--records", type=int, default=20, help="generated reports per file (default: 20)"
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=14400,
        help="seconds to wait for all runs (default: 14400); the runs go on after it",
    )
    parser.add_argument(
        "--poll", type=int, default=30, help="seconds between status checks (default: 30)"
    )
    parser.add_argument(
        "--infer-only",
        action="store_true",
        help="upload only the findings file (no fine-tune: the pre-trained model and the "
        "latest fine-tuned one, if any)",
    )
    parser.set_defaults(handler=run)


def unusable(args: argparse.Namespace) -> str | None:
    """What is wrong with the numbers given, if anything."""
    for name in ("records", "timeout", "poll"):
        if getattr(args, name) < 1:
            return f"--{name} must be at least 1, got {getattr(args, name)}"
    if args.records > MAX_RECORDS:
        return f"--records is a smoke test's size (at most {MAX_RECORDS}), got {args.records}"
    return None


def run(args: argparse.Namespace) -> int:
    if problem := unusable(args):
        return error("smoke", problem)
    session = make_session(args.region)
    region = args.region or session.region_name
    if not region:
        return error("smoke", "no region: pass --region or set AWS_REGION (or a profile's region)")
    deadline = Deadline(clock() + args.timeout, args.poll, clock, sleep)
    smoke = Smoke(Clients(session, region), args, Console(), deadline)
    try:
        return smoke.run()
    except StackNotUsable as err:
        return error("smoke", str(err), f"stack {args.stack_name} in {region}")
    except AWS_ERRORS as err:
        print(f"radimpress smoke: AWS call failed: {error_line(err)}", flush=True)
        return EXIT_FAILED


class StackNotUsable(Exception):
    """The stack is missing or is not a radimpress stack."""


class _Labelled(Console):
    """A progress line prefixed with which upload's execution it is about."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self.label = label

    def progress(self, text: str) -> None:
        super().progress(f"{self.label}: {text}")


def generated_files(count: int, infer_only: bool) -> dict[str, list[dict[str, Any]]]:
    """label -> synthetic reports (with impressions: the inference run is scored too)."""
    from radimpress_workstation.synthetic import generate_reports

    reports = generate_reports(2 * count, seed=SEED, prefix="SMOKE")
    files = {"train": reports[:count], "infer": reports[count:]}
    return {"infer": files["infer"]} if infer_only else files


class Smoke:
    def __init__(
        self, clients: Clients, args: argparse.Namespace, console: Console, deadline: Deadline
    ) -> None:
        self.clients, self.args, self.console, self.deadline = clients, args, console, deadline

    def run(self) -> int:
        bucket, machine = self.find_stack()
        followed: list[Followed] = []
        ok = True
        for label, records in generated_files(self.args.records, self.args.infer_only).items():
            if not ok:
                self.console.line(f"{label}: not uploaded, the run before did not succeed")
                continue
            item = self.stage(bucket, machine, label, records)
            ok = item is not None and self.outcome(bucket, item)
            followed += [item] if item else []
        self.costs(followed)
        return EXIT_OK if ok else EXIT_FAILED

    def find_stack(self) -> tuple[str, str]:
        name = self.args.stack_name
        try:
            resources = stack_resources(self.clients("cloudformation"), name)
        except AWS_ERRORS as err:
            if "does not exist" in error_line(err):
                raise StackNotUsable("no such stack") from None
            raise
        bucket, machine = resources.get("DataBucket"), resources.get("PipelineStateMachine")
        if not bucket or not machine:
            raise StackNotUsable("not a radimpress stack (no DataBucket or PipelineStateMachine)")
        self.console.line(f"stack {name}: bucket {bucket}, state machine {machine}")
        return bucket, machine

    def upload(self, bucket: str, label: str, records: list[dict[str, Any]]) -> str:
        """One JSON Lines file under incoming/<label>/smoke/; its key."""
        key = f"incoming/{label}/{DATASET}/{utcnow().strftime('%Y%m%dT%H%M%SZ')}.jsonl"
        body = "".join(json.dumps(record) + "\n" for record in records).encode("utf-8")
        # No SSE header: the bucket policy denies only a header naming something other than
        # aws:kms and the data key; the bucket's default encryption applies the data key.
        self.clients("s3").put_object(Bucket=bucket, Key=key, Body=body)
        self.console.line(f"{label}: uploaded s3://{bucket}/{key} ({len(records)} reports)")
        return key

    def stage(
        self, bucket: str, machine: str, label: str, records: list[dict[str, Any]]
    ) -> Followed | None:
        """Upload, find the execution the upload started, follow it to its end."""
        since = utcnow() - timedelta(minutes=2)  # clock skew between here and Step Functions
        key = self.upload(bucket, label, records)
        sfn = self.clients("stepfunctions")
        arn = find_execution(sfn, machine, key, since, self.deadline)
        if arn is None:
            self.console.line(
                f"{label}: no execution started for s3://{bucket}/{key} within "
                f"{self.args.timeout} s: check the stack's UndeliveredUploadsAlarm and "
                "dead-letter queue, and that the bucket sends events to EventBridge"
            )
            return None
        self.console.line(f"{label}: execution {arn}")
        item = Followed(label, key, arn, ProgressPrinter(_Labelled(label)))
        follow(sfn, item, self.deadline)
        return item

    def outcome(self, bucket: str, item: Followed) -> bool:
        """Print how the execution ended and where its files are; True when it succeeded."""
        self.console.heading(f"{item.label}: {item.status} ({item.key})")
        if item.run_id:
            self.console.line(f"  run files: s3://{bucket}/runs/{item.run_id}/")
        if item.status == "SUCCEEDED":
            self.succeeded(bucket, item)
        elif item.status not in ("FAILED", "TIMED_OUT", "ABORTED"):  # RUNNING at the deadline
            self.still_running(item)
        else:
            self.console.line(f"  error: {item.description.get('error', '')}")
            if cause := str(item.description.get("cause", "")):
                self.console.line(f"  cause: {cause[:1000]}")
            if item.run_id:
                self.console.line(
                    f"  failure record: s3://{bucket}/runs/{item.run_id}/failure.json"
                )
        return item.status == "SUCCEEDED"

    def succeeded(self, bucket: str, item: Followed) -> None:
        try:
            output = json.loads(item.description.get("output") or "null")
        except ValueError:
            output = None
        output = output if isinstance(output, dict) else {}
        if isinstance(output.get("model"), dict) and output["model"].get("model_name"):
            self.console.line(f"  registered model: {output['model']['model_name']}")
        keys = {v for v in walk(output) if isinstance(v, str) and v.startswith("results/")}
        for key in sorted(keys):
            self.console.line(f"  result: s3://{bucket}/{key}")
        if (output.get("ingest") or {}).get("route") == "duplicate":
            self.console.line("  (a duplicate delivery: another execution owns this upload)")

    def still_running(self, item: Followed) -> None:
        self.console.line(
            f"  timed out after {self.args.timeout} s, still {item.status}; it goes on. Stop it: "
            f"aws stepfunctions stop-execution --execution-arn {item.arn}"
        )
        for job, kind in sorted(item.jobs.items()):
            self.console.line(
                f"  and its {kind} job: aws sagemaker stop-{kind}-job --{kind}-job-name {job}"
            )

    def costs(self, followed: list[Followed]) -> None:
        """Instance-seconds of every job the executions started, and an estimate in USD."""
        jobs = {job: kind for item in followed for job, kind in item.jobs.items()}
        if jobs:
            self.console.heading("cost estimate")
            for line in cost_lines(self.clients("sagemaker"), jobs, self.clients.region):
                self.console.line(f"  {line}")
