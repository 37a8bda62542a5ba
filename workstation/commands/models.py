"""`radimpress models`: the fine-tuned model versions of a deployed stack, for operators.

``list`` shows every version of the stack's model package group (``<stack>-fine-tuned``),
newest first, with its status, training lineage, the promotion gate's figures and why it was
approved or not, and marks the version the next inference run will use and the one the
stack's endpoint serves. ``approve`` / ``reject`` set a version's status (UpdateModelPackage,
the reason as its ApprovalDescription) and say what the next inference run uses afterwards:
rejecting the version in use is the rollback (the newest remaining Approved one takes over).

Credentials come from boto3's default chain, as for ``preflight`` and ``smoke``. Exit 0 when
done; 1 when an AWS call fails (no credentials, access denied, throttling: one line); 2 for
what the operator must fix first (no region, a stack name or version that does not exist).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from radimpress import registry
from radimpress.errors import TransientAwsError
from radimpress_workstation import model_versions
from radimpress_workstation.aws_checks.aws import AWS_ERRORS, Clients, error_line, make_session
from radimpress_workstation.aws_checks.local_checks import STACK_NAME
from radimpress_workstation.console import error, shown
from radimpress_workstation.model_versions import NotUsable

EXIT_OK, EXIT_FAILED = 0, 1
DESCRIPTION_MAX = 1024  # UpdateModelPackage ApprovalDescription (botocore's sagemaker model)
VERSION = re.compile(r"v?([1-9][0-9]{0,8})")
DECISIONS = {"approve": registry.APPROVED, "reject": registry.REJECTED}
DONE = {"approve": "approved", "reject": "rejected"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list a deployed stack's fine-tuned model versions; approve or reject one",
        description=(
            "The Model Registry versions of a deployed stack (group <stack>-fine-tuned), with "
            "AWS credentials. `list`: every version, newest first, with status, training, the "
            "promotion gate's figures and which version the next inference run and the "
            "endpoint use. `approve`/`reject VERSION`: set its status, then say what the next "
            "inference run uses (rejecting the version in use rolls back to the newest other "
            "Approved one). Exit 0 when done, 1 when an AWS call fails, 2 for unusable "
            "arguments or a version that does not exist."
        ),
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every version, newest first")
    _common(listing)
    for action, status in DECISIONS.items():
        decide = actions.add_parser(action, help=f"set a version {status}")
        decide.add_argument("version", metavar="VERSION", help="version number (3 or v3)")
        decide.add_argument(
            "--reason",
            default="",
            help=f"why (the version's ApprovalDescription, at most {DESCRIPTION_MAX} characters; "
            f"default: '{DONE[action]} with radimpress models')",
        )
        _common(decide)
    parser.set_defaults(handler=run)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack-name", required=True, help="the deployed stack")
    parser.add_argument("--region", help="AWS region (default: your AWS_REGION / profile's)")
    parser.add_argument(
        "--spec",
        help="model spec whose versions inference runs use (default: the stack's ModelSpec "
        "parameter, read with cloudformation:DescribeStacks)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def unusable(args: argparse.Namespace) -> str | None:
    """What is wrong with the arguments, before any AWS call."""
    if not STACK_NAME.fullmatch(args.stack_name):
        return (
            f"--stack-name {args.stack_name!r}: lowercase letters, digits and hyphens, a letter "
            "first, at most 39 characters"
        )
    if args.action != "list":
        if not VERSION.fullmatch(args.version):
            return f"VERSION {args.version!r}: a version number such as 3 (or v3)"
        if len(args.reason) > DESCRIPTION_MAX:
            return f"--reason: {len(args.reason)} characters (at most {DESCRIPTION_MAX})"
    return None


def run(args: argparse.Namespace) -> int:
    if problem := unusable(args):
        return error("models", problem)
    session = make_session(args.region)
    region = args.region or session.region_name
    if not region:
        return error("models", "no region: pass --region or set AWS_REGION (or a profile's region)")
    clients = Clients(session, region)
    try:
        if args.action == "list":
            return list_versions(clients, args)
        return decide(clients, args)
    except NotUsable as err:
        return error("models", str(err), f"stack {args.stack_name} in {region}")
    except (*AWS_ERRORS, TransientAwsError) as err:
        print(f"radimpress models: AWS call failed: {error_line(err)}", file=sys.stderr, flush=True)
        return EXIT_FAILED


def _group_and_match(clients: Clients, args: argparse.Namespace) -> tuple[str, dict[str, str]]:
    group = registry.group_name(args.stack_name)
    model_versions.require_group(clients("sagemaker"), group)
    spec = args.spec or model_versions.stack_spec(clients("cloudformation"), args.stack_name)
    return group, model_versions.spec_match(spec)


def list_versions(clients: Clients, args: argparse.Namespace) -> int:
    sagemaker = clients("sagemaker")
    group, match = _group_and_match(clients, args)
    packages = model_versions.versions(sagemaker, group)
    following = registry.newest_approved(packages, matching=match)
    endpoint = model_versions.endpoint_use(
        sagemaker, model_versions.endpoint_name(args.stack_name), packages
    )
    served = set(endpoint.versions) if endpoint else set()
    newest_first = sorted(packages, key=lambda p: p.version, reverse=True)
    rows = [
        model_versions.version_json(
            p,
            next_inference=following is not None and p.arn == following.arn,
            endpoint=p.version in served,
        )
        for p in newest_first
    ]
    if args.json:
        report = {
            "stack_name": args.stack_name,
            "region": clients.region,
            "group": group,
            "spec": match,
            "next_inference_run": _brief(following),
            "endpoint": endpoint.as_json() if endpoint else None,
            "versions": rows,
        }
        print(json.dumps(report, indent=2))
        return EXIT_OK
    print(shown(f"{group} in {clients.region}: {len(rows)} versions, newest first"))
    print(shown(_next_line(following, match)))
    print(shown(_endpoint_line(model_versions.endpoint_name(args.stack_name), endpoint)))
    for row in rows:
        print(shown(_version_block(row)))
    return EXIT_OK


def decide(clients: Clients, args: argparse.Namespace) -> int:
    sagemaker = clients("sagemaker")
    group, match = _group_and_match(clients, args)
    number = int(VERSION.fullmatch(args.version).group(1))  # type: ignore[union-attr]
    package = model_versions.find_version(sagemaker, group, number)
    status = DECISIONS[args.action]
    reason = args.reason or f"{DONE[args.action]} with radimpress models"
    registry.set_status(sagemaker, package.arn, status, description=reason)
    following = registry.latest_approved(sagemaker, group, matching=match)
    if args.json:
        result = {
            "version": package.version,
            "arn": package.arn,
            "status": status,
            "previous_status": package.status,
            "reason": reason,
            "next_inference_run": _brief(following),
        }
        print(json.dumps(result, indent=2))
        return EXIT_OK
    was = "" if package.status == status else f" (was {package.status})"
    print(shown(f"v{package.version} {status}{was}: {reason}"))
    print(shown(_next_line(following, match)))
    return EXIT_OK


def _brief(package: registry.Package | None) -> dict[str, Any] | None:
    if package is None:
        return None
    return {
        "version": package.version,
        "arn": package.arn,
        "training_job": package.metadata.get("training_job", ""),
    }


def _next_line(package: registry.Package | None, match: dict[str, str]) -> str:
    if package is None:
        return (
            f"next inference run: no Approved version of spec {match['spec']} "
            "(the pre-trained model only)"
        )
    return f"next inference run: v{package.version} ({package.metadata.get('training_job', '')})"


def _endpoint_line(name: str, endpoint: model_versions.EndpointUse | None) -> str:
    if endpoint is None:
        return f"endpoint {name}: none"
    serves = ", ".join(f"v{v}" for v in endpoint.versions) or (
        f"{', '.join(endpoint.models) or 'no model'} (no version of this group)"
    )
    return f"endpoint {name}: {endpoint.status}, serves {serves} ({endpoint.config})"


def _or_dash(value: Any) -> str:
    return "-" if value in (None, "") else str(value)


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _version_block(row: dict[str, Any]) -> str:
    uses = [
        name
        for name, on in (
            ("next inference run", row["next_inference_run"]),
            ("endpoint", row["endpoint"]),
        )
        if on
    ]
    marks = f"  <- {', '.join(uses)}" if uses else ""
    lines = [
        f"v{row['version']}  {row['status']}{marks}",
        f"    trained {_or_dash(row['trained_at'])}  job {_or_dash(row['training_job'])}  "
        f"run {_or_dash(row['training_run_id'])}",
        f"    dataset {_or_dash(row['dataset'])}  train records {_or_dash(row['train_records'])}",
    ]
    gate = row["gate"]
    if gate:
        lines.append(
            f"    gate {_or_dash(gate['metric'])}: candidate {_figure(gate['candidate'])}, "
            f"approved {_figure(gate['baseline'])} -> {_or_dash(gate['verdict'])}"
        )
    if row["approval_description"]:
        lines.append(f"    why: {row['approval_description']}")
    return "\n".join(lines)
