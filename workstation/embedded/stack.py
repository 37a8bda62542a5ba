"""The embedded AWS: template.yaml's resources created in moto, executions started like EventBridge.

``EmbeddedStack`` starts ``mock_aws`` (Step Functions executes definitions, Lambda without Docker),
installs the Lambda seam (``lambda_seam``), moto's speed-ups (``moto_speedups``) and its S3 kept on
disk for big objects (``moto_s3_streaming``), expands
template.yaml (``template.expand``) and creates its resources with boto3 against moto in
dependency order, each by its type's creator (``resources.CREATORS``). Executions start through
``start_execution``, which applies the template's EventBridge rule (``eventbridge``) to a
real-shaped "Object Created" event. Other events AWS sends (SageMaker's model package changes,
Step Functions' execution status changes when an execution ends) reach the template's rules
through ``put_event``. See docs/contracts.md, "Embedded stack".
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from unittest import mock

from radimpress import clients
from radimpress.settings import OFFLINE_SPEC_VARIABLE
from radimpress_workstation.embedded import (
    aws_authorization,
    eventbridge,
    executions,
    job_waits,
    lambda_seam,
    moto_s3_streaming,
    moto_speedups,
    resources,
)
from radimpress_workstation.embedded.aws_authorization import Authorizer, StackPolicies
from radimpress_workstation.embedded.moto_config import ACCOUNT_ID, MOTO_CONFIG
from radimpress_workstation.embedded.resources import (
    BuildContext,
    FunctionInfo,
    Resource,
    StackError,
)
from radimpress_workstation.embedded.template import (
    Expanded,
    Resolver,
    TemplateError,
    expand,
)

DEFAULT_TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
_INTERPRETER_LOG = logging.getLogger("moto.stepfunctions.parser")
_RUNNING: list[EmbeddedStack] = []  # at most one: moto's mock is process-global
_RUNNING_LOCK = threading.Lock()
_CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
# Who uploads in ``EmbeddedStack.upload``: a hospital system's role that may write incoming/ and
# use the bucket's key, nothing else; the bucket policy decides its uploads as it would in AWS.
UPLOADER_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/hospital-uploader"
UPLOAD_PREFIX = "incoming/"
STATE_MACHINE_TYPE = "AWS::StepFunctions::StateMachine"


class EmbeddedStack:
    """template.yaml realised in moto, with the real handlers behind its Lambda functions.

    By default moto runs in-process (``mock_aws``: boto3 calls never leave the process). With
    ``server_port`` (0 = any free port) moto serves HTTP on 127.0.0.1 instead, so other tools (the
    AWS CLI with ``--endpoint-url``) can look at the running stack; handlers then get
    ``AWS_ENDPOINT_URL``. Either way the backends and the handlers live in this process.
    """

    def __init__(
        self,
        template: Path | str = DEFAULT_TEMPLATE,
        *,
        parameters: Mapping[str, Any] | None = None,
        environment: Mapping[str, str] | None = None,
        retry_scale: float = 0.0,
        stack_name: str = "radimpress-local",
        region: str | None = None,
        exit_timeout: float = 120.0,
        fast_interpreter: bool = True,
        server_port: int | None = None,
        stream_s3: bool = True,
        authorize: bool = True,
        job_ended: job_waits.EndedEvent | None = None,
    ) -> None:
        self.template_path = Path(template).resolve()
        self.parameter_overrides = dict(parameters or {})
        self.environment = {k: str(v) for k, v in (environment or {}).items()}
        self.retry_scale = retry_scale
        self.stack_name = stack_name
        self.region = region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.exit_timeout = exit_timeout
        self.fast_interpreter = fast_interpreter  # False: moto as shipped (benchmarks)
        self.stream_s3 = stream_s3  # False: moto's S3 holds whole objects in memory
        self.authorize = authorize  # False: no policy checked (bench/authorization.py's reference)
        # Wait states polling a job end when this says the job did (``job_waits``); None: never.
        self.job_ended = job_ended
        self.resources: dict[str, Resource] = {}
        self.functions: dict[str, FunctionInfo] = {}
        self.outputs: dict[str, Any] = {}
        self.expanded: Expanded | None = None
        self.server_port = server_port
        self.endpoint_url: str | None = None  # set in server mode
        self._running = False
        self._exit = contextlib.ExitStack()
        self._clients: dict[str, Any] = {}
        self._started: list[str] = []
        self._deliveries: list[threading.Thread] = []
        self._deliveries_lock = threading.Lock()
        self.event_results: list[dict[str, Any]] = []  # what each delivered event's target answered
        self.final_status: dict[str, str] = {}  # execution ARN -> status when the stack stopped
        # Decides every call a function or job makes (``aws_authorization``); None when stopped.
        self.authorizer: Authorizer | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> EmbeddedStack:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start moto, install the seam and create the template's resources."""
        lambda_seam.check_moto_version()
        with _RUNNING_LOCK:
            if _RUNNING:
                raise StackError(
                    "another EmbeddedStack is running in this process; moto's mock is "
                    "process-global and starting it again would wipe that stack's resources"
                )
            _RUNNING.append(self)
        try:
            self._start_emulator()
        except BaseException:
            with _RUNNING_LOCK:
                if self in _RUNNING:
                    _RUNNING.remove(self)
            raise

    def _start_emulator(self) -> None:
        self._exit = contextlib.ExitStack()
        region = {"AWS_DEFAULT_REGION": self.region}
        base_env = {
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            # The JumpStart container double plays the containers of the offline fixture.
            OFFLINE_SPEC_VARIABLE: "true",
        }
        if self.server_port is None:
            from moto import mock_aws

            self._exit.enter_context(mock_aws(config=MOTO_CONFIG))
            self._exit.enter_context(mock.patch.dict(os.environ, region))
        else:
            base_env["AWS_ENDPOINT_URL"] = self._start_server(region)
        # moto's interpreter logs every task failure (retries included) at ERROR with its
        # details; the execution history already carries them, so keep the console readable.
        saved_level = _INTERPRETER_LOG.level
        _INTERPRETER_LOG.setLevel(logging.CRITICAL)
        self._exit.callback(_INTERPRETER_LOG.setLevel, saved_level)
        clients.reset()
        self._exit.callback(clients.reset)
        self._route_bedrock()
        lambda_seam.install(retry_scale=self.retry_scale, base_environment=base_env)
        self._exit.callback(lambda_seam.uninstall)
        if self.fast_interpreter:
            moto_speedups.install()
            self._exit.callback(moto_speedups.uninstall)
        if self.job_ended is not None:
            job_waits.install(self.job_ended)
            self._exit.callback(job_waits.uninstall)
        if self.stream_s3:
            moto_s3_streaming.install()
            self._exit.callback(moto_s3_streaming.uninstall)
        self._running = True
        try:
            self._build()
            if self.authorize:
                self._enforce_authorization()
            else:
                self.authorizer = None
        except BaseException:
            self.stop()
            raise
        from radimpress_workstation.job_backend import registry as registry_double

        registry_double.CHANGE_LISTENERS.append(self._model_package_changed)
        self._exit.callback(registry_double.CHANGE_LISTENERS.remove, self._model_package_changed)
        executions.announce_endings(self._execution_ended)
        self._exit.callback(executions.stop_announcing, self._execution_ended)

    # -- events other than uploads -------------------------------------------------------------
    def put_event(self, event: dict[str, Any]) -> int:
        """Deliver ``event`` as EventBridge would: to the target of every rule of the template
        whose EventPattern matches it, with the input the target's Input/InputPath/transformer
        gives. Lambda targets are invoked asynchronously (here on a thread; ``wait_for_events``
        waits for them), state machine targets start an execution. Returns the deliveries."""
        matched = eventbridge.rules_matching(self.resources.values(), event)
        for rule, target in matched:
            payload = eventbridge.target_input(target, event, rule_arn=rule.attributes["Arn"])
            arn = str(target["Arn"])
            if arn.startswith("arn:aws:states:"):
                self._started.append(
                    self.client("stepfunctions").start_execution(
                        stateMachineArn=arn, name=str(uuid.uuid4()), input=json.dumps(payload)
                    )["executionArn"]
                )
                continue
            thread = threading.Thread(
                target=self._invoke_target,
                args=(arn, payload),
                name=f"event-{rule.logical_id}",
                daemon=True,
            )
            with self._deliveries_lock:
                self._deliveries.append(thread)
            thread.start()
        return len(matched)

    def _model_package_changed(self, package: dict[str, Any]) -> None:
        """SageMaker's "Model Package State Change" event, to the rules that match it."""
        self.put_event(eventbridge.model_package_state_change_event(package, self.region))

    def _execution_ended(self, ending: dict[str, Any]) -> None:
        """Step Functions' "Execution Status Change" event when an execution of this stack ends
        (StopExecution, the machine's timeout, a failure, a success), to the rules that match."""
        machines = {r.physical_id for r in self.resources.values() if r.type == STATE_MACHINE_TYPE}
        if not self._running or ending["stateMachineArn"] not in machines:
            return
        self.put_event(eventbridge.execution_status_change_event(ending, self.region))

    def _invoke_target(self, function_arn: str, payload: dict[str, Any]) -> None:
        response = self.client("lambda").invoke(
            FunctionName=function_arn, Payload=json.dumps(payload).encode()
        )
        answer = response["Payload"].read()
        self.event_results.append(
            {"function": function_arn, "error": response.get("FunctionError"), "answer": answer}
        )

    def wait_for_events(self, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Wait for every event delivery started so far, and for those the executions that have
        ended (or deliveries themselves) set off meanwhile; returns their results."""
        deadline = time.monotonic() + timeout
        joined: set[threading.Thread] = set()
        while True:
            executions.wait_for_announcements(max(0.0, deadline - time.monotonic()))
            with self._deliveries_lock:
                pending = [t for t in self._deliveries if t not in joined]
            if not pending or time.monotonic() > deadline:
                return list(self.event_results)
            for thread in pending:
                thread.join(max(0.0, deadline - time.monotonic()))
                joined.add(thread)

    def _route_bedrock(self) -> None:
        """The handlers' ``bedrock`` and ``bedrock-runtime`` clients are the process's Bedrock
        double (moto has no model invocation jobs), fresh for each stack; its jobs' S3 goes as
        the job's service role when authorization is enforced. A test may replace it
        (``reset_local_bedrock(quotas=...)``) while the stack runs."""
        from radimpress_workstation.job_backend.bedrock import local_bedrock, reset_local_bedrock

        reset_local_bedrock()
        self._exit.callback(lambda: local_bedrock().shutdown())
        for service in ("bedrock", "bedrock-runtime"):
            clients.override(service, local_bedrock)

    def _enforce_authorization(self) -> None:
        """From now on handlers' S3 and SNS clients, the job backend and ``upload`` are checked
        against the template's role, bucket and key policies (see ``aws_authorization``)."""
        assert self.authorizer is not None
        policies = self.authorizer.policies
        data_key = policies.bucket_keys.get(self.bucket)
        key_arn = policies.key_arn(data_key) if data_key else None
        policies.identity[UPLOADER_ROLE] = [("upload", _uploader_policy(self.bucket, key_arn))]
        aws_authorization.activate(self.authorizer)
        self._exit.callback(aws_authorization.deactivate)
        for service in ("s3", "sns"):
            plain = self._new_client(service)
            clients.override(
                service,
                lambda service=service, plain=plain: aws_authorization.principal_client(
                    service, lambda: plain
                ),
            )

    def _start_server(self, region: dict[str, str]) -> str:
        """moto as an HTTP server in a thread (same process, same backends); returns its URL."""
        from moto.core.base_backend import BackendDict
        from moto.core.config import default_user_config
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer

        BackendDict.reset()
        self._exit.callback(BackendDict.reset)
        self._exit.enter_context(mock.patch.dict(default_user_config, MOTO_CONFIG))
        self._exit.enter_context(mock.patch("boto3.DEFAULT_SESSION", None))
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.server_port, verbose=False)
        server.start()
        self._exit.callback(server.stop)
        host, port = server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        fake = {k: os.environ.get(k) or "testing" for k in _CREDENTIAL_VARIABLES}
        # MOTO_PORT: where moto's interpreter sends its own Lambda calls in server mode.
        env = {**region, **fake, "MOTO_PORT": str(port)}
        self._exit.enter_context(mock.patch.dict(os.environ, env))
        return self.endpoint_url

    def stop(self) -> None:
        """Wait for (then stop) executions still running, restore moto, env and clients."""
        if not self._running:
            return
        try:
            self._drain()
        finally:
            self._running = False
            self.authorizer = None
            self._clients.clear()
            self._exit.close()
            with _RUNNING_LOCK:
                if self in _RUNNING:
                    _RUNNING.remove(self)

    def _drain(self) -> None:
        """Executions first (their ends send events), then the deliveries they set off, until
        neither starts anything more."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + self.exit_timeout
        settled = 0
        while True:
            self.wait_for_events(max(0.0, deadline - time.monotonic()))
            started = list(self._started)
            if settled == len(started):
                return
            for arn in started[settled:]:
                while (status := sfn.describe_execution(executionArn=arn)["status"]) == "RUNNING":
                    if time.monotonic() > deadline:
                        status = executions.stop(sfn, arn, "EmbeddedStackStopped", "stack stopped")
                        break
                    time.sleep(0.05)
                self.final_status[arn] = status
            settled = len(started)

    # -- access --------------------------------------------------------------------------------
    def client(self, service: str) -> Any:
        """A boto3 client bound to the embedded AWS (cached per stack), checked by no policy:
        the harness's own, as an administrator's."""
        if not self._running:
            raise StackError("the embedded stack is not running (use it inside `with`)")
        if service not in self._clients:
            self._clients[service] = self._new_client(service)
        return self._clients[service]

    def _new_client(self, service: str) -> Any:
        import boto3

        return boto3.client(  # type: ignore[call-overload]
            service, region_name=self.region, endpoint_url=self.endpoint_url
        )

    def physical_id(self, logical_id: str) -> str:
        try:
            return self.resources[logical_id].physical_id
        except KeyError:
            raise StackError(f"{self.template_path}: no resource {logical_id!r}") from None

    def _single(self, kind: str) -> Resource:
        found = [r for r in self.resources.values() if r.type == kind]
        if len(found) != 1:
            names = ", ".join(r.logical_id for r in found) or "none"
            raise StackError(f"{self.template_path}: expected one {kind}, found {names}")
        return found[0]

    @property
    def bucket(self) -> str:
        """The bucket uploads go to: the one sending EventBridge notifications.

        The template also holds an access-log bucket, so "the only bucket" no longer names it.
        """
        assert self.expanded is not None
        buckets = [r for r in self.resources.values() if r.type == "AWS::S3::Bucket"]
        notifying = [
            r
            for r in buckets
            if (
                (self.expanded.resources[r.logical_id].get("Properties") or {})
                .get("NotificationConfiguration", {})
                .get("EventBridgeConfiguration", {})
                .get("EventBridgeEnabled")
            )
        ]
        if len(notifying) == 1:
            return notifying[0].physical_id
        return self._single("AWS::S3::Bucket").physical_id

    @property
    def state_machine_arn(self) -> str:
        return self._single(STATE_MACHINE_TYPE).physical_id

    def upload(
        self,
        key: str,
        body: bytes | str | Path,
        *,
        encryption: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Put an object into the stack's bucket as a hospital system would: as UPLOADER_ROLE,
        so the bucket policy can refuse it (``AccessDenied``) exactly as AWS would.

        ``body``: bytes, text (str, encoded as UTF-8) or a file Path (streamed, multipart when
        large, so a big file is never read into memory whole). One part at a time: moto is in
        this process, so parallel parts only add memory (each part is held a few times while
        moto serves it), not speed. ``encryption``: the SSE arguments the uploader sends
        (``ServerSideEncryption``, ``SSEKMSKeyId``); none by default, as ``aws s3 cp`` sends none.
        """
        s3 = self.client("s3")
        uploader = (
            s3 if self.authorizer is None else self.authorizer.client_for("s3", UPLOADER_ROLE)
        )
        extra = dict(encryption or {})
        if isinstance(body, Path):
            from boto3.s3.transfer import TransferConfig

            config = TransferConfig(max_concurrency=1)
            uploader.upload_file(str(body), self.bucket, key, Config=config, ExtraArgs=extra)
            head = s3.head_object(Bucket=self.bucket, Key=key)
            size, etag, version = head["ContentLength"], head.get("ETag", ""), head.get("VersionId")
        else:
            data = body.encode() if isinstance(body, str) else body
            response = uploader.put_object(Bucket=self.bucket, Key=key, Body=data, **extra)
            size, etag, version = len(data), response.get("ETag", ""), response.get("VersionId")
        return {"size": size, "etag": etag.strip('"'), "version_id": version}

    # -- executions ----------------------------------------------------------------------------
    def object_created_event(
        self, key: str, *, size: int | None = None, etag: str = "", version_id: str | None = None
    ) -> dict[str, Any]:
        """The EventBridge event S3 sends for a PutObject (sizes and tags read from the bucket)."""
        if size is None or not etag:
            try:
                head = self.client("s3").head_object(Bucket=self.bucket, Key=key)
                size = head["ContentLength"] if size is None else size
                etag = etag or head.get("ETag", "").strip('"')
                version_id = version_id or head.get("VersionId")
            except Exception:  # the object need not exist to derive an input
                size = size or 0
        return eventbridge.object_created_event(
            self.bucket, key, self.region, size=size, etag=etag, version_id=version_id
        )

    def execution_input(self, key: str, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """What the template's EventBridge rule would send to the state machine for ``key``."""
        event = event or self.object_created_event(key)
        rule, target = self._rule_for(self.state_machine_arn)
        pattern = rule.attributes.get("EventPattern")
        if pattern and not eventbridge.pattern_matches(pattern, event):
            raise StackError(
                f"{self.template_path}: rule {rule.logical_id} would not fire for s3://"
                f"{self.bucket}/{key} (EventPattern {json.dumps(pattern)})"
            )
        return eventbridge.target_input(target, event, rule_arn=rule.attributes["Arn"])

    def start_execution(
        self,
        key: str,
        *,
        name: str | None = None,
        input_overrides: Mapping[str, Any] | None = None,
    ) -> str:
        """Start the pipeline for an uploaded object exactly as the EventBridge rule would."""
        payload = self.execution_input(key)
        unknown = sorted(set(input_overrides or {}) - set(payload))
        if unknown:
            raise StackError(
                f"input_overrides {unknown} are not keys the EventBridge rule produces "
                f"({sorted(payload)}); change the template, not the local input"
            )
        payload.update(input_overrides or {})
        response = self.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn,
            name=name or str(uuid.uuid4()),  # EventBridge names executions with a UUID too
            input=json.dumps(payload),
        )
        self._started.append(response["executionArn"])
        return response["executionArn"]

    def wait(
        self,
        execution_arn: str,
        *,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        timeout: float = 300.0,
    ) -> executions.ExecutionResult:
        """Follow the execution until it ends (see ``executions.wait``)."""
        return executions.wait(
            self.client("stepfunctions"), execution_arn, on_event=on_event, timeout=timeout
        )

    def _rule_for(self, target_arn: str) -> tuple[Resource, dict[str, Any]]:
        found = eventbridge.rule_targeting(self.resources.values(), target_arn)
        if found is None:
            raise StackError(f"{self.template_path}: no AWS::Events::Rule targets {target_arn}")
        return found

    # -- building ------------------------------------------------------------------------------
    def _build(self) -> None:
        try:
            self.expanded = expand(
                self.template_path,
                region=self.region,
                account_id=ACCOUNT_ID,
                stack_name=self.stack_name,
                parameters=self._parameters(),
            )
        except TemplateError as exc:
            raise StackError(str(exc)) from exc
        exp = self.expanded
        resolver = Resolver(
            exp.parameters,
            refs=_RefView(self.resources),
            attribute=self._attribute,
            condition=lambda name: exp.conditions[name],
            mappings=exp.mappings,
        )
        policies = StackPolicies(account=ACCOUNT_ID, region=self.region)
        self.authorizer = Authorizer(policies, self._new_client)
        context = BuildContext(
            client=self.client,
            region=self.region,
            stack_name=self.stack_name,
            environment=self.environment,
            expanded=exp,
            functions=self.functions,
            policies=policies,
        )
        for logical in resources.creation_order(exp.resources):
            definition = exp.resources[logical]
            where = f"{self.template_path.name}: {logical}"
            try:
                props = resolver.resolve(
                    definition.get("Properties") or {}, f"{logical}.Properties"
                )
                self.resources[logical] = resources.create(
                    context, logical, definition["Type"], props
                )
            except (TemplateError, StackError) as exc:
                raise StackError(f"{where}: {exc}") from exc
            except Exception as exc:  # boto3/moto rejected the request
                raise StackError(f"{where} ({definition['Type']}): {exc}") from exc
        for name, output in exp.outputs.items():
            self.outputs[name] = resolver.resolve(output.get("Value"), f"Outputs.{name}")

    def _parameters(self) -> dict[str, Any]:
        """The overrides, plus ResourcePrefix = the stack name as ``make deploy`` passes it
        (the template's StackNameIsUsable rule requires them equal)."""
        from radimpress_workstation.embedded.template import load

        declared = load(self.template_path).get("Parameters") or {}
        defaults = {"ResourcePrefix": self.stack_name} if "ResourcePrefix" in declared else {}
        return {**defaults, **self.parameter_overrides}

    def _attribute(self, logical: str, name: str) -> Any:
        resource = self.resources.get(logical)
        if resource is None:
            return None
        return resource.attributes.get(name)


def _uploader_policy(bucket: str, key_arn: str | None) -> dict[str, Any]:
    """A hospital uploader's identity policy: write incoming/, encrypt with the bucket's key."""
    statements: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{bucket}/{UPLOAD_PREFIX}*",
        }
    ]
    if key_arn:
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": key_arn,
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


class _RefView(Mapping[str, Any]):
    """Ref values of the resources created so far (the resolver's view of the stack)."""

    def __init__(self, resources: dict[str, Resource]) -> None:
        self._resources = resources

    def __getitem__(self, key: str) -> Any:
        return self._resources[key].physical_id

    def __iter__(self):
        return iter(self._resources)

    def __len__(self) -> int:
        return len(self._resources)
