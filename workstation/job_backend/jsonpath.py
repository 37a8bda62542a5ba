"""The JSONPath subset Batch Transform's DataProcessing filters use (InputFilter, OutputFilter).

SageMaker applies these to every record of a transform job; a filter that cannot be applied to a
record fails the job, naming the path and the field, never the record's text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from radimpress_workstation.job_backend.job_record import ContainerError

_PATH_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[((?:'[^']*'\s*,?\s*)+)\]")


def compile_json_path(expression: str) -> Callable[[Any], Any]:
    """Compile the JSONPath subset Batch Transform filters use: ``$``, ``$.a.b``, ``$['a','b']``.

    A multi-name step (``$['a','b']``) selects those members into a new object, as SageMaker does
    for OutputFilter. Anything else raises ValueError.
    """
    if not expression.startswith("$"):
        raise ValueError(f"JSONPath {expression!r} must start with '$'")
    steps: list[list[str]] = []
    position = 1
    while position < len(expression):
        match = _PATH_STEP.match(expression, position)
        if not match:
            raise ValueError(f"unsupported JSONPath {expression!r} at character {position}")
        if match.group(1):
            steps.append([match.group(1)])
        else:
            steps.append(re.findall(r"'([^']*)'", match.group(2)))
        position = match.end()

    def apply(value: Any) -> Any:
        for names in steps:
            if not isinstance(value, dict):
                raise ContainerError(f"JSONPath {expression!r} needs a JSON object")
            missing = [n for n in names if n not in value]
            if len(names) == 1:
                if missing:
                    raise ContainerError(f"JSONPath {expression!r}: field {names[0]!r} is missing")
                value = value[names[0]]
            else:
                value = {n: value[n] for n in names if n in value}
        return value

    return apply
