"""What ``radimpress models`` reads from an account: every version of a stack's model package
group, the one the next inference run will use, and the one the stack's endpoint serves.

"The next inference run" is ResolveModels' own rule (``radimpress.registry.newest_approved``:
the Approved version whose training finished last, among versions of the stack's model spec),
applied to the versions as listed here, so the CLI and the pipeline cannot disagree on it.

The endpoint is optional (template parameter ``DeployEndpoint``): ``<stack>-endpoint`` serves
the SageMaker model named in its endpoint config's production variant, which is a version's
``sagemaker_model`` metadata (steps/deploy_endpoint.py builds the config from it). Everything
here only reads: DescribeModelPackageGroup, ListModelPackages, DescribeModelPackage,
DescribeEndpoint, DescribeEndpointConfig and, without ``--spec``, CloudFormation DescribeStacks.

Error answers relied on (SageMaker API reference; moto 5.2 answers the same):
DescribeModelPackageGroup of a missing group and DescribeEndpoint of a missing endpoint are
``ValidationException`` ("ModelPackageGroup <arn> does not exist.", "Could not find endpoint
<arn>."); CloudFormation DescribeStacks of a missing stack is ``ValidationError`` ("Stack with
id <name> does not exist").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from radimpress import registry
from radimpress.errors import SpecError, aws_call, error_code
from radimpress.spec import load_spec

SPEC_PARAMETER = "ModelSpec"  # template.yaml's parameter (RADIMPRESS_MODEL_SPEC)


class NotUsable(Exception):
    """What the operator named does not exist (a group, a stack, a version, a spec): exit 2."""


def endpoint_name(stack_name: str) -> str:
    """The stack's optional real-time endpoint (steps/deploy_endpoint.py names it the same)."""
    return f"{stack_name}-endpoint"


def _is(err: ClientError, code: str, words: str) -> bool:
    return error_code(err) == code and words in str(err).lower()


def require_group(sagemaker: Any, group: str) -> None:
    """NotUsable when the stack has no model package group (not deployed, another region)."""
    try:
        with aws_call(f"model package group {group}: describe"):
            sagemaker.describe_model_package_group(ModelPackageGroupName=group)
    except ClientError as err:
        if _is(err, "ValidationException", "does not exist"):
            raise NotUsable(f"no model package group {group}") from None
        raise


def stack_spec(cloudformation: Any, stack_name: str) -> str:
    """The deployed stack's ModelSpec parameter: the spec its ResolveModels Lambda loads."""
    try:
        with aws_call(f"stack {stack_name}: describe"):
            stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as err:
        if _is(err, "ValidationError", "does not exist"):
            raise NotUsable(
                f"no CloudFormation stack {stack_name} to read its {SPEC_PARAMETER} from "
                "(pass --spec NAME, e.g. for the embedded stack)"
            ) from None
        raise
    for parameter in stacks[0].get("Parameters") or []:
        if parameter.get("ParameterKey") == SPEC_PARAMETER:
            return str(parameter.get("ParameterValue") or "")
    raise NotUsable(f"stack {stack_name} has no {SPEC_PARAMETER} parameter (pass --spec NAME)")


def spec_match(spec_name: str) -> dict[str, str]:
    """The metadata ResolveModels matches versions on (steps/resolve_models.py)."""
    try:
        spec = load_spec(spec_name, region="")
    except SpecError as err:
        raise NotUsable(f"model spec {spec_name}: {err}") from None
    return registry.trained_with(spec)


def versions(sagemaker: Any, group: str) -> list[registry.Package]:
    """Every version of ``group``, newest created first (the order ResolveModels reads in)."""
    return [
        registry.describe(sagemaker, summary["ModelPackageArn"])
        for summary in registry.package_summaries(sagemaker, group)
    ]


def find_version(sagemaker: Any, group: str, version: int) -> registry.Package:
    """One version by number; NotUsable naming the versions there are when it does not exist."""
    numbers = []
    for summary in registry.package_summaries(sagemaker, group):
        number = int(summary.get("ModelPackageVersion") or 0)
        if number == version:
            return registry.describe(sagemaker, summary["ModelPackageArn"])
        numbers.append(number)
    there = ", ".join(f"v{n}" for n in sorted(numbers)) or "none"
    raise NotUsable(f"model package group {group} has no version {version} (versions: {there})")


@dataclass(frozen=True)
class EndpointUse:
    """What ``<stack>-endpoint`` serves: its config's models and the versions they stand for."""

    name: str
    status: str
    config: str
    models: tuple[str, ...]
    versions: tuple[int, ...]  # the versions among ``models`` (a model of no version: left out)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "endpoint_config": self.config,
            "models": list(self.models),
            "versions": list(self.versions),
        }


def endpoint_use(sagemaker: Any, name: str, packages: list[registry.Package]) -> EndpointUse | None:
    """The endpoint's current config and the versions it serves; None when there is none."""
    try:
        with aws_call(f"endpoint {name}: describe"):
            endpoint = sagemaker.describe_endpoint(EndpointName=name)
    except ClientError as err:
        if _is(err, "ValidationException", "could not find"):
            return None
        raise
    config = str(endpoint.get("EndpointConfigName") or "")
    with aws_call(f"endpoint config {config}: describe"):
        variants = sagemaker.describe_endpoint_config(EndpointConfigName=config).get(
            "ProductionVariants", []
        )
    models = tuple(str(v.get("ModelName") or "") for v in variants)
    by_model = {p.metadata.get("sagemaker_model"): p.version for p in packages}
    return EndpointUse(
        name=name,
        status=str(endpoint.get("EndpointStatus") or ""),
        config=config,
        models=models,
        versions=tuple(by_model[m] for m in models if m in by_model),
    )


def version_json(
    package: registry.Package, *, next_inference: bool, endpoint: bool
) -> dict[str, Any]:
    """One version as ``radimpress models list --json`` prints it."""
    meta = package.metadata
    records = meta.get("train_records", "")
    return {
        "version": package.version,
        "arn": package.arn,
        "status": package.status,
        "trained_at": meta.get("trained_at", ""),
        "training_job": meta.get("training_job", ""),
        "training_run_id": meta.get("training_run_id", ""),
        "dataset": meta.get("dataset", ""),
        "train_records": int(records) if records.isdigit() else None,
        "gate": gate_figures(meta),
        "approval_description": package.description,
        "next_inference_run": next_inference,
        "endpoint": endpoint,
        "metadata": dict(meta),
    }


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def gate_figures(meta: Mapping[str, str]) -> dict[str, Any] | None:
    """The promotion gate's figures (steps/promote.py writes them); None if it never judged."""
    if "gate_verdict" not in meta and "gate_metric" not in meta:
        return None
    return {
        "metric": meta.get("gate_metric", ""),
        "margin": _number(meta.get("gate_margin")),
        "candidate": _number(meta.get("gate_candidate")),
        "baseline": _number(meta.get("gate_baseline")),
        "baseline_package": meta.get("gate_baseline_package", ""),
        "verdict": meta.get("gate_verdict", ""),
    }
