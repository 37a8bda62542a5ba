"""Public SSM parameters as AWS publishes them, so a deploy-time lookup is checked offline.

CloudFormation resolves ``{{resolve:ssm:NAME}}`` when the stack is created and fails the deploy
when NAME does not exist in the stack's region. moto has no AWS public parameters, so the
embedded stack resolves these references against ``public_parameters.json``: real parameter names
and values copied from their publisher's documentation (the file names its source). A reference
to a parameter missing there fails the local stack the way the deploy would fail.
Source for the syntax: CloudFormation User Guide, "Get a plaintext value from AWS Systems Manager
Parameter Store" (``{{resolve:ssm:parameter-name:version}}``, version optional).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

TABLE = Path(__file__).with_name("public_parameters.json")
_REFERENCE = re.compile(r"^\{\{resolve:ssm:(?P<name>[^:}]+)(?::(?P<version>\d+))?\}\}$")


class MissingPublicParameter(LookupError):
    """The deploy would fail: the parameter does not exist in that region."""


@cache
def table() -> dict[str, Any]:
    return json.loads(TABLE.read_text(encoding="utf-8"))


def parameter_name(reference: str) -> str | None:
    """NAME of a ``{{resolve:ssm:NAME}}`` reference, None for a plain value."""
    match = _REFERENCE.match(reference) if isinstance(reference, str) else None
    return match["name"] if match else None


def lookup(name: str, region: str) -> str:
    """The parameter's value in ``region``, as SSM's GetParameter would return it."""
    by_region = table()["parameters"].get(name)
    if by_region is None:
        known = ", ".join(sorted(table()["parameters"]))
        raise MissingPublicParameter(
            f"SSM parameter {name} does not exist (public parameters known: {known}); "
            "CloudFormation would fail the deploy at this {{resolve:ssm:...}} reference"
        )
    if region not in by_region:
        raise MissingPublicParameter(f"SSM parameter {name} is not published in {region}")
    return str(by_region[region])


def resolve_dynamic_reference(value: Any, region: str) -> Any:
    """``value`` with an SSM dynamic reference replaced by the parameter's value."""
    if isinstance(value, str) and "{{resolve:" in value:
        name = parameter_name(value)
        if name is None:
            raise MissingPublicParameter(f"{value}: not a dynamic reference the stack can resolve")
        return lookup(name, region)
    return value
