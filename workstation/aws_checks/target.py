"""What ``radimpress preflight`` checks (the files, the account, the region, the stack) and the
one-line result of each check."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radimpress_workstation.aws_checks import template_facts
from radimpress_workstation.aws_checks.aws import Clients

PASS, FAIL, WARN = "PASS", "FAIL", "WARN"


@dataclass(frozen=True)
class Check:
    """``<status> <name>: <message>``; a FAIL or WARN message says what to do about it."""

    status: str
    name: str
    message: str

    def line(self) -> str:
        return f"{self.status} {self.name}: {self.message}"


@dataclass
class Target:
    """The checks' shared input; the account checks fill in ``account``, ``partition``, ``stack``.

    ``overrides`` are template parameter values given on the command line; they win over the
    deployed stack's values, which win over the template's defaults.
    """

    template_path: Path
    template: dict[str, Any]
    spec_path: Path
    spec: dict[str, Any]
    region: str
    stack_name: str
    clients: Clients
    overrides: dict[str, str] = field(default_factory=dict)
    account: str | None = None
    partition: str = "aws"
    stack: dict[str, Any] | None = None  # DescribeStacks' entry, once found

    def parameter(self, name: str) -> str:
        """A parameter's value: the command line's, else the deployed stack's, else the default."""
        if self.overrides.get(name):
            return self.overrides[name]
        for item in (self.stack or {}).get("Parameters", []):
            if item.get("ParameterKey") == name and "ParameterValue" in item:
                return str(item["ParameterValue"])
        return template_facts.parameter_default(self.template, name) or ""

    @property
    def refresh(self) -> str:
        """The command that rewrites the JumpStart spec from the live metadata."""
        return f"`make resolve-jumpstart REGION={self.region}`"
