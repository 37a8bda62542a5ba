"""Read template.yaml the way CloudFormation would, for the embedded stack.

``expand()`` parses the SAM template (CloudFormation short tags included), applies parameter
values (defaults, overrides, Allowed* checks), runs the SAM transform with aws-sam-translator (what
``sam validate`` uses: Globals merged, ``AWS::Serverless::*`` expanded, the state machine's
``EventBridgeRule`` event turned into an ``AWS::Events::Rule``), and evaluates Conditions.
``Resolver`` then resolves intrinsics (Ref, GetAtt, Sub, Join, If, Select, Split, FindInMap...)
against the local resources. Nothing here talks to AWS or moto.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

NO_VALUE = object()  # AWS::NoValue: the enclosing key or list item disappears
_SUB_RE = re.compile(r"\$\{([^}]+)\}")


class TemplateError(ValueError):
    """The template cannot be used locally; the message names the file, resource and field."""


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation short-form tags (a subclass: the global one is untouched)."""


def _intrinsic(loader: yaml.Loader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = tag_suffix
    key = name if name in ("Ref", "Condition") else f"Fn::{name}"
    if name == "GetAtt" and isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node).split(".", 1)
    elif isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {key: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load(path: Path) -> dict[str, Any]:
    """Parse a CloudFormation/SAM template file (YAML or JSON)."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"{path}: cannot read template: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise TemplateError(f"{path}: not a CloudFormation template (no Resources mapping)")
    return data


@dataclass
class Expanded:
    """The template after parameters and the SAM transform; paths are absolute."""

    path: Path
    parameters: dict[str, Any]  # parameter and pseudo-parameter values
    conditions: dict[str, bool]
    resources: dict[str, dict[str, Any]]  # plain CloudFormation, intrinsics still unresolved
    outputs: dict[str, Any]
    mappings: dict[str, Any]
    code_dirs: dict[str, Path] = field(default_factory=dict)  # function logical id -> CodeUri dir
    definitions: dict[str, Path] = field(default_factory=dict)  # state machine -> DefinitionUri


def _parameter_values(
    path: Path, declared: Mapping[str, Any], overrides: Mapping[str, Any]
) -> dict[str, Any]:
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise TemplateError(
            f"{path}: unknown parameter(s) {', '.join(unknown)}; the template declares "
            f"{', '.join(sorted(declared))}"
        )
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        spec = spec or {}
        if name in overrides:
            value = overrides[name]
        elif "Default" in spec:
            value = spec["Default"]
        else:
            raise TemplateError(f"{path}: parameter {name} has no Default and no value was given")
        values[name] = _check_parameter(path, name, spec, value)
    return values


def _check_parameter(path: Path, name: str, spec: Mapping[str, Any], value: Any) -> Any:
    kind = spec.get("Type", "String")
    text = ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
    where = f"{path}: parameter {name}={text!r}"
    allowed = spec.get("AllowedValues")
    if allowed is not None and text not in {str(a) for a in allowed}:
        raise TemplateError(f"{where} is not one of {allowed}")
    pattern = spec.get("AllowedPattern")
    if pattern and kind == "String" and not re.fullmatch(pattern, text):
        raise TemplateError(f"{where} does not match AllowedPattern {pattern}")
    if kind == "Number":
        try:
            number = float(text)
        except ValueError:
            raise TemplateError(f"{where} is not a number") from None
        if "MinValue" in spec and number < float(spec["MinValue"]):
            raise TemplateError(f"{where} is below MinValue {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            raise TemplateError(f"{where} is above MaxValue {spec['MaxValue']}")
    if kind.startswith("List<") or kind == "CommaDelimitedList":
        return value if isinstance(value, list) else [s.strip() for s in text.split(",")]
    return text


def expand(
    path: Path | str,
    *,
    region: str,
    account_id: str,
    stack_name: str,
    parameters: Mapping[str, Any] | None = None,
) -> Expanded:
    """Parameters, SAM transform and Conditions applied; intrinsics left for ``Resolver``."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    path = Path(path).resolve()
    raw = load(path)
    base = path.parent
    values = _parameter_values(path, raw.get("Parameters") or {}, dict(parameters or {}))
    pseudo = {
        "AWS::Region": region,
        "AWS::AccountId": account_id,
        "AWS::StackName": stack_name,
        "AWS::StackId": f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local",
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NotificationARNs": [],
    }
    _check_rules(path, raw.get("Rules") or {}, {**values, **pseudo})
    template = copy.deepcopy(raw)
    code_dirs, definitions = _localise_uris(path, template, base)
    if template.get("Transform"):
        translator = Translator(
            None, Parser(), boto_session=boto3.session.Session(region_name=region)
        )
        try:
            template = translator.translate(
                template,
                parameter_values={**values, **pseudo},
                get_managed_policy_map=lambda: {},
            )
        except Exception as exc:  # samtranslator raises InvalidDocumentException and friends
            raise TemplateError(f"{path}: SAM transform failed: {exc}") from exc
        finally:
            translator.metrics.publish()  # a no-op publisher; silences its "unpublished" warning
    all_values = {**values, **pseudo}
    conditions = _evaluate_conditions(path, template.get("Conditions") or {}, all_values)
    resources = {
        logical: resource
        for logical, resource in template["Resources"].items()
        if conditions.get(resource.get("Condition", ""), True)
    }
    return Expanded(
        path=path,
        parameters=all_values,
        conditions=conditions,
        resources=resources,
        outputs=template.get("Outputs") or {},
        mappings=template.get("Mappings") or {},
        code_dirs={k: v for k, v in code_dirs.items() if k in resources},
        definitions={k: v for k, v in definitions.items() if k in resources},
    )


def _localise_uris(  # noqa: C901  a branch per resource type that carries a local path
    path: Path, template: dict[str, Any], base: Path
) -> tuple[dict[str, Path], dict[str, Path]]:
    """Swap local CodeUri/DefinitionUri paths for placeholders the transform accepts; keep paths."""
    code_dirs: dict[str, Path] = {}
    definitions: dict[str, Path] = {}
    global_fn = (template.get("Globals") or {}).get("Function") or {}
    global_code = global_fn.get("CodeUri")
    if isinstance(global_code, str) and not global_code.startswith("s3://"):
        global_fn["CodeUri"] = "s3://radimpress-local/code.zip"
    for logical, resource in template["Resources"].items():
        kind = resource.get("Type")
        props = resource.setdefault("Properties", {}) or {}
        if kind in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            uri = props.get("CodeUri", global_code)
            if kind == "AWS::Lambda::Function":
                uri = None
            if isinstance(uri, str) and not uri.startswith("s3://"):
                folder = (base / uri).resolve()
                if not folder.is_dir():
                    raise TemplateError(f"{path}: {logical}.CodeUri {uri!r} is not a folder")
                code_dirs[logical] = folder
                if "CodeUri" in props:
                    props["CodeUri"] = "s3://radimpress-local/code.zip"
        elif kind == "AWS::Serverless::StateMachine":
            uri = props.get("DefinitionUri")
            if isinstance(uri, str) and not uri.startswith("s3://"):
                file = (base / uri).resolve()
                if not file.is_file():
                    raise TemplateError(f"{path}: {logical}.DefinitionUri {uri!r} is not a file")
                definitions[logical] = file
                props["DefinitionUri"] = f"s3://radimpress-local/{logical}.asl.json"
        elif kind == "AWS::StepFunctions::StateMachine":
            location = props.get("DefinitionS3Location")
            if isinstance(location, str):
                definitions[logical] = (base / location).resolve()
    return code_dirs, definitions


def _check_rules(path: Path, rules: Mapping[str, Any], values: Mapping[str, Any]) -> None:
    """Template Rules as CloudFormation checks them before creating anything: a rule whose
    RuleCondition holds must have every Assertion true, else the deploy fails with its
    AssertDescription (CloudFormation User Guide, "Rules").
    """
    resolver = Resolver(values, refs={}, attribute=lambda *_: None, condition=lambda _: False)
    for name, rule in rules.items():
        where = f"{path.name}: Rules.{name}"
        if "RuleCondition" in rule and not resolver.resolve(rule["RuleCondition"], where):
            continue
        for index, assertion in enumerate(rule.get("Assertions") or ()):
            if resolver.resolve(assertion["Assert"], f"{where}.Assertions[{index}]") is not True:
                description = " ".join(str(assertion.get("AssertDescription", "")).split())
                raise TemplateError(f"{where} fails: {description or 'assertion is false'}")


def _evaluate_conditions(
    path: Path, declared: Mapping[str, Any], values: Mapping[str, Any]
) -> dict[str, bool]:
    results: dict[str, bool] = {}

    def evaluate(name: str, stack: tuple[str, ...] = ()) -> bool:
        if name in results:
            return results[name]
        if name not in declared or name in stack:
            raise TemplateError(f"{path}: condition {name} is undefined or circular")
        resolver = Resolver(
            values,
            refs={},
            attribute=lambda *_: None,
            condition=lambda n: evaluate(n, (*stack, name)),
        )
        results[name] = bool(resolver.resolve(declared[name], f"Conditions.{name}"))
        return results[name]

    for name in declared:
        evaluate(name)
    return results


class Resolver:
    """Resolves CloudFormation intrinsics against parameter values and local resources.

    ``refs`` maps logical ids to their Ref value; ``attribute(logical, name)`` answers GetAtt.
    """

    def __init__(
        self,
        parameters: Mapping[str, Any],
        refs: Mapping[str, Any],
        attribute: Callable[[str, str], Any],
        condition: Callable[[str], bool],
        mappings: Mapping[str, Any] | None = None,
    ) -> None:
        self.parameters = parameters
        self.refs = refs
        self.attribute = attribute
        self.condition = condition
        self.mappings = mappings or {}

    def resolve(self, value: Any, where: str) -> Any:
        if isinstance(value, list):
            items = [self.resolve(v, f"{where}[{i}]") for i, v in enumerate(value)]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                return self._intrinsic(key, arg, where)
        resolved = {k: self.resolve(v, f"{where}.{k}") for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def ref(self, name: str, where: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise TemplateError(f"{where}: Ref to unknown parameter or resource {name!r}")

    def get_att(self, logical: str, name: str, where: str) -> Any:
        value = self.attribute(logical, name)
        if value is None:
            raise TemplateError(f"{where}: cannot resolve Fn::GetAtt {logical}.{name} locally")
        return value

    def _intrinsic(self, key: str, arg: Any, where: str) -> Any:  # noqa: C901  a branch per Fn::
        at = f"{where}.{key}"
        if key == "Ref":
            return self.ref(self.resolve(arg, at), at)
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::GetAtt":
            parts = arg.split(".", 1) if isinstance(arg, str) else self.resolve(arg, at)
            return self.get_att(parts[0], parts[1], at)
        if key == "Fn::Sub":
            return self._sub(arg, at)
        if key == "Fn::Join":
            sep, items = self.resolve(arg, at)
            return str(sep).join(_text(i) for i in items)
        if key == "Fn::Select":
            index, items = self.resolve(arg, at)
            return items[int(index)]
        if key == "Fn::Split":
            sep, text = self.resolve(arg, at)
            return str(text).split(sep)
        if key == "Fn::If":
            name, yes, no = arg
            return self.resolve(yes if self.condition(name) else no, at)
        if key == "Fn::Equals":
            left, right = self.resolve(arg, at)
            return _text(left) == _text(right)
        if key == "Fn::Contains":  # Rules only: is the value one of the list's?
            items, item = self.resolve(arg, at)
            return _text(item) in {_text(i) for i in items}
        if key == "Fn::Not":
            return not self._truth(arg[0], at)
        if key == "Fn::And":
            return all(self._truth(a, at) for a in arg)
        if key == "Fn::Or":
            return any(self._truth(a, at) for a in arg)
        if key == "Fn::FindInMap":
            name, top, second = self.resolve(arg, at)[:3]
            try:
                return self.mappings[name][top][second]
            except KeyError:
                raise TemplateError(f"{at}: no mapping {name}.{top}.{second}") from None
        if key == "Fn::Base64":
            import base64

            return base64.b64encode(str(self.resolve(arg, at)).encode()).decode()
        if key == "Fn::GetAZs":
            region = self.resolve(arg, at) or self.parameters["AWS::Region"]
            return [f"{region}{suffix}" for suffix in "abc"]
        if key == "Fn::ToJsonString":
            return json.dumps(self.resolve(arg, at), separators=(",", ":"))
        raise TemplateError(f"{at}: intrinsic {key} is not supported by the embedded stack")

    def _truth(self, value: Any, where: str) -> bool:
        if isinstance(value, dict) and set(value) == {"Condition"}:
            return self.condition(value["Condition"])
        return bool(self.resolve(value, where))

    def _sub(self, arg: Any, where: str) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], self.resolve(arg[1], where)
        else:
            text, variables = arg, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return _text(variables[name])
            if "." in name and name.split(".", 1)[0] not in self.parameters:
                logical, attribute = name.split(".", 1)
                return _text(self.get_att(logical, attribute, where))
            return _text(self.ref(name, where))

        return _SUB_RE.sub(replace, text)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)


def references(value: Any) -> set[str]:
    """Logical ids a value refers to (Ref, GetAtt, ${...} in Sub): for creation order."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg.split(".", 1)[0] if isinstance(arg, str) else str(arg[0]))
            elif key == "Fn::Sub":
                text = arg[0] if isinstance(arg, list) else arg
                local = set(arg[1]) if isinstance(arg, list) and isinstance(arg[1], dict) else set()
                for name in _SUB_RE.findall(text):
                    if not name.startswith("!") and name not in local:
                        found.add(name.split(".", 1)[0])
                if isinstance(arg, list):
                    found |= references(arg[1])
            else:
                found |= references(arg)
    return found
