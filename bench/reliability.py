"""Reliability scenarios, each run on the embedded stack (real ASL, real handlers).

    .venv/bin/python bench/reliability.py [--trials 3] [--big-mb 1024] [--skip-big]

Writes bench/results/reliability.json as {"scenarios": [{"name", "expected", "observed", "ok"}]}
and exits 1 when a scenario is not ok. tests/integration/test_reliability.py runs the same
scenario functions (fewer trials, no 1 GB upload).

Faults are injected where the cloud would inject them: an S3 client that throttles, fails or
dies (handed to the handlers through ``radimpress.clients.override``), executions started with the
event EventBridge would deliver (a repeated delivery is the same event again).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
LATEST_POINTER = "models/latest-fine-tuned.json"
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


class FaultyS3:
    """The real S3 client, with a rule that may raise instead of calling it.

    ``rule(state, operation, kwargs)`` returns an exception to raise, or None.
    """

    def __init__(self, real: Any, rule: Callable[[str, str, dict[str, Any]], Exception | None]):
        self._real, self._rule = real, rule
        self.lock = threading.Lock()
        self.injected: Counter[tuple[str, str]] = Counter()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._real, name)
        if name.startswith("_") or name == "meta" or not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            state = _calling_state()
            with self.lock:
                error = self._rule(state, name, {"args": args, **kwargs})
                if error is not None:
                    self.injected[(state, name)] += 1
            if error is not None:
                raise error
            return method(*args, **kwargs)

        return call


def client_error(code: str, status: int, operation: str) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


class Killed(Exception):
    """Stands for the Lambda dying mid-call (timeout, out of memory): not a transient error."""


@contextmanager
def faulty_s3(rule: Callable[[str, str, dict[str, Any]], Exception | None]) -> Iterator[FaultyS3]:
    import boto3

    from radimpress import clients

    proxy = FaultyS3(boto3.client("s3", region_name=os.environ.get("AWS_DEFAULT_REGION")), rule)
    clients.override("s3", lambda: proxy)
    try:
        yield proxy
    finally:
        clients.override("s3", lambda: boto3.client("s3"))


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

    def pointer(self) -> dict[str, Any] | None:
        from radimpress.layout import LATEST_POINTER

        try:
            body = self.s3.get_object(Bucket=self.stack.bucket, Key=LATEST_POINTER)["Body"].read()
        except Exception:
            return None
        return json.loads(body)

    def training_end(self, job_name: str) -> Any:
        from radimpress_workstation.job_backend.backend import local_job_backend

        return (
            local_job_backend()
            .describe_training_job(TrainingJobName=job_name)
            .get("TrainingEndTime")
        )


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
    """Two trainings and an inference at once; the first pointer write is held back 2 s, so
    RegisterModel calls land out of completion order (what made the older model win)."""
    outcomes = []
    registered: set[str] = set()  # every training job registered so far (earlier trials too)
    for trial in range(trials):
        keys = [f"incoming/train/race{trial}/{name}.jsonl" for name in ("a", "b")]
        for i, key in enumerate(keys):
            bench.stack.upload(key, reports(40 + 20 * i, start=1000 * i))
        infer_key = f"incoming/infer/race{trial}/reports.jsonl"
        bench.stack.upload(infer_key, reports(10))
        hold = _HoldFirstPointerWrite()
        with faulty_s3(hold):
            arns = [bench.start(k) for k in [*keys, infer_key]]
            runs = bench.wait(arns)
        jobs = [(r.output or {}).get("job", {}).get("job_name") for r in runs[:2]]
        registered.update(j for j in jobs if j)
        ends = {job: bench.training_end(job) for job in jobs if job}
        newest = max(ends, key=lambda j: (ends[j], j)) if len(ends) == 2 else None
        pointer = bench.pointer() or {}
        inference = runs[2].output or {}
        pinned = [m for m in inference.get("models", {}).get("items", []) if m.get("training_job")]
        outcomes.append(
            {
                "statuses": [r.status for r in runs],
                "pointer_is_newest": pointer.get("training_job") == newest,
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
        and o["pointer_is_newest"]
        and o["pinned_is_registered"]
        and o["rows_name_the_pinned_job"]
        for o in outcomes
    )
    expected = (
        f"{trials} trials: every time the pointer names the training that finished last, and "
        "the inference names the model it pinned"
    )
    return scenario(
        "two trainings + one inference together",
        expected,
        {"trials": outcomes, "pointer_newest": sum(o["pointer_is_newest"] for o in outcomes)},
        ok,
    )


class _HoldFirstPointerWrite:
    """A rule that injects no error but holds the first pointer write back 2 seconds."""

    def __init__(self) -> None:
        self.held: str | None = None  # the training job whose pointer write was held back

    def __call__(self, state: str, operation: str, kw: dict[str, Any]) -> Exception | None:
        pointer_write = operation == "put_object" and kw.get("Key") == LATEST_POINTER
        if pointer_write and self.held is None:
            self.held = json.loads(kw["Body"]).get("training_job", "")
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
    expected = "no row of the killed run in the raw tables; the re-run publishes exactly once"
    return scenario("Publish killed after its first object", expected, observed, ok)


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
    wanted = {"Ingest", "ResolveModels", "StartTransform", "Score", "Publish"}
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
def stack_for_bench() -> Iterator[Any]:
    from radimpress import clients
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
    )
    with stack:
        clients.override("sagemaker", local_job_backend)
        yield stack
    reset_local_job_backend()


SCENARIOS: list[Callable[..., dict[str, Any]]] = [
    five_duplicate_deliveries,
    late_event_for_overwritten_object,
    trainings_and_inference_together,
    publish_killed_after_first_object,
    s3_throttled_in_every_handler,
    s3_down_during_record_failure,
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--big-mb", type=int, default=1024)
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--big-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.big_child:
        _big_child(args.big_child)
        return 0
    results = []
    with stack_for_bench() as stack:
        bench = Bench(stack)
        for run in SCENARIOS:
            kwargs = {"trials": args.trials} if run is trainings_and_inference_together else {}
            started = time.perf_counter()
            try:
                outcome = run(bench, **kwargs)
            except Exception as err:  # a scenario that crashes is a scenario that is not ok
                outcome = scenario(run.__name__, "runs", {"error": type(err).__name__}, False)
            outcome["seconds"] = round(time.perf_counter() - started, 1)
            print(f"{'ok ' if outcome['ok'] else 'NOT'} {outcome['name']}: {outcome['observed']}")
            results.append(outcome)
    if not args.skip_big:
        outcome = big_upload(args.big_mb)
        print(f"{'ok ' if outcome['ok'] else 'NOT'} {outcome['name']}: {outcome['observed']}")
        results.append(outcome)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"scenarios": results}, indent=2) + "\n", encoding="utf-8")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
