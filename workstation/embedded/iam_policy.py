"""Decide an AWS request the way IAM would, so the embedded stack refuses what AWS refuses.

moto checks no role policy, bucket policy or KMS key policy: without this module a bucket policy
that would refuse every upload in AWS passes every local test. Pure and standard library only: it
reads policy documents (CloudFormation intrinsics already resolved) and one request, and answers
Allowed, ImplicitlyDenied or ExplicitlyDenied.

What it follows, by AWS documentation page:
- "Policy evaluation logic" and "Determining whether a request is allowed or denied within an
  account": same-account only; an explicit Deny anywhere wins, then an Allow in an identity policy
  or in the resource policy grants, else the request is implicitly denied.
- "Key policies in AWS KMS" and "Allows access to the AWS account and enables IAM policies": a KMS
  key policy must grant, to the principal itself or, through its account root, to IAM policies.
- "IAM JSON policy elements: Condition operators" and "Condition with multiple context keys or
  values": the operators, IfExists, Null, ForAnyValue / ForAllValues, AND across operators and
  keys, OR across one key's values (NOR for negated operators).
- "Single-valued vs. multivalued context keys": a key with several values in the request needs
  ForAnyValue / ForAllValues; a plain operator on it raises (AWS defines no answer for it).
- "AWS JSON policy elements: NotPrincipal": a principal is exempt only when every identity it is
  evaluated as (the role, then its account) is listed.

A policy this module cannot read faithfully (an unknown operator, a policy variable, a malformed
statement) raises ValueError rather than being matched some way: a typo must fail a test.
"""

from __future__ import annotations

import ipaddress
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from functools import lru_cache
from typing import Any, Literal

Context = Mapping[str, str | bool | int | Sequence[str]]


@dataclass(frozen=True)
class AuthzRequest:
    """One call: who (role ARN, account root ARN or service principal), what, on which ARN."""

    principal: str
    action: str
    resource: str
    context: Context = field(default_factory=dict)


class Decision(str, Enum):  # noqa: UP042 (the agreed API fixes (str, Enum))
    ALLOWED = "Allowed"
    IMPLICITLY_DENIED = "ImplicitlyDenied"
    EXPLICITLY_DENIED = "ExplicitlyDenied"


@dataclass(frozen=True)
class Evaluation:
    """The decision and the one statement that decided it (no request data but its names)."""

    decision: Decision
    reason: str

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOWED


# --- wildcards and names ------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """``*`` any run of characters, ``?`` one character, everything else literal."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _like(value: str, pattern: str, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _text(value: Any) -> str:
    """Policy and context scalars as IAM sees them: CloudFormation may keep bools and numbers."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _no_variables(values: list[str], where: str) -> list[str]:
    """Policy variables (``${aws:username}``) are not substituted here; refuse rather than miss."""
    for value in values:
        if "${" in value:
            raise ValueError(f"policy variable in {where}: {value!r} (not supported)")
    return values


_ROOT = re.compile(r"(\d{12})|arn:[^:]+:iam::(\d{12}):root")


def _root_account(name: str) -> str | None:
    """The account of an account principal: ``arn:aws:iam::123456789012:root`` or bare id."""
    found = _ROOT.fullmatch(name)
    return (found.group(1) or found.group(2)) if found else None


def _identities(principal: str) -> list[str]:
    """What AWS evaluates a caller as: itself, then (for an IAM/STS ARN) its account root."""
    parts = principal.split(":")
    if len(parts) < 6 or parts[0] != "arn" or _root_account(principal):
        return [principal]
    return [principal, f"arn:{parts[1]}:iam::{parts[4]}:root"]


def _named(spec: Any, identity: str) -> bool:
    """Whether a Principal element names this exact identity (account id == account root)."""
    if spec == "*":
        return True
    if not isinstance(spec, Mapping):
        raise ValueError(f"Principal must be '*' or a mapping, got {spec!r}")
    for kind, values in spec.items():
        for value in map(str, _listed(values)):
            if value == identity or (kind == "AWS" and value == "*"):
                return True
            account = _root_account(value) if kind == "AWS" else None
            if account is not None and account == _root_account(identity):
                return True
    return False


# --- conditions ---------------------------------------------------------------------------------

Compare = Callable[[str, str], bool]


def _typed(
    parse_actual: Callable[[str], Any], parse_expected: Callable[[str], Any], test: Any
) -> Compare:
    """A comparison on parsed values: a bad policy value raises, a bad request value is false."""

    def compare(actual: str, expected: str) -> bool:
        want = parse_expected(expected)
        try:
            got = parse_actual(actual)
        except ValueError:
            return False
        return bool(test(got, want))

    return compare


def _epoch(text: str) -> float:
    """ISO 8601 (naive means UTC) or seconds since the epoch."""
    try:
        return float(text)
    except ValueError:
        moment = datetime.fromisoformat(text)
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _arn_like(actual: str, pattern: str) -> bool:
    """ARN operators: the six colon-separated parts compared one by one, wildcards in each."""
    got, want = actual.split(":", 5), pattern.split(":", 5)
    return len(got) == len(want) == 6 and all(map(_like, got, want))


_POSITIVE: dict[str, Compare] = {
    "StringEquals": lambda a, e: a == e,
    "StringEqualsIgnoreCase": lambda a, e: a.casefold() == e.casefold(),
    "StringLike": _like,
    "Bool": lambda a, e: a.lower() == e.lower(),
    "ArnEquals": _arn_like,
    "ArnLike": _arn_like,
    "IpAddress": _typed(
        ipaddress.ip_address, lambda e: ipaddress.ip_network(e, strict=False), lambda g, w: g in w
    ),
}
_ORDER = {
    "Equals": operator.eq,
    "LessThan": operator.lt,
    "LessThanEquals": operator.le,
    "GreaterThan": operator.gt,
    "GreaterThanEquals": operator.ge,
}
_POSITIVE.update(
    {
        kind + name: _typed(parse, parse, test)
        for kind, parse in (("Numeric", float), ("Date", _epoch))
        for name, test in _ORDER.items()
    }
)

# Each negated operator is "no policy value matches" under its positive counterpart.
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NotIpAddress": "IpAddress",
}


@dataclass(frozen=True)
class _Test:
    """One key under one operator: ``ForAnyValue:StringLikeIfExists: {key: [values]}``."""

    operator: str  # the base name, "Null" or a key of _POSITIVE / _NEGATED
    quantifier: str  # "", "ForAnyValue" or "ForAllValues"
    if_exists: bool
    key: str
    expected: list[str]

    def holds(self, context: Mapping[str, list[str]]) -> bool:
        actual = context.get(self.key.lower())
        if self.operator == "Null":
            return any((actual is None) == (value.lower() == "true") for value in self.expected)
        if actual is None:
            if self.if_exists or self.quantifier:
                return self.if_exists or self.quantifier == "ForAllValues"
            return self.operator in _NEGATED
        if len(actual) > 1 and not self.quantifier:
            raise ValueError(f"{self.key} has several values: use ForAnyValue: or ForAllValues:")
        negated = self.operator in _NEGATED
        compare = _POSITIVE[_NEGATED.get(self.operator, self.operator)]
        ok = [any(compare(a, e) for e in self.expected) != negated for a in actual]
        if self.quantifier == "ForAllValues" or (negated and not self.quantifier):
            return all(ok)
        return any(ok)


def _tests(condition: Any) -> list[_Test]:
    """Parse a Condition block, refusing unknown operators and policy variables up front."""
    tests = []
    for raw_operator, keys in (condition or {}).items():
        quantifier, _, name = raw_operator.rpartition(":")
        if_exists = name.endswith("IfExists") and name != "IfExists"
        base = name.removesuffix("IfExists") if if_exists else name
        known = base in _POSITIVE or base in _NEGATED or (base == "Null" and not if_exists)
        if (
            not known
            or quantifier not in ("", "ForAnyValue", "ForAllValues")
            or (base == "Null" and quantifier)
        ):
            raise ValueError(f"unknown condition operator {raw_operator!r}")
        if not isinstance(keys, Mapping):
            raise ValueError(f"condition operator {raw_operator!r} needs a mapping of keys")
        for key, values in keys.items():
            expected = _no_variables([_text(v) for v in _listed(values)], f"condition {key}")
            if base == "Null" and any(v.lower() not in ("true", "false") for v in expected):
                raise ValueError(f"Null takes true or false, got {expected!r} for {key}")
            tests.append(_Test(base, quantifier, if_exists, str(key), expected))
    return tests


def _context(context: Context) -> dict[str, list[str]]:
    """Key names are case-insensitive; every value becomes a list of strings."""
    return {
        key.lower(): [_text(v) for v in _listed(value)]
        for key, value in context.items()
        if value is not None
    }


# --- statements and policies --------------------------------------------------------------------


def _effect(statement: Mapping) -> str:
    effect = statement.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise ValueError(f"statement Effect must be Allow or Deny, got {effect!r}")
    return str(effect)


def _element(statement: Mapping, name: str, *, required: bool) -> tuple[list[str], bool] | None:
    """``name`` or ``Not<name>``: its values and whether it is the Not form."""
    for key, negated in ((name, False), ("Not" + name, True)):
        if key in statement:
            return [str(v) for v in _listed(statement[key])], negated
    if required:
        raise ValueError(f"statement has neither {name} nor Not{name}")
    return None


def _principal_matches(statement: Mapping, principal: str) -> bool:
    """Allow: the principal itself is named. Deny: it or its account is. NotPrincipal (Deny only):
    exempt when every identity (role and account, per "NotPrincipal") is listed."""
    identities = _identities(principal)
    if "NotPrincipal" in statement:
        if _effect(statement) != "Deny":
            raise ValueError("NotPrincipal is only supported with Effect Deny")
        return not all(_named(statement["NotPrincipal"], i) for i in identities)
    if "Principal" not in statement:
        raise ValueError("a resource-policy statement needs Principal or NotPrincipal")
    named = identities if _effect(statement) == "Deny" else identities[:1]
    return any(_named(statement["Principal"], i) for i in named)


def statement_matches(statement: Mapping, request: AuthzRequest, *, resource_policy: bool) -> bool:
    """Whether the statement applies to the request (its Effect aside). Principal / NotPrincipal
    only count in a resource policy; there a missing Resource means the policy's own resource."""
    _effect(statement)
    tests = _tests(statement.get("Condition"))
    actions, not_action = _element(statement, "Action", required=True) or ([], False)
    resources = _element(statement, "Resource", required=not resource_policy)
    if resources is not None:
        _no_variables(resources[0], "Resource")
    if any(_like(request.action, a, ignore_case=True) for a in actions) == not_action:
        return False
    if (
        resources is not None
        and any(_like(request.resource, r) for r in resources[0]) == (resources[1])
    ):
        return False
    if resource_policy and not _principal_matches(statement, request.principal):
        return False
    context = _context(request.context)
    return all(test.holds(context) for test in tests)


def _statements(policy: Mapping) -> list[tuple[str, Mapping]]:
    """(label, statement) pairs; the label is the Sid, else the 0-based index as ``#i``."""
    raw = policy.get("Statement", [])
    statements = raw if isinstance(raw, list) else [raw]
    return [(str(s.get("Sid") or f"#{i}"), s) for i, s in enumerate(statements)]


def _applying(
    policies: Sequence[tuple[str, Mapping]], request: AuthzRequest, *, resource_policy: bool
) -> dict[str, list[str]]:
    """Every statement that applies, by Effect, as ``policy statement label``. All statements are
    read, so a malformed one raises even when an earlier one already decides."""
    found: dict[str, list[str]] = {"Allow": [], "Deny": []}
    for name, policy in policies:
        for label, statement in _statements(policy):
            if statement_matches(statement, request, resource_policy=resource_policy):
                found[_effect(statement)].append(f"{name} statement {label}")
    return found


def _delegates_to_iam(statement: Mapping, request: AuthzRequest) -> bool:
    """A key-policy Allow to the caller's account root that covers this request ("Allows access
    to the AWS account and enables IAM policies")."""
    accounts = _identities(request.principal)[1:]
    if "Principal" not in statement or not any(_named(statement["Principal"], a) for a in accounts):
        return False
    return statement_matches({**statement, "Principal": "*"}, request, resource_policy=True)


def evaluate(
    request: AuthzRequest,
    identity_policies: Sequence[tuple[str, Mapping]],
    resource_policy: tuple[str, Mapping] | None = None,
    *,
    resource_kind: Literal["default", "kms"] = "default",
) -> Evaluation:
    """Same-account evaluation ("Policy evaluation logic"). ``resource_kind="kms"``: the key
    policy must grant, directly or by delegating to IAM through the account root."""
    resource = [resource_policy] if resource_policy else []
    identity = _applying(identity_policies, request, resource_policy=False)
    granted = _applying(resource, request, resource_policy=True)
    deny = identity["Deny"] + granted["Deny"]
    if deny:
        return Evaluation(Decision.EXPLICITLY_DENIED, f"explicitly denied by {deny[0]}")
    by_identity = identity["Allow"][0] if identity["Allow"] else None
    by_resource = granted["Allow"][0] if granted["Allow"] else None
    if resource_kind == "kms":
        if by_resource:
            return Evaluation(Decision.ALLOWED, f"allowed by key policy {by_resource}")
        delegation = [
            f"{name} statement {label}"
            for name, policy in resource
            for label, statement in _statements(policy)
            if _effect(statement) == "Allow" and _delegates_to_iam(statement, request)
        ]
        if by_identity and delegation:
            return Evaluation(
                Decision.ALLOWED, f"allowed by {by_identity} through key policy {delegation[0]}"
            )
        if by_identity:
            return Evaluation(
                Decision.IMPLICITLY_DENIED,
                f"{by_identity} allows but the key policy neither grants nor delegates to IAM",
            )
    elif by_identity or by_resource:
        return Evaluation(Decision.ALLOWED, f"allowed by {by_identity or by_resource}")
    return Evaluation(Decision.IMPLICITLY_DENIED, "no statement allows")
