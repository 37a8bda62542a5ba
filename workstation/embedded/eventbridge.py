"""The template's EventBridge rules applied by hand: the events AWS services send (S3's "Object
Created", SageMaker's model package changes, Step Functions' execution status changes), the rules
that match them, and the input each target is given.

Bucket notifications are not wired in moto (moto would route them itself); the embedded stack
builds the event S3 sends for a PutObject, finds the ``AWS::Events::Rule`` whose target is the
state machine, checks the rule's EventPattern (with moto's own matcher) and applies the target's
InputTransformer / Input / InputPath, so the local execution input is the one the template's rule
produces in the cloud.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from radimpress_workstation.embedded.moto_config import ACCOUNT_ID
from radimpress_workstation.embedded.resources import Resource


def envelope(
    detail_type: str, source: str, region: str, resources: list[str], detail: dict[str, Any]
) -> dict[str, Any]:
    """An EventBridge event as AWS services send it (EventBridge user guide, "Events": version,
    id, detail-type, source, account, time, region, resources, detail)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": resources,
        "detail": detail,
    }


def object_created_event(
    bucket: str, key: str, region: str, *, size: int, etag: str, version_id: str | None
) -> dict[str, Any]:
    """The EventBridge event S3 sends for a PutObject (shape of the AWS documentation)."""
    detail_object: dict[str, Any] = {
        "key": key,
        "size": size,
        "etag": etag,
        "sequencer": uuid.uuid4().hex[:18].upper(),
    }
    if version_id:
        detail_object["version-id"] = version_id
    detail = {
        "version": "0",
        "bucket": {"name": bucket},
        "object": detail_object,
        "request-id": uuid.uuid4().hex[:16].upper(),
        "requester": ACCOUNT_ID,
        "source-ip-address": "127.0.0.1",
        "reason": "PutObject",
    }
    return envelope("Object Created", "aws.s3", region, [f"arn:aws:s3:::{bucket}"], detail)


def model_package_state_change_event(package: Mapping[str, Any], region: str) -> dict[str, Any]:
    """The event SageMaker sends when a model package is created or its status changes: detail
    is the package's description (SageMaker developer guide, "Model package state change"; the
    MLOps project templates' deploy rules match detail.ModelPackageGroupName and
    detail.ModelApprovalStatus)."""
    detail = {
        k: (v.isoformat() if isinstance(v, datetime) else v)
        for k, v in package.items()
        if k != "ResponseMetadata"
    }
    resources = [str(package.get("ModelPackageArn", ""))]
    return envelope(
        "SageMaker Model Package State Change", "aws.sagemaker", region, resources, detail
    )


def execution_status_change_event(ending: Mapping[str, Any], region: str) -> dict[str, Any]:
    """The event Step Functions sends when a standard workflow's execution changes status (Step
    Functions developer guide, "EventBridge (CloudWatch Events) for Step Functions execution
    status changes", https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html):
    detail holds the execution's ARN, its state machine's, its name, status, start and stop
    dates in epoch milliseconds, input and output as JSON strings with ``inputDetails`` /
    ``outputDetails``, and the error and cause of an execution that did not succeed. ``ending``
    is DescribeExecution's fields (``executions.ended``)."""

    def millis(value: Any) -> int | None:
        return int(value.timestamp() * 1000) if isinstance(value, datetime) else None

    def text(value: Any) -> str | None:
        return None if value is None else value if isinstance(value, str) else json.dumps(value)

    status = str(ending["status"])
    detail: dict[str, Any] = {
        "executionArn": ending["executionArn"],
        "stateMachineArn": ending["stateMachineArn"],
        "name": ending["name"],
        "status": status,
        "startDate": millis(ending.get("startDate")),
        "stopDate": millis(ending.get("stopDate")),
        "input": text(ending.get("input")),
        "output": text(ending.get("output")),
        "inputDetails": {"included": True},
        "outputDetails": {"included": True} if ending.get("output") is not None else None,
    }
    if status != "SUCCEEDED":
        detail.update(error=ending.get("error"), cause=ending.get("cause"))
    return envelope(
        "Step Functions Execution Status Change",
        "aws.states",
        region,
        [ending["executionArn"]],
        detail,
    )


def rules_matching(
    resources: Iterable[Resource], event: Mapping[str, Any]
) -> list[tuple[Resource, dict[str, Any]]]:
    """(rule, target) of every ``AWS::Events::Rule`` whose EventPattern matches ``event``."""
    found = []
    for resource in resources:
        if resource.type != "AWS::Events::Rule":
            continue
        pattern = resource.attributes.get("EventPattern")
        if pattern and pattern_matches(pattern, event):
            found += [(resource, target) for target in resource.attributes.get("Targets", [])]
    return found


def rule_targeting(
    resources: Iterable[Resource], target_arn: str
) -> tuple[Resource, dict[str, Any]] | None:
    """The first ``AWS::Events::Rule`` with a target ``target_arn``, and that target."""
    for resource in resources:
        if resource.type != "AWS::Events::Rule":
            continue
        for target in resource.attributes.get("Targets", []):
            if target.get("Arn") == target_arn:
                return resource, target
    return None


def pattern_matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """EventBridge pattern matching, by moto's implementation (prefix, anything-but, ...)."""
    from moto.events.models import EventPattern

    return EventPattern.load(json.dumps(pattern)).matches_event(dict(event))


def _json_path(event: Any, path: str) -> Any:
    """The simple JSONPath EventBridge allows in InputPathsMap/InputPath ($.a.b[0].c)."""
    if path == "$":
        return event
    if not path.startswith("$"):
        raise ValueError(f"InputPath {path!r} must start with $")
    value = event
    for name, index in re.findall(r"\.([^.\[]+)|\[(\d+)\]", path[1:]):
        if value is None:
            return None
        value = (
            value.get(name) if name else (value[int(index)] if len(value) > int(index) else None)
        )
    return value


def target_input(
    target: Mapping[str, Any], event: Mapping[str, Any], *, rule_arn: str = ""
) -> dict[str, Any]:
    """The input an EventBridge target delivers for ``event`` (Input, InputPath or transformer)."""
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        return _json_path(event, target["InputPath"])
    transformer = target.get("InputTransformer")
    if not transformer:
        return dict(event)
    values = {
        name: _json_path(event, path)
        for name, path in (transformer.get("InputPathsMap") or {}).items()
    }
    values["aws.events.event"] = event
    values["aws.events.event.json"] = event
    values["aws.events.rule-arn"] = rule_arn
    values["aws.events.rule-name"] = rule_arn.rsplit("/", 1)[-1]
    values["aws.events.event.ingestion-time"] = event.get("time")
    text = _fill_template(transformer["InputTemplate"], values)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"InputTemplate does not give JSON after substitution: {exc}") from exc


def _fill_template(template: str, values: Mapping[str, Any]) -> str:
    """Replace <name> placeholders: JSON values outside quotes, raw text inside a string."""
    out: list[str] = []
    in_string = False
    i = 0
    while i < len(template):
        ch = template[i]
        if ch == "\\" and in_string:
            out.append(template[i : i + 2])
            i += 2
            continue
        if ch == '"':
            in_string = not in_string
        if ch == "<":
            end = template.find(">", i)
            name = template[i + 1 : end] if end > 0 else ""
            if name in values:
                value = values[name]
                if in_string:
                    text = value if isinstance(value, str) else json.dumps(value)
                    out.append(json.dumps(text)[1:-1])
                else:
                    out.append(json.dumps(value))
                i = end + 1
                continue
        out.append(ch)
        i += 1
    return "".join(out)
