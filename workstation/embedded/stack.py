"""The embedded AWS: template.yaml's resources created in moto, executions started like EventBridge.

``EmbeddedStack`` starts ``mock_aws`` (Step Functions executes definitions, Lambda without Docker),
installs the Lambda seam (``lambda_seam``), expands template.yaml (``template.expand``) and creates
what the pipeline needs with boto3 against moto, in dependency order: KMS keys, IAM roles, the
bucket, SNS topics, log groups, the Lambda functions (Handler, Environment, code folder), the state
machine (its DefinitionUri file with DefinitionSubstitutions resolved), EventBridge rules, the Glue
database and tables, Athena workgroups and named queries. Other types (policies, alarms,
subscriptions, permissions) get a local physical id so Ref/GetAtt resolve, and are not created.

Bucket notifications are not configured: moto would route them itself; executions start through
``start_execution``, which applies the template's EventBridge rule (pattern and InputTransformer)
to a real-shaped "Object Created" event. See docs/contracts.md, "Embedded stack".
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

from radimpress import clients
from radimpress_workstation.embedded import executions, lambda_seam
from radimpress_workstation.embedded.template import (
    Expanded,
    Resolver,
    TemplateError,
    expand,
    references,
)

ACCOUNT_ID = "123456789012"  # moto's default account
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
DEFAULT_TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
_PLACEHOLDER_ZIP: bytes | None = None
_INTERPRETER_LOG = logging.getLogger("moto.stepfunctions.parser")
_RUNNING: list[EmbeddedStack] = []  # at most one: moto's mock is process-global
_RUNNING_LOCK = threading.Lock()
_CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


class StackError(RuntimeError):
    """The stack cannot be built or used; the message names the resource and field."""


@dataclass
class Resource:
    logical_id: str
    type: str
    physical_id: str
    attributes: dict[str, Any] = field(default_factory=dict)
    created: bool = False  # False: only named locally (no moto resource behind it)


@dataclass
class FunctionInfo:
    logical_id: str
    name: str
    arn: str
    handler: str
    environment: dict[str, str]
    code_dir: Path | None


def _placeholder_zip() -> bytes:
    """moto insists on a code zip; the seam runs the CodeUri folder instead."""
    global _PLACEHOLDER_ZIP
    if _PLACEHOLDER_ZIP is None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("README.txt", "code runs from the CodeUri folder (radimpress seam)\n")
        _PLACEHOLDER_ZIP = buffer.getvalue()
    return _PLACEHOLDER_ZIP


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
    ) -> None:
        self.template_path = Path(template).resolve()
        self.parameter_overrides = dict(parameters or {})
        self.environment = {k: str(v) for k, v in (environment or {}).items()}
        self.retry_scale = retry_scale
        self.stack_name = stack_name
        self.region = region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.exit_timeout = exit_timeout
        self.fast_interpreter = (
            fast_interpreter  # False: moto's interpreter as shipped (benchmarks)
        )
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
        self.final_status: dict[str, str] = {}  # execution ARN -> status when the stack stopped
        self.build_seconds = 0.0

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> EmbeddedStack:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start moto, install the seam and create the template's resources."""
        t0 = time.perf_counter()
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
        self.build_seconds = time.perf_counter() - t0

    def _start_emulator(self) -> None:
        self._exit = contextlib.ExitStack()
        region = {"AWS_DEFAULT_REGION": self.region}
        base_env = {"AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region}
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
        lambda_seam.install(
            retry_scale=self.retry_scale,
            base_environment=base_env,
            fast_interpreter=self.fast_interpreter,
        )
        self._exit.callback(lambda_seam.uninstall)
        self._running = True
        try:
            self._build()
        except BaseException:
            self.stop()
            raise

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
            self._clients.clear()
            self._exit.close()
            with _RUNNING_LOCK:
                if self in _RUNNING:
                    _RUNNING.remove(self)

    def _drain(self) -> None:
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + self.exit_timeout
        for arn in self._started:
            while (status := sfn.describe_execution(executionArn=arn)["status"]) == "RUNNING":
                if time.monotonic() > deadline:
                    status = executions.stop(sfn, arn, "EmbeddedStackStopped", "stack stopped")
                    break
                time.sleep(0.05)
            self.final_status[arn] = status

    # -- access --------------------------------------------------------------------------------
    def client(self, service: str) -> Any:
        """A boto3 client bound to the embedded AWS (cached per stack)."""
        if not self._running:
            raise StackError("the embedded stack is not running (use it inside `with`)")
        if service not in self._clients:
            import boto3

            self._clients[service] = boto3.client(
                service, region_name=self.region, endpoint_url=self.endpoint_url
            )
        return self._clients[service]

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
        return self._single("AWS::S3::Bucket").physical_id

    @property
    def state_machine_arn(self) -> str:
        return self._single("AWS::StepFunctions::StateMachine").physical_id

    def upload(self, key: str, body: bytes | str | Path) -> dict[str, Any]:
        """Put an object into the stack's bucket (as a hospital system would).

        ``body``: bytes, text (str, encoded as UTF-8) or a file Path (streamed, multipart when
        large, so a big file is never read into memory whole).
        """
        s3 = self.client("s3")
        if isinstance(body, Path):
            s3.upload_file(str(body), self.bucket, key)
            head = s3.head_object(Bucket=self.bucket, Key=key)
            size, etag, version = head["ContentLength"], head.get("ETag", ""), head.get("VersionId")
        else:
            data = body.encode() if isinstance(body, str) else body
            response = s3.put_object(Bucket=self.bucket, Key=key, Body=data)
            size, etag, version = len(data), response.get("ETag", ""), response.get("VersionId")
        return {"size": size, "etag": etag.strip('"'), "version_id": version}

    # -- executions ----------------------------------------------------------------------------
    def object_created_event(
        self, key: str, *, size: int | None = None, etag: str = "", version_id: str | None = None
    ) -> dict[str, Any]:
        """The EventBridge event S3 sends for a PutObject (shape of the AWS documentation)."""
        if size is None or not etag:
            try:
                head = self.client("s3").head_object(Bucket=self.bucket, Key=key)
                size = head["ContentLength"] if size is None else size
                etag = etag or head.get("ETag", "").strip('"')
                version_id = version_id or head.get("VersionId")
            except Exception:  # the object need not exist to derive an input
                size = size or 0
        detail_object: dict[str, Any] = {
            "key": key,
            "size": size,
            "etag": etag,
            "sequencer": uuid.uuid4().hex[:18].upper(),
        }
        if version_id:
            detail_object["version-id"] = version_id
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Object Created",
            "source": "aws.s3",
            "account": ACCOUNT_ID,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [f"arn:aws:s3:::{self.bucket}"],
            "detail": {
                "version": "0",
                "bucket": {"name": self.bucket},
                "object": detail_object,
                "request-id": uuid.uuid4().hex[:16].upper(),
                "requester": ACCOUNT_ID,
                "source-ip-address": "127.0.0.1",
                "reason": "PutObject",
            },
        }

    def execution_input(self, key: str, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """What the template's EventBridge rule would send to the state machine for ``key``."""
        event = event or self.object_created_event(key)
        rule, target = self._rule_for(self.state_machine_arn)
        pattern = rule.attributes.get("EventPattern")
        if pattern and not executions.pattern_matches(pattern, event):
            raise StackError(
                f"{self.template_path}: rule {rule.logical_id} would not fire for s3://"
                f"{self.bucket}/{key} (EventPattern {json.dumps(pattern)})"
            )
        return executions.target_input(target, event, rule_arn=rule.attributes["Arn"])

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
        for resource in self.resources.values():
            if resource.type != "AWS::Events::Rule":
                continue
            for target in resource.attributes.get("Targets", []):
                if target.get("Arn") == target_arn:
                    return resource, target
        raise StackError(f"{self.template_path}: no AWS::Events::Rule targets {target_arn}")

    # -- building ------------------------------------------------------------------------------
    def _build(self) -> None:
        try:
            self.expanded = expand(
                self.template_path,
                region=self.region,
                account_id=ACCOUNT_ID,
                stack_name=self.stack_name,
                parameters=self.parameter_overrides,
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
        for logical in _creation_order(exp.resources):
            definition = exp.resources[logical]
            where = f"{self.template_path.name}: {logical}"
            try:
                props = resolver.resolve(
                    definition.get("Properties") or {}, f"{logical}.Properties"
                )
                self.resources[logical] = self._create(logical, definition["Type"], props)
            except (TemplateError, StackError) as exc:
                raise StackError(f"{where}: {exc}") from exc
            except Exception as exc:  # boto3/moto rejected the request
                raise StackError(f"{where} ({definition['Type']}): {exc}") from exc
        for name, output in exp.outputs.items():
            self.outputs[name] = resolver.resolve(output.get("Value"), f"Outputs.{name}")

    def _attribute(self, logical: str, name: str) -> Any:
        resource = self.resources.get(logical)
        if resource is None:
            return None
        return resource.attributes.get(name)

    def _name(self, logical: str, limit: int = 64, lower: bool = False) -> str:
        """CloudFormation-style generated name: stack-LogicalId-suffix, within service limits."""
        suffix = hashlib.sha1(f"{self.stack_name}/{logical}".encode()).hexdigest()[:8]
        stem = f"{self.stack_name}-{logical}"
        if lower:
            stem = re.sub(r"[^a-z0-9-]", "-", stem.lower())
        return f"{stem[: limit - len(suffix) - 1]}-{suffix}"

    def _create(self, logical: str, kind: str, props: dict[str, Any]) -> Resource:
        region, account = self.region, ACCOUNT_ID
        if kind == "AWS::KMS::Key":
            meta = self.client("kms").create_key(Description=props.get("Description", ""))
            meta = meta["KeyMetadata"]
            return Resource(
                logical, kind, meta["KeyId"], {"Arn": meta["Arn"], "KeyId": meta["KeyId"]}, True
            )
        if kind == "AWS::KMS::Alias":
            self.client("kms").create_alias(
                AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"]
            )
            return Resource(logical, kind, props["AliasName"], {}, True)
        if kind == "AWS::IAM::Role":
            name = props.get("RoleName") or self._name(logical)
            role = self.client("iam").create_role(
                RoleName=name,
                Path=props.get("Path", "/"),
                AssumeRolePolicyDocument=json.dumps(props.get("AssumeRolePolicyDocument", {})),
            )["Role"]
            return Resource(
                logical, kind, name, {"Arn": role["Arn"], "RoleId": role["RoleId"]}, True
            )
        if kind == "AWS::S3::Bucket":
            name = props.get("BucketName") or self._name(logical, 63, lower=True)
            s3 = self.client("s3")
            if region == "us-east-1":
                s3.create_bucket(Bucket=name)
            else:
                s3.create_bucket(
                    Bucket=name, CreateBucketConfiguration={"LocationConstraint": region}
                )
            if (props.get("VersioningConfiguration") or {}).get("Status") == "Enabled":
                s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
            return Resource(
                logical,
                kind,
                name,
                {
                    "Arn": f"arn:aws:s3:::{name}",
                    "DomainName": f"{name}.s3.amazonaws.com",
                    "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
                },
                True,
            )
        if kind == "AWS::SNS::Topic":
            name = props.get("TopicName") or self._name(logical, 256)
            arn = self.client("sns").create_topic(Name=name)["TopicArn"]
            return Resource(logical, kind, arn, {"TopicName": name, "TopicArn": arn}, True)
        if kind == "AWS::Logs::LogGroup":
            name = props.get("LogGroupName") or f"/local/{self.stack_name}/{logical}"
            self.client("logs").create_log_group(logGroupName=name)
            return Resource(
                logical,
                kind,
                name,
                {"Arn": f"arn:aws:logs:{region}:{account}:log-group:{name}:*"},
                True,
            )
        if kind == "AWS::Lambda::Function":
            return self._create_function(logical, props)
        if kind == "AWS::StepFunctions::StateMachine":
            return self._create_state_machine(logical, props)
        if kind == "AWS::Events::Rule":
            name = props.get("Name") or self._name(logical)
            arn = f"arn:aws:events:{region}:{account}:rule/{name}"
            targets = props.get("Targets") or []
            pattern = props.get("EventPattern")
            return Resource(
                logical, kind, name, {"Arn": arn, "EventPattern": pattern, "Targets": targets}
            )
        if kind == "AWS::Glue::Database":
            database = props["DatabaseInput"]
            self.client("glue").create_database(DatabaseInput=database)
            return Resource(logical, kind, database["Name"], {}, True)
        if kind == "AWS::Glue::Table":
            table = props["TableInput"]
            self.client("glue").create_table(DatabaseName=props["DatabaseName"], TableInput=table)
            return Resource(logical, kind, table["Name"], {}, True)
        if kind == "AWS::Athena::WorkGroup":
            name = props["Name"]
            self.client("athena").create_work_group(
                Name=name, Description=props.get("Description", "")
            )
            return Resource(logical, kind, name, {}, True)
        if kind == "AWS::Athena::NamedQuery":
            kwargs = {
                k: props[k]
                for k in ("Name", "Database", "QueryString", "Description", "WorkGroup")
                if k in props
            }
            kwargs.setdefault("Name", logical)
            query_id = self.client("athena").create_named_query(**kwargs)["NamedQueryId"]
            return Resource(logical, kind, query_id, {"NamedQueryId": query_id}, True)
        # Not needed to run the pipeline locally: named, so Ref/GetAtt to it still resolve.
        name = self._name(logical)
        return Resource(logical, kind, name, {"Arn": f"arn:aws:local:{region}:{account}:{name}"})

    def _create_function(self, logical: str, props: dict[str, Any]) -> Resource:
        assert self.expanded is not None
        name = props.get("FunctionName") or self._name(logical)
        variables = {
            k: _env_text(v)
            for k, v in ((props.get("Environment") or {}).get("Variables") or {}).items()
        }
        variables.update(self.environment)
        handler = props.get("Handler")
        if not handler:
            raise StackError("Handler is missing")
        config = self.client("lambda").create_function(
            FunctionName=name,
            Runtime=props.get("Runtime", "python3.11"),
            Role=props["Role"],
            Handler=handler,
            Code={"ZipFile": _placeholder_zip()},
            Description=props.get("Description", ""),
            Timeout=int(props.get("Timeout", 3)),
            MemorySize=int(props.get("MemorySize", 128)),
            Environment={"Variables": variables},
        )
        code_dir = self.expanded.code_dirs.get(logical)
        lambda_seam.register_code(name, code_dir)
        self.functions[logical] = FunctionInfo(
            logical, name, config["FunctionArn"], handler, variables, code_dir
        )
        return Resource(
            logical, "AWS::Lambda::Function", name, {"Arn": config["FunctionArn"]}, True
        )

    def _create_state_machine(self, logical: str, props: dict[str, Any]) -> Resource:
        assert self.expanded is not None
        name = props.get("StateMachineName") or self._name(logical, 80)
        if logical in self.expanded.definitions:
            path = self.expanded.definitions[logical]
            text = path.read_text(encoding="utf-8")
            source = str(path)
        elif "Definition" in props:
            text, source = json.dumps(props["Definition"]), "Definition"
        elif "DefinitionString" in props:
            text, source = props["DefinitionString"], "DefinitionString"
        else:
            raise StackError("no DefinitionUri, Definition or DefinitionString")
        text = substitute_definition(text, props.get("DefinitionSubstitutions") or {}, source)
        kwargs: dict[str, Any] = {
            "name": name,
            "definition": text,
            "roleArn": props["RoleArn"],
            "type": props.get("StateMachineType", "STANDARD"),
        }
        arn = self.client("stepfunctions").create_state_machine(**kwargs)["stateMachineArn"]
        return Resource(
            logical,
            "AWS::StepFunctions::StateMachine",
            arn,
            {"Arn": arn, "Name": name, "Definition": text},
            True,
        )


def substitute_definition(text: str, substitutions: Mapping[str, Any], source: str) -> str:
    """Apply DefinitionSubstitutions like Step Functions; refuse any ``${...}`` left over."""
    for key, value in substitutions.items():
        text = text.replace("${" + key + "}", _env_text(value))
    left = sorted(set(re.findall(r"\$\{([^}]*)\}", text)))
    if left:
        raise StackError(f"{source}: no DefinitionSubstitutions for {', '.join(left)}")
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise StackError(f"{source}: not valid JSON after substitution: {exc}") from exc
    return text


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


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


def _creation_order(resources: Mapping[str, dict[str, Any]]) -> list[str]:
    """Dependencies first (Ref/GetAtt/Sub/DependsOn), template order otherwise."""
    deps: dict[str, set[str]] = {}
    for logical, resource in resources.items():
        found = references(resource.get("Properties") or {})
        depends = resource.get("DependsOn") or []
        found |= {depends} if isinstance(depends, str) else set(depends)
        deps[logical] = {d for d in found if d in resources and d != logical}
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(node: str, path: tuple[str, ...]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            raise StackError(f"circular dependency: {' -> '.join((*path, node))}")
        state[node] = 1
        for dep in sorted(deps[node], key=list(resources).index):
            visit(dep, (*path, node))
        state[node] = 2
        order.append(node)

    for logical in resources:
        visit(logical, ())
    return order
