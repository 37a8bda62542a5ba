"""Reliability scenarios, each run on the embedded stack (real ASL, real handlers).

    .venv/bin/python bench/reliability.py [--trials 3] [--big-mb 1024] [--skip-big]

Writes bench/results/reliability.json as {"scenarios": [{"name", "expected", "observed", "ok"}]}
and exits 1 when a scenario is not ok; ``--only NAME`` runs the scenarios whose function name
holds NAME. tests/integration/test_reliability.py and test_lifecycle_scenarios.py run the same
scenario functions (fewer trials, no 1 GB upload).

Faults are injected where the cloud would inject them: S3 and SNS clients that throttle, fail,
stall or refuse (handed to the handlers through ``radimpress.clients.override``), a function
Timeout shortened through the Lambda API, executions started with the event EventBridge would
deliver (a repeated delivery is the same event again), and a Publish that really dies: run in a
child process (``lambda_seam.run_with``) that is SIGKILLed before its N-th S3 write, so no
``except`` or ``finally`` of it runs (moto serves that child over HTTP: ``server=True``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "reliability.json"
MODEL = "restate"
STEP_STATES = {
    "ingest": "Ingest",
    "resolve_models": "ResolveModels",
    "start_transform": "StartTransform",
    "start_training": "StartTraining",
    "score": "Score",
    "publish": "Publish",
    "register_model": "RegisterModel",
    "record_failure": "RecordFailure",
}


def reports(n: int, start: int = 0, references: bool = True) -> bytes:
    lines = []
    for i in range(start, start + n):
        record = {
            "study_id": f"s{i}",
            "findings": f"Small left pleural effusion {i}. Heart size is normal.",
            "impression": f"Small left effusion {i}." if references else None,
        }
        lines.append(json.dumps({k: v for k, v in record.items() if v is not None}))
    return ("\n".join(lines) + "\n").encode()


# ---- fault injection ------------------------------------------------------------------------


def _calling_state() -> str:
    """The ASL state whose step module is on the calling thread's stack ('' if none)."""
    frame = sys._getframe(2)
    state = ""
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if module.startswith("radimpress.steps."):
            return STEP_STATES.get(module.rsplit(".", 1)[-1], module)
        if module.startswith("radimpress.results.") and not state:
            state = "Publish"
        frame = frame.f_back
    return state


class FaultyClient:
    """The client the handler would get (S3, SNS), with a rule that may raise instead of it.

    ``rule(state, operation, kwargs)`` returns an exception to raise (or a ``Stall``), or None.
    ``factory`` gives the client per call: the stack's client bound to the calling function's
    role, so its policies still decide every call the rule lets through.
    """

    def __init__(
        self,
        factory: Callable[[], Any],
        rule: Callable[[str, str, dict[str, Any]], Exception | None],
    ):
        self._factory, self._rule = factory, rule
        self.lock = threading.Lock()
        self.injected: Counter[tuple[str, str]] = Counter()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._factory(), name)
        if name.startswith("_") or name == "meta" or not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            state = _calling_state()
            with self.lock:
                error = self._rule(state, name, {"args": args, **kwargs})
                if error is not None:
                    self.injected[(state, name)] += 1
            if isinstance(error, Stall):
                time.sleep(error.seconds)  # outside the lock: other calls go on meanwhile
            elif error is not None:
                raise error
            return method(*args, **kwargs)

        return call


class Stall(Exception):
    """What a rule returns to make the call wait ``seconds`` first (then it is made)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"stalled {seconds} s")
        self.seconds = seconds


def client_error(code: str, status: int, operation: str) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


class Killed(Exception):
    """An ordinary error raised mid-call: the handler's own ``except``/``finally`` still run, so it
    is no kill (``publish_killed_for_real`` kills a process); not a transient error either."""


@contextmanager
def faulty(
    service: str, rule: Callable[[str, str, dict[str, Any]], Exception | None]
) -> Iterator[FaultyClient]:
    """Handlers get ``service`` through ``rule`` inside the block, then what they had before."""
    from radimpress import clients

    before = clients._overrides.get(service)  # the stack's: bound to each function's role
    proxy = FaultyClient(before or (lambda: clients._client(service)), rule)
    clients.override(service, lambda: proxy)
    try:
        yield proxy
    finally:
        if before is not None:
            clients.override(service, before)
        else:
            clients._overrides.pop(service, None)


def faulty_s3(rule: Callable[[str, str, dict[str, Any]], Exception | None]) -> Any:
    return faulty("s3", rule)


# ---- the stack and what an operator would look at ------------------------------------------


class Bench:
    """One embedded stack shared by the scenarios (each uses its own dataset and keys)."""

    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self.s3 = stack.client("s3")
        self.sfn = stack.client("stepfunctions")

    def start(self, key: str, version_id: str | None = None) -> str:
        """Start an execution with the event EventBridge would deliver for this version."""
        event = self.stack.object_created_event(key, version_id=version_id)
        payload = self.stack.execution_input(key, event)
        arn = self.sfn.start_execution(
            stateMachineArn=self.stack.state_machine_arn,
            name=f"run-{time.time_ns()}",
            input=json.dumps(payload),
        )["executionArn"]
        self.stack._started.append(arn)
        return arn

    def wait(self, arns: list[str]) -> list[Any]:
        return [self.stack.wait(arn, timeout=600) for arn in arns]

    def notifications(self, run_ids: set[str]) -> list[dict[str, Any]]:
        from moto.sns.models import sns_backends

        from radimpress_workstation.embedded.moto_config import ACCOUNT_ID

        sent = []
        for topic in sns_backends[ACCOUNT_ID][self.stack.region].topics.values():
            for notification in topic.sent_notifications:
                message = json.loads(notification[1])
                if message.get("run_id") in run_ids:
                    sent.append(message)
        return sent

    def keys(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.stack.bucket, Prefix=prefix
        )
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def result_rows(self, run_ids: set[str]) -> dict[str, int]:
        """Rows of these runs in the raw Glue tables (what QuickSight and ad-hoc SQL read)."""
        from radimpress_workstation import sql

        with tempfile.TemporaryDirectory() as folder:
            sql.mirror_results(self.s3, self.stack.bucket, folder)
            con = sql.connect(folder)
            counts = {}
            for table in ("scores", "runs"):
                rows = con.execute(f"SELECT run_id FROM {table}").fetchall()
                counts[table] = sum(1 for (run_id,) in rows if run_id in run_ids)
                counts[f"{table}_runs"] = len({r for (r,) in rows if r in run_ids})
            return counts

    def training_jobs_in_rows(self, run_id: str) -> set[str]:
        """The training jobs the score rows of ``run_id`` name (fine-tuned models only)."""
        from radimpress_workstation import sql

        with tempfile.TemporaryDirectory() as folder:
            sql.mirror_results(self.s3, self.stack.bucket, folder)
            rows = sql.connect(folder).execute(
                "SELECT DISTINCT training_job FROM scores WHERE run_id = ?", [run_id]
            )
            return {job for (job,) in rows.fetchall() if job}

    def latest_fine_tuned(self) -> dict[str, str] | None:
        """The metadata of the newest Approved fine-tuned version (what inference runs use)."""
        from radimpress import registry

        group = registry.group_name(self.stack.stack_name)
        latest = registry.latest_approved(self.stack.client("sagemaker"), group)
        return None if latest is None else latest.metadata

    def claim(self, key: str, version_id: str | None) -> dict[str, Any] | None:
        """The claim object of one upload (its run, state and records), None when there is none."""
        from radimpress.claims import version_tag
        from radimpress.layout import claim_key

        where = claim_key(self.stack.bucket, key, version_tag(version_id, ""))
        try:
            body = self.s3.get_object(Bucket=self.stack.bucket, Key=where)["Body"].read()
        except Exception:
            return None
        return {**json.loads(body), "claim_key": where}

    def run_objects(self, run_id: str) -> list[str]:
        """Every object of one run under results/ (tables, reports and staging)."""
        return [k for k in self.keys("results/") if run_id in k]

    def function(self, logical_id: str) -> str:
        return self.stack.functions[logical_id].name

    def ensure_fine_tuned(self) -> None:
        """A registered fine-tuned model, so an inference run compares two models."""
        if self.latest_fine_tuned() is None:
            key = "incoming/train/lifecycle/train.jsonl"
            self.stack.upload(key, reports(40))
            (run,) = self.wait([self.start(key)])
            assert run.status == "SUCCEEDED", (run.error, run.cause)

    @contextmanager
    def function_timeout(self, logical_id: str, seconds: int) -> Iterator[None]:
        """The function's Timeout set through the Lambda API (what the seam enforces)."""
        lam = self.stack.client("lambda")
        name = self.function(logical_id)
        before = lam.get_function_configuration(FunctionName=name)["Timeout"]
        lam.update_function_configuration(FunctionName=name, Timeout=seconds)
        try:
            yield
        finally:
            lam.update_function_configuration(FunctionName=name, Timeout=before)

    def training_end(self, job_name: str) -> Any:
        from radimpress_workstation.job_backend.backend import local_job_backend

        return (
            local_job_backend()
            .describe_training_job(TrainingJobName=job_name)
            .get("TrainingEndTime")
        )


def ending(result: Any) -> str:
    """How an execution ended: "Duplicate" for a repeated delivery, else its status."""
    return "Duplicate" if "Duplicate" in result.visited else str(result.status)


def scenario(name: str, expected: str, observed: dict[str, Any], ok: bool) -> dict[str, Any]:
    return {"name": name, "expected": expected, "observed": observed, "ok": bool(ok)}


# ---- the scenarios --------------------------------------------------------------------------


def five_duplicate_deliveries(bench: Bench, n: int = 5) -> dict[str, Any]:
    key = "incoming/infer/dup/reports.jsonl"
    bench.stack.upload(key, reports(30))
    results = bench.wait([bench.start(key) for _ in range(n)])
    run_ids = {r.name for r in results}
    ran = [r for r in results if "Done" in r.visited]
    observed = {
        "executions": len(results),
        "succeeded": sum(r.status == "SUCCEEDED" for r in results),
        "runs": len(ran),
        "duplicates": sum("Duplicate" in r.visited for r in results),
        "transform_jobs_started": sum("StartTransform" in r.visited for r in results),
        "notifications": len(bench.notifications(run_ids)),
        **bench.result_rows(run_ids),
    }
    ok = (
        observed["succeeded"] == n
        and observed["runs"] == 1
        and observed["duplicates"] == n - 1
        and observed["notifications"] == 1
        and observed["runs_runs"] == 1
        and observed["scores_runs"] == 1
        and observed["scores"] == 30 * observed["transform_jobs_started"]
    )
    expected = f"{n} executions: 1 run (1 result set, 1 notification), {n - 1} end in Duplicate"
    return scenario(f"{n} duplicate deliveries", expected, observed, ok)


def late_event_for_overwritten_object(bench: Bench) -> dict[str, Any]:
    key = "incoming/infer/late/reports.jsonl"
    old = bench.stack.upload(key, reports(4))["version_id"]
    new = bench.stack.upload(key, reports(9, start=100))["version_id"]
    late, current = bench.wait([bench.start(key, version_id=old), bench.start(key, version_id=new)])
    observed = {
        "late_status": late.status,
        "late_records": (late.output or {}).get("ingest", {}).get("records"),
        "late_version_is_old": (late.output or {}).get("ingest", {}).get("version_id") == old,
        "current_records": (current.output or {}).get("ingest", {}).get("records"),
    }
    ok = observed == {
        "late_status": "SUCCEEDED",
        "late_records": 4,
        "late_version_is_old": True,
        "current_records": 9,
    }
    expected = "the late event processes the 4-record version it names; the new one its 9"
    return scenario("late event for an overwritten object", expected, observed, ok)


def trainings_and_inference_together(bench: Bench, trials: int = 3) -> dict[str, Any]:
    """Two trainings and an inference at once; the first RegisterModel is held back 2 s, so the
    versions are registered out of completion order (what made the older model win once)."""
    outcomes = []
    registered: set[str] = set()  # every training job registered so far (earlier trials too)
    for trial in range(trials):
        keys = [f"incoming/train/race{trial}/{name}.jsonl" for name in ("a", "b")]
        for i, key in enumerate(keys):
            bench.stack.upload(key, reports(40 + 20 * i, start=1000 * i))
        infer_key = f"incoming/infer/race{trial}/reports.jsonl"
        bench.stack.upload(infer_key, reports(10))
        hold = _HoldFirstRegistration()
        with faulty_s3(hold):
            arns = [bench.start(k) for k in [*keys, infer_key]]
            runs = bench.wait(arns)
        jobs = [(r.output or {}).get("job", {}).get("job_name") for r in runs[:2]]
        registered.update(j for j in jobs if j)
        ends = {job: bench.training_end(job) for job in jobs if job}
        newest = max(ends, key=lambda j: (ends[j], j)) if len(ends) == 2 else None
        latest = bench.latest_fine_tuned() or {}
        inference = runs[2].output or {}
        pinned = [m for m in inference.get("models", {}).get("items", []) if m.get("training_job")]
        outcomes.append(
            {
                "statuses": [r.status for r in runs],
                "latest_is_newest": latest.get("training_job") == newest,
                "held_back_write_was_the_older_model": hold.held is not None
                and hold.held != newest,
                "inference_pinned": [m["training_job"] for m in pinned],
                "pinned_is_registered": all(m["training_job"] in registered for m in pinned),
                "rows_name_the_pinned_job": bench.training_jobs_in_rows(runs[2].name)
                == {m["training_job"] for m in pinned},
            }
        )
    ok = all(
        o["statuses"] == ["SUCCEEDED"] * 3
        and o["latest_is_newest"]
        and o["pinned_is_registered"]
        and o["rows_name_the_pinned_job"]
        for o in outcomes
    )
    expected = (
        f"{trials} trials: every time the newest Approved version is the training that finished "
        "last, and "
        "the inference names the model it pinned"
    )
    return scenario(
        "two trainings + one inference together",
        expected,
        {"trials": outcomes, "latest_newest": sum(o["latest_is_newest"] for o in outcomes)},
        ok,
    )


class _HoldFirstRegistration:
    """A rule that injects no error but holds the first RegisterModel back 2 seconds (at its
    HEAD of the training job's archive, before it creates the package version)."""

    def __init__(self) -> None:
        self.held: str | None = None  # the training job whose registration was held back

    def __call__(self, state: str, operation: str, kw: dict[str, Any]) -> Exception | None:
        if state == "RegisterModel" and operation == "head_object" and self.held is None:
            self.held = str(kw.get("Key", "")).split("/")[1]  # models/<job>/output/model.tar.gz
            time.sleep(2.0)
        return None


def publish_killed_after_first_object(bench: Bench) -> dict[str, Any]:
    key = "incoming/infer/killed/reports.jsonl"
    bench.stack.upload(key, reports(12))
    writes = {"n": 0}

    def kill_on_second_results_write(state: str, operation: str, kw: dict[str, Any]) -> Any:
        if state == "Publish" and operation in ("upload_fileobj", "put_object", "upload_file"):
            writes["n"] += 1
            if writes["n"] == 2:
                return Killed("Publish died after writing its first object")
        return None

    with faulty_s3(kill_on_second_results_write):
        (killed,) = bench.wait([bench.start(key)])
    after_kill = bench.result_rows({killed.name})
    (rerun,) = bench.wait([bench.start(key)])  # the operator runs the same upload again
    both = bench.result_rows({killed.name, rerun.name})
    observed = {
        "killed_status": killed.status,
        "killed_run_rows": after_kill["scores"] + after_kill["runs"],
        "rerun_status": rerun.status,
        "result_sets": both["runs_runs"],
        "score_rows": both["scores"],
    }
    models = len((rerun.output or {}).get("scores", []))
    ok = (
        observed["killed_status"] == "FAILED"
        and observed["killed_run_rows"] == 0
        and observed["rerun_status"] == "SUCCEEDED"
        and observed["result_sets"] == 1
        and observed["score_rows"] == 12 * models
    )
    expected = "no row of the failed run in the raw tables; the re-run publishes exactly once"
    return scenario("Publish fails (an exception) after its first object", expected, observed, ok)


def s3_throttled_in_every_handler(bench: Bench) -> dict[str, Any]:
    key = "incoming/infer/throttled/reports.jsonl"
    bench.stack.upload(key, reports(15))
    seen: set[tuple[str, str]] = set()
    per_state: Counter[str] = Counter()

    def throttle_each_first_call(state: str, operation: str, kw: dict[str, Any]) -> Any:
        # The first call of each operation in each state answers SlowDown (at most 2 a state,
        # within the Retry policy's 3 retries).
        if state and (state, operation) not in seen and per_state[state] < 2:
            seen.add((state, operation))
            per_state[state] += 1
            return client_error("SlowDown", 503, operation)
        return None

    with faulty_s3(throttle_each_first_call) as proxy:
        (run,) = bench.wait([bench.start(key)])
    rows = bench.result_rows({run.name})
    throttled = sorted({state for state, _ in proxy.injected})
    observed = {
        "status": run.status,
        "throttled_states": throttled,
        "throttles": sum(proxy.injected.values()),
        "result_sets": rows["runs_runs"],
    }
    wanted = {"Ingest", "StartTransform", "Score", "Publish"}  # ResolveModels: no S3 any more
    ok = run.status == "SUCCEEDED" and wanted <= set(throttled) and rows["runs_runs"] == 1
    expected = "SlowDown in every S3-using state is retried: the run succeeds, published once"
    return scenario("S3 throttled in every handler", expected, observed, ok)


def s3_down_during_record_failure(bench: Bench) -> dict[str, Any]:
    key = "incoming/infer/down/reports.jsonl"
    bench.stack.upload(key, b'{"study_id": "x"}\n')  # no valid record: Ingest fails

    def s3_down_for_record_failure(state: str, operation: str, kw: dict[str, Any]) -> Any:
        if state == "RecordFailure":
            return client_error("ServiceUnavailable", 503, operation)
        return None

    with faulty_s3(s3_down_for_record_failure) as proxy:
        (run,) = bench.wait([bench.start(key)])
    sent = bench.notifications({run.name})
    observed = {
        "status": run.status,
        "notifications": len(sent),
        "failure_json_written": bool(bench.keys(f"runs/{run.name}/failure.json")),
        "s3_errors_injected": sum(proxy.injected.values()),
        "notification_says_record_missing": bool(sent and sent[0].get("failure_record_error")),
    }
    ok = (
        run.status == "FAILED"
        and observed["notifications"] == 1
        and observed["notification_says_record_missing"]
        and not observed["failure_json_written"]
    )
    expected = "S3 down: no failure.json, yet exactly one notification saying so; run FAILED"
    return scenario("S3 down during RecordFailure", expected, observed, ok)


# ---- the run lifecycle (issue 19, items 1-6 and 9) -------------------------------------------


def _score_of(model_key: str | None) -> Callable[[str, str, dict[str, Any]], Exception | None]:
    """Score cannot read the transform output of ``model_key`` (None: of every model): a lasting
    AccessDenied, so the model fails (ModelFailed) instead of being retried."""

    def rule(state: str, operation: str, kw: dict[str, Any]) -> Exception | None:
        key = str(kw.get("Key", ""))
        wanted = f"/transform/{model_key}/" if model_key else "/transform/"
        if state == "Score" and operation == "get_object" and wanted in key:
            return client_error("AccessDenied", 403, operation)
        return None

    return rule


def redelivery_after_partial_failure(bench: Bench) -> dict[str, Any]:
    """Item 1: one model fails, the other's results are published, the run fails; the same event
    is delivered again."""
    bench.ensure_fine_tuned()
    key = "incoming/infer/partial/reports.jsonl"
    version = bench.stack.upload(key, reports(12))["version_id"]
    with faulty_s3(_score_of("fine-tuned")):
        (first,) = bench.wait([bench.start(key, version_id=version)])
    (again,) = bench.wait([bench.start(key, version_id=version)])
    runs = {first.name, again.name}
    rows = bench.result_rows(runs)
    sent = bench.notifications(runs)
    observed = {
        "first_status": first.status,
        "redelivery": ending(again),
        "result_sets": rows["runs_runs"],
        "score_rows": rows["scores"],
        "notifications": len(sent),
        "outcomes": sorted(m.get("outcome", "") for m in sent),
        "claim_state": (bench.claim(key, version) or {}).get("state"),
    }
    ok = (
        first.status == "FAILED"
        and observed["redelivery"] == "Duplicate"
        and observed["result_sets"] == 1
        and observed["score_rows"] == 12
        and observed["outcomes"] == ["partial"]
    )
    expected = (
        "1 of 2 models fails: its run publishes once and fails; the redelivery is a Duplicate; "
        "1 result set, 1 notice (partial)"
    )
    return scenario("redelivery after a partly failed run", expected, observed, ok)


def sns_down_while_publish_notifies(bench: Bench) -> dict[str, Any]:
    """Item 2: SNS refuses every Publish notification (after the results are committed)."""
    key = "incoming/infer/snsdown/reports.jsonl"
    version = bench.stack.upload(key, reports(10))["version_id"]

    def sns_down_for_publish(state: str, operation: str, kw: dict[str, Any]) -> Any:
        if state == "Publish" and operation == "publish":
            return client_error("InternalError", 500, operation)
        return None

    with faulty("sns", sns_down_for_publish) as proxy:
        (run,) = bench.wait([bench.start(key, version_id=version)])
    (again,) = bench.wait([bench.start(key, version_id=version)])
    runs = {run.name, again.name}
    rows = bench.result_rows(runs)
    claim = bench.claim(key, version) or {}
    observed = {
        "status": run.status,
        "sns_refusals": sum(proxy.injected.values()),
        "notified": ((run.output or {}).get("published") or {}).get("notified"),
        "claim_state": claim.get("state"),
        "notify_error_recorded": bool(claim.get("notify_error")),
        "redelivery": ending(again),
        "result_sets": rows["runs_runs"],
        "notifications": len(bench.notifications(runs)),
    }
    ok = (
        run.status == "SUCCEEDED"
        and observed["claim_state"] == "committed"
        and observed["notify_error_recorded"]
        and observed["redelivery"] == "Duplicate"
        and observed["result_sets"] == 1
    )
    expected = (
        "the committed run stays SUCCEEDED and committed, the lost notice is retried and "
        "recorded in its claim; the redelivery is a Duplicate: 1 result set"
    )
    return scenario("SNS down while Publish notifies", expected, observed, ok)


def claim_release_refused(bench: Bench) -> dict[str, Any]:
    """Item 4: RecordFailure cannot release the claim (S3 refuses every claim write)."""
    key = "incoming/infer/stuck/reports.jsonl"
    version = bench.stack.upload(key, b'{"study_id": "x"}\n')["version_id"]  # Ingest fails

    def claims_refused(state: str, operation: str, kw: dict[str, Any]) -> Any:
        claim_write = operation in ("put_object", "delete_object")
        if (
            state == "RecordFailure"
            and claim_write
            and str(kw.get("Key", "")).startswith("claims/")
        ):
            return client_error("AccessDenied", 403, operation)
        return None

    with faulty_s3(claims_refused):
        (run,) = bench.wait([bench.start(key, version_id=version)])
    sent = bench.notifications({run.name})
    action = str((sent[0] if sent else {}).get("operator_action") or "")
    claim = bench.claim(key, version) or {}
    (stuck,) = bench.wait([bench.start(key, version_id=version)])
    if claim and action:  # the operator does what the notice says
        bench.s3.delete_object(Bucket=bench.stack.bucket, Key=claim["claim_key"])
    (after,) = bench.wait([bench.start(key, version_id=version)])
    observed = {
        "status": run.status,
        "notifications": len(sent),
        "notice_names_the_claim": bool(claim) and claim.get("claim_key", "-") in action,
        "notice_says_delete_it": "delete-object" in action,
        "redelivery_before_action": ending(stuck),
        "redelivery_after_action": ending(after),
    }
    ok = (
        run.status == "FAILED"
        and observed["notifications"] == 1
        and observed["notice_names_the_claim"]
        and observed["notice_says_delete_it"]
        and observed["redelivery_after_action"] == "FAILED"  # it ran again (and the file is bad)
    )
    expected = (
        "the release fails after its retries: the one notice names the claim and the command that "
        "frees it; after that command the upload runs again"
    )
    return scenario("claim release refused", expected, observed, ok)


def lambda_timeout_in_score(bench: Bench) -> dict[str, Any]:
    """Item 5: Score's first attempt for one model overruns its (shortened) Timeout."""
    from radimpress_workstation.embedded import lambda_seam

    bench.ensure_fine_tuned()
    key = "incoming/infer/timeout/reports.jsonl"
    bench.stack.upload(key, reports(8))
    stalled: list[str] = []

    def stall_first_score(state: str, operation: str, kw: dict[str, Any]) -> Any:
        if state == "Score" and operation == "get_object" and not stalled:
            stalled.append(str(kw.get("Key", "")))
            return Stall(3.0)  # over the 2 s Timeout: the seam answers Sandbox.Timedout
        return None

    timeouts_before = lambda_seam.stats().timeouts
    with bench.function_timeout("ScoreFunction", 2), faulty_s3(stall_first_score):
        (run,) = bench.wait([bench.start(key)])
    errors = [error for _, error, _ in run.task_failures()]
    scores = (run.output or {}).get("scores") or []
    observed = {
        "status": run.status,
        "timeouts_enforced": lambda_seam.stats().timeouts - timeouts_before,
        "task_errors": errors,
        "models_published": sum(not s.get("failed") for s in scores),
        "models_failed": sum(bool(s.get("failed")) for s in scores),
    }
    ok = (
        run.status == "SUCCEEDED"
        and observed["timeouts_enforced"] >= 1
        and "Sandbox.Timedout" in errors
        and observed["models_failed"] == 0
        and observed["models_published"] == 2
    )
    expected = "Score overruns its Timeout once: Sandbox.Timedout, retried; both models published"
    return scenario("Lambda timeout in Score", expected, observed, ok)


def two_failed_models_one_notice(bench: Bench) -> dict[str, Any]:
    """Item 6: both models of a run fail."""
    bench.ensure_fine_tuned()
    key = "incoming/infer/bothfail/reports.jsonl"
    bench.stack.upload(key, reports(6))
    with faulty_s3(_score_of(None)):
        (run,) = bench.wait([bench.start(key)])
    sent = bench.notifications({run.name})
    failure = bench.s3.get_object(Bucket=bench.stack.bucket, Key=f"runs/{run.name}/failure.json")
    record = json.loads(failure["Body"].read())
    observed = {
        "status": run.status,
        "error": record.get("error"),
        "models_failed": len(record.get("failed_models", [])),
        "notifications": len(sent),
        "outcomes": sorted(m.get("outcome", "") for m in sent),
    }
    ok = (
        run.status == "FAILED"
        and observed["models_failed"] == 2
        and observed["outcomes"] == ["failed"]
    )
    return scenario("two failed models, one notice", "exactly 1 notice: failed", observed, ok)


class _Lines(logging.Handler):
    """Every powertools log line, formatted as it is written (on the invocation's thread)."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__()
        self.powertools = formatter
        self.lines: list[dict[str, Any]] = []
        self.guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        line = json.loads(self.powertools.format(record))
        with self.guard:
            self.lines.append(line)


# Which function writes which message (the handlers' own words).
MESSAGES = {
    "ingested": "IngestFunction",
    "duplicate delivery": "IngestFunction",
    "models to compare": "ResolveModelsFunction",
    "transform job started": "StartTransformFunction",
    "job status": "JobStatusFunction",
    "scored": "ScoreFunction",
    "published": "PublishFunction",
    "no model succeeded: nothing published": "PublishFunction",
    "run failed": "RecordFailureFunction",
}


def log_attribution_under_concurrency(bench: Bench, executions: int = 6) -> dict[str, Any]:
    """Item 9: inference runs at once, each a Map of two models; every log line must name the
    function and the run of the invocation that wrote it."""
    from radimpress_workstation.embedded import lambda_seam

    bench.ensure_fine_tuned()
    import radimpress.handlers.ingest  # noqa: F401  (makes the powertools logger and formatter)

    logger = logging.getLogger("radimpress")
    lines = _Lines(logger.handlers[0].formatter)  # type: ignore[arg-type]
    truth: dict[str, tuple[str, str | None]] = {}  # request id -> (function, run id)
    functions = {bench.function(logical): logical for logical in set(MESSAGES.values())}

    def recording(fn: Any, env: dict[str, str], raw: str | None, context: Any) -> Any:
        event = json.loads(raw or "{}")
        run_id = event.get("run_id") or ((event.get("state") or {}).get("ingest") or {}).get(
            "run_id"
        )
        if functions[fn.function_name] in ("RecordFailureFunction",):
            run_id = event.get("execution")
        truth[context.aws_request_id] = (functions[fn.function_name], run_id)
        return lambda_seam.run_in_process(fn, env, raw, context)

    keys = [f"incoming/infer/logs{i}/reports.jsonl" for i in range(executions)]
    for i, key in enumerate(keys):
        bench.stack.upload(key, reports(5, start=100 * i))
    logger.addHandler(lines)
    try:
        with contextlib.ExitStack() as runners:
            for name in functions:
                runners.enter_context(lambda_seam.run_with(name, recording))
            runs = bench.wait([bench.start(key) for key in keys])
    finally:
        logger.removeHandler(lines)
    wrong_function = wrong_run = unknown = 0
    for line in lines.lines:
        owner = truth.get(str(line.get("function_request_id")))
        said = MESSAGES.get(str(line.get("message")))
        if owner is None or said is None:
            unknown += 1
            continue
        wrong_function += bench.function(said) != line.get("function_name")
        # JobStatus knows no run (its keys are cleared per invocation): it must name none.
        wanted_run = None if said == "JobStatusFunction" else owner[1]
        wrong_run += line.get("run_id") != wanted_run or owner[0] != said
    observed = {
        "executions": len(runs),
        "succeeded": sum(r.status == "SUCCEEDED" for r in runs),
        "lines": len(lines.lines),
        "wrong_function": wrong_function,
        "wrong_run_or_request": wrong_run,
        "unattributed": unknown,
    }
    ok = (
        observed["succeeded"] == executions
        and observed["lines"] > 0
        and wrong_function == 0
        and wrong_run == 0
        and unknown == 0
    )
    expected = (
        f"{executions} runs at once (Map of 2 models each): every line names its function, "
        "request and run"
    )
    return scenario("log attribution under concurrency", expected, observed, ok)


# ---- a Publish that is really killed (server mode: the child reaches moto over HTTP) --------


def killing_runner(
    kill_before_key: str, attempts: int | None
) -> tuple[Callable[..., Any], list[int]]:
    """A ``lambda_seam.run_with`` runner: the function's first ``attempts`` invocations (None:
    every one) run in a child process that is SIGKILLed just before its first S3 write to a key
    starting with ``kill_before_key``; later ones run in-process. Returns it and the child exit
    codes. The Lambda service answers a killed runtime with Runtime.ExitError."""
    from radimpress_workstation.embedded import lambda_seam

    exits: list[int] = []

    def runner(fn: Any, env: dict[str, str], raw: str | None, context: Any) -> Any:
        if attempts is not None and len(exits) >= attempts:
            return lambda_seam.run_in_process(fn, env, raw, context)
        request = {
            "handler": fn.handler,
            "event": raw or "{}",
            "function_name": fn.function_name,
            "memory": context.memory_limit_in_mb,
            "kill_before_key": kill_before_key,
        }
        child = subprocess.run(
            [sys.executable, __file__, "--lambda-child"],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, **env},
            timeout=context.timeout_s or None,
        )
        exits.append(child.returncode)
        if child.returncode == -signal.SIGKILL:
            message = (
                f"RequestId: {context.aws_request_id} Error: Runtime exited with error: "
                "signal: killed"
            )
            return lambda_seam.error_payload("Runtime.ExitError", message), True
        answer = json.loads(child.stdout.strip().splitlines()[-1])
        return json.dumps(answer["payload"]).encode(), bool(answer["failed"])

    return runner, exits


def _lambda_child(request: dict[str, Any]) -> None:
    """Run one handler in this process; SIGKILL ourselves before the chosen S3 write."""
    import importlib

    from botocore.client import BaseClient

    original = BaseClient._make_api_call  # type: ignore[attr-defined]
    writes = ("PutObject", "CopyObject", "CompleteMultipartUpload", "DeleteObject")

    def make_api_call(client: Any, operation: str, params: Any) -> Any:
        if operation in writes and str(params.get("Key", "")).startswith(
            request["kill_before_key"]
        ):
            os.kill(os.getpid(), signal.SIGKILL)  # no except, no finally: the process is gone
        return original(client, operation, params)

    BaseClient._make_api_call = make_api_call  # type: ignore[attr-defined]
    module, _, attr = request["handler"].rpartition(".")
    handler = getattr(importlib.import_module(module), attr)

    class Context:
        function_name = request["function_name"]
        function_version = "$LATEST"
        invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        memory_limit_in_mb = request["memory"]
        aws_request_id = "child"
        log_group_name = f"/aws/lambda/{function_name}"
        log_stream_name = "child"

        def get_remaining_time_in_millis(self) -> int:
            return 60_000

    try:
        payload, failed = handler(json.loads(request["event"]), Context()), False
    except Exception as err:
        payload, failed = {"errorType": type(err).__name__, "errorMessage": str(err)}, True
    print(json.dumps({"payload": payload, "failed": failed}))


def publish_killed_for_real(bench: Bench, attempts: int | None) -> dict[str, Any]:
    """Item 3: Publish's process is killed just before it writes the run summary (the commit
    marker), after the report and the scores object: on its first attempt only (the retry must
    finish the commit), or on every attempt (RecordFailure must take everything back)."""
    from radimpress_workstation.embedded import lambda_seam

    every = attempts is None
    key = f"incoming/infer/killed{'all' if every else attempts}/reports.jsonl"
    version = bench.stack.upload(key, reports(12))["version_id"]
    runner, exits = killing_runner("results/runs/", attempts)
    with lambda_seam.run_with(bench.function("PublishFunction"), runner):
        (killed,) = bench.wait([bench.start(key, version_id=version)])
    residue = bench.run_objects(killed.name)
    rows = bench.result_rows({killed.name})
    staging = bench.keys("results/staging/")
    claim_state = (bench.claim(key, version) or {}).get("state")
    (again,) = bench.wait([bench.start(key, version_id=version)])
    both = bench.result_rows({killed.name, again.name})
    observed = {
        "kills": sum(code == -signal.SIGKILL for code in exits),
        "killed_run_status": killed.status,
        "run_objects_under_results": residue,
        "killed_run_rows": rows["scores"] + rows["runs"],
        "staging_left": staging,
        "claim_state": claim_state,
        "redelivery": ending(again),
        "result_sets": both["runs_runs"],
        "score_rows": both["scores"],
        "notifications": len(bench.notifications({killed.name, again.name})),
    }
    models = len(((killed.output or again.output or {}).get("scores")) or [1])
    if every:
        ok = (
            observed["kills"] >= 1
            and killed.status == "FAILED"
            and not residue
            and observed["killed_run_rows"] == 0
            and not staging
            and claim_state in ("failed-before-commit", "committed")
            and observed["redelivery"] == "SUCCEEDED"
            and both["runs_runs"] == 1
            and observed["notifications"] == 2  # the killed run's "failed", the re-run's
        )
        expected = (
            "killed on every attempt: nothing of the run under results/ (tables, report, "
            "staging), upload released; the redelivery publishes exactly once"
        )
    else:
        ok = (
            observed["kills"] == 1
            and killed.status == "SUCCEEDED"
            and not staging
            and observed["redelivery"] == "Duplicate"
            and both["runs_runs"] == 1
            and both["scores"] == 12 * models
            and observed["notifications"] == 1
        )
        expected = (
            "killed once: the retried Publish finishes the commit; 1 result set, no staging "
            "left, 1 notice; the redelivery is a Duplicate"
        )
    label = "every attempt" if every else "first attempt"
    return scenario(f"Publish killed (SIGKILL) before its summary, {label}", expected, observed, ok)


def big_upload(megabytes: int) -> dict[str, Any]:
    """Peak RSS of a process that uploads ``megabytes`` through the embedded stack and ingests it
    (in a child process, so the number is that work's alone)."""
    child = subprocess.run(
        [sys.executable, __file__, "--big-child", str(megabytes)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    try:
        observed = json.loads(child.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        observed = {"error": child.stderr[-2000:]}
    limit = 1.5 * 1024
    ok = observed.get("status") == "SUCCEEDED" and observed.get("peak_rss_mb", 1e9) < limit
    expected = f"a {megabytes} MB upload through the embedded stack stays under 1.5 GB RSS"
    return scenario(f"{megabytes} MB upload (peak RSS)", expected, observed, ok)


def _big_child(megabytes: int) -> None:
    """Upload a file of ``megabytes`` MB and run the pipeline's Ingest on it."""
    with tempfile.TemporaryDirectory() as folder, stack_for_bench() as stack:
        path = Path(folder) / "big.jsonl"
        line = reports(1)
        with path.open("wb") as out:
            for i in range(megabytes * 1024 * 1024 // len(line)):
                out.write(line.replace(b'"s0"', f'"s{i}"'.encode()))
        started = time.perf_counter()
        stack.upload("incoming/train/big/big.jsonl", path)
        from radimpress import clients
        from radimpress.spec import load_spec
        from radimpress.steps.ingest import ingest

        result = ingest(clients.s3(), stack.bucket, "incoming/train/big/big.jsonl", "big",
                        load_spec())  # fmt: skip
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            json.dumps(
                {
                    "status": "SUCCEEDED",
                    "records": result.records,
                    "seconds": round(time.perf_counter() - started, 1),
                    "peak_rss_mb": round(peak),
                }
            )
        )


@contextmanager
def stack_for_bench(*, server: bool = False) -> Iterator[Any]:
    """The embedded stack the scenarios share; ``server``: moto over HTTP on 127.0.0.1, so a
    child process (the killed Publish) reaches the same AWS."""
    from radimpress import clients, notify
    from radimpress_workstation.embedded.stack import EmbeddedStack
    from radimpress_workstation.job_backend.backend import (
        local_job_backend,
        reset_local_job_backend,
    )

    reset_local_job_backend()
    stack = EmbeddedStack(
        ROOT / "template.yaml",
        parameters={"PollSeconds": "1", "ModelSpec": f"local-{MODEL}"},
        retry_scale=0.0,
        stack_name="radimpress-reliability",
        server_port=0 if server else None,
    )
    backoff = getattr(notify, "BACKOFF_SECONDS", None)
    notify.BACKOFF_SECONDS = (0.1, 0.2)  # the SNS retries, not the cloud's waits
    try:
        with stack:
            clients.override("sagemaker", local_job_backend)
            yield stack
    finally:
        if backoff is not None:
            notify.BACKOFF_SECONDS = backoff
        reset_local_job_backend()


SCENARIOS: list[Callable[..., dict[str, Any]]] = [
    five_duplicate_deliveries,
    late_event_for_overwritten_object,
    trainings_and_inference_together,
    publish_killed_after_first_object,
    s3_throttled_in_every_handler,
    s3_down_during_record_failure,
    redelivery_after_partial_failure,
    sns_down_while_publish_notifies,
    claim_release_refused,
    lambda_timeout_in_score,
    two_failed_models_one_notice,
    log_attribution_under_concurrency,
]
# On a server-mode stack of their own: the killed Publish runs in a child process.
KILL_SCENARIOS: list[tuple[str, dict[str, Any]]] = [
    ("publish_killed_for_real", {"attempts": 1}),
    ("publish_killed_for_real", {"attempts": None}),
]


def _run_scenario(run: Callable[..., dict[str, Any]], bench: Bench, **kwargs: Any) -> dict:
    started = time.perf_counter()
    try:
        outcome = run(bench, **kwargs)
    except Exception as err:  # a scenario that crashes is a scenario that is not ok
        outcome = scenario(run.__name__, "runs", {"error": f"{type(err).__name__}: {err}"}, False)
    outcome["seconds"] = round(time.perf_counter() - started, 1)
    print(f"{'ok ' if outcome['ok'] else 'NOT'} {outcome['name']}: {outcome['observed']}")
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--big-mb", type=int, default=1024)
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--only", help="run the scenarios whose function name contains this")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--big-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--lambda-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.big_child:
        _big_child(args.big_child)
        return 0
    if args.lambda_child:
        _lambda_child(json.loads(sys.stdin.read()))
        return 0
    wanted = [r for r in SCENARIOS if not args.only or args.only in r.__name__]
    results = []
    if wanted:
        with stack_for_bench() as stack:
            bench = Bench(stack)
            for run in wanted:
                kwargs = {"trials": args.trials} if run is trainings_and_inference_together else {}
                results.append(_run_scenario(run, bench, **kwargs))
    kills = [(n, kw) for n, kw in KILL_SCENARIOS if not args.only or args.only in n]
    if kills:
        with stack_for_bench(server=True) as stack:
            bench = Bench(stack)
            for name, kwargs in kills:
                results.append(_run_scenario(globals()[name], bench, **kwargs))
    if not args.skip_big and not args.only:
        outcome = big_upload(args.big_mb)
        print(f"{'ok ' if outcome['ok'] else 'NOT'} {outcome['name']}: {outcome['observed']}")
        results.append(outcome)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"scenarios": results}, indent=2) + "\n", encoding="utf-8")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
