"""`radimpress preflight`: read-only checks of an AWS account before (and after) deploying.

Every check prints one line, ``PASS|FAIL|WARN <check>: <what it means / what to do>``, as it
finishes; exit 0 when nothing failed, 1 when something did (no credentials included), 2 for
unusable arguments. Nothing is created or changed: the calls are sts:GetCallerIdentity,
servicequotas:List*ServiceQuotas, ssm:GetParameter (a public parameter),
cloudformation:DescribeStacks/ListStackResources, iam:SimulatePrincipalPolicy and the JumpStart
metadata reads of a live resolve, with the caller's credentials (boto3's default chain). The
checks themselves live in ``radimpress_workstation.aws_checks``; docs/first-deployment.md says
what each one means and what to do when it fails.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from radimpress_workstation.aws_checks import (
    account_checks,
    live_spec,
    local_checks,
    permissions,
    template_facts,
)
from radimpress_workstation.aws_checks.aws import Clients, make_session
from radimpress_workstation.aws_checks.target import FAIL, WARN, Check, Target
from radimpress_workstation.console import error

EXIT_OK, EXIT_FAILED = 0, 1
DEFAULT_TEMPLATE = "template.yaml"
DEFAULT_SPEC = "functions/radimpress/specs/jumpstart-flan-t5-xl.json"
DEFAULT_STACK = "radimpress"  # samconfig.toml's and the Makefile's
REGION_NAME = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")
# Command-line flags that stand for template parameters (argparse dest -> parameter name).
PARAMETER_FLAGS = {
    "training_instance_type": "TrainingInstanceType",
    "transform_instance_type": "TransformInstanceType",
    "pandas_layer_version": "PandasLayerVersion",
    "pandas_layer_arn": "PandasLayerArn",
}
ACCOUNT_CHECKS = ("jumpstart-live", "stack", "quotas", "pandas-layer", "permissions")


class Unusable(Exception):
    def __init__(self, what: str, where: str | Path | None = None) -> None:
        super().__init__(what)
        self.what, self.where = what, where


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "preflight",
        help="read-only checks of AWS credentials, region, quotas and permissions for a deploy",
        description=(
            "Read-only checks with your AWS credentials before (and after) `make deploy`: "
            "credentials, region, stack name, the JumpStart spec (against the live metadata), "
            "the template's function policies, SageMaker quotas, the pandas layer parameter "
            "and, once deployed, each function role's permissions. One line per check "
            "(PASS/FAIL/WARN). Exit 0 when nothing fails, 1 when something does, 2 for unusable "
            "arguments. docs/first-deployment.md says what to do on each FAIL."
        ),
    )
    parser.add_argument("--region", help="AWS region (default: your AWS_REGION / profile's)")
    parser.add_argument(
        "--stack-name", default=DEFAULT_STACK, help=f"stack to check (default: {DEFAULT_STACK})"
    )
    parser.add_argument(
        "--template", default=DEFAULT_TEMPLATE, help=f"SAM template (default: {DEFAULT_TEMPLATE})"
    )
    parser.add_argument(
        "--spec", default=DEFAULT_SPEC, help=f"resolved JumpStart spec (default: {DEFAULT_SPEC})"
    )
    parser.add_argument(
        "--training-instance-type",
        help="instance type to check quotas for (default: the deployed stack's, else the "
        "template's TrainingInstanceType)",
    )
    parser.add_argument(
        "--transform-instance-type", help="likewise for Batch Transform (TransformInstanceType)"
    )
    parser.add_argument(
        "--pandas-layer-version",
        help="AWS SDK for pandas release (default: the deployed stack's, else the template's)",
    )
    parser.add_argument(
        "--pandas-layer-arn", help="a layer ARN given as PandasLayerArn (then SSM is not read)"
    )
    parser.add_argument(
        "--no-live-spec",
        action="store_true",
        help="skip resolving the JumpStart spec from the live metadata (SageMaker SDK v2) and "
        "comparing it with the shipped one",
    )
    parser.add_argument("--json", action="store_true", help="print the checks as one JSON object")
    parser.set_defaults(handler=run)


def read_json_spec(path: Path) -> dict:
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise Unusable("not a JSON model spec", path) from None
    if not isinstance(spec, dict):
        raise Unusable("not a JSON model spec", path)
    return spec


def build_target(args: argparse.Namespace) -> Target:
    """The files read and the session made; Unusable for what a user must fix first."""
    template_path, spec_path = Path(args.template), Path(args.spec)
    for path in (template_path, spec_path):
        if not path.is_file():
            raise Unusable("no such file", path)
    try:
        template = template_facts.load_template(template_path)
    except ValueError as err:
        raise Unusable(f"not a usable template ({err})", template_path) from None
    spec = read_json_spec(spec_path)
    session = make_session(args.region)
    region = args.region or session.region_name
    if not region:
        raise Unusable("no region: pass --region or set AWS_REGION (or a profile's region)")
    if not REGION_NAME.fullmatch(region):
        raise Unusable(f"{region!r} is not an AWS region name (e.g. us-east-1)")
    overrides = {name: getattr(args, dest) for dest, name in PARAMETER_FLAGS.items()}
    return Target(
        template_path=template_path,
        template=template,
        spec_path=spec_path,
        spec=spec,
        region=region,
        stack_name=args.stack_name,
        clients=Clients(session, region),
        overrides={name: value for name, value in overrides.items() if value},
    )


def checks(target: Target, *, live: bool = True) -> Iterator[Check]:
    """Every check, in order; the account's only once the credentials work."""
    yield account_checks.credentials(target)
    yield from local_checks.region(target)
    yield local_checks.stack_name(target)
    yield local_checks.jumpstart_spec(target)
    yield from local_checks.template_policies(target)
    if target.account is None:
        for name in ACCOUNT_CHECKS:
            yield Check(WARN, name, "not checked: no usable AWS credentials (see 'credentials')")
        return
    if live:
        yield live_spec.live_spec(target)
    yield account_checks.stack_status(target)
    yield from account_checks.instance_types(target)
    yield from account_checks.quotas(target)
    yield account_checks.pandas_layer(target)
    yield from permissions.permissions(target)


def report(target: Target, done: list[Check]) -> str:
    """The closing line, or with --json the whole report."""
    failed = sum(c.status == FAIL for c in done)
    warned = sum(c.status == WARN for c in done)
    return json.dumps(
        {
            "region": target.region,
            "stack_name": target.stack_name,
            "account": target.account,
            "failed": failed,
            "warnings": warned,
            "checks": [asdict(c) for c in done],
        },
        indent=2,
    )


def run(args: argparse.Namespace) -> int:
    try:
        target = build_target(args)
    except Unusable as err:
        return error("preflight", err.what, err.where)
    done: list[Check] = []
    for check in checks(target, live=not args.no_live_spec):
        done.append(check)
        if not args.json:
            print(check.line(), flush=True)
    failed = sum(c.status == FAIL for c in done)
    if args.json:
        print(report(target, done))
    else:
        warned = sum(c.status == WARN for c in done)
        tail = "; docs/first-deployment.md says what to do on each FAIL" if failed else ""
        print(f"{len(done)} checks: {failed} failed, {warned} warnings{tail}")
    return EXIT_FAILED if failed else EXIT_OK
