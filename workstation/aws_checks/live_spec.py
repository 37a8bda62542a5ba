"""The shipped JumpStart spec against one resolved now from the live JumpStart metadata.

The resolver (``training/jumpstart_resolver.py``, SageMaker Python SDK v2) reads the public
metadata from the region's ``jumpstart-cache-prod-<region>`` bucket and builds, without sending
it, the request ``JumpStartEstimator.fit`` would make: read-only, a few seconds to a minute.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from radimpress_workstation.aws_checks.aws import aws_error
from radimpress_workstation.aws_checks.target import FAIL, PASS, WARN, Check, Target

# Notes about how a spec was made, not what it says: never a difference.
NOT_COMPARED = ("source", "resolved_offline")
SHOWN = 8


def resolve_live(target: Target) -> dict[str, Any]:
    """The spec as ``make resolve-jumpstart`` would write it now (the tests replace this)."""
    from radimpress_training import jumpstart_resolver

    spec = target.spec
    training, inference = spec.get("training") or {}, spec.get("inference") or {}
    return jumpstart_resolver.resolve(
        model_id=str(spec.get("model_id", jumpstart_resolver.MODEL_ID)),
        model_version=str(spec.get("model_version", jumpstart_resolver.MODEL_VERSION)),
        region=target.region,
        epochs=int((training.get("hyperparameters") or {}).get("epochs", 3)),
        training_instance_type=training.get("instance_type"),
        inference_instance_type=inference.get("instance_type"),
        boto_session=target.clients.session,
    )


def _flatten(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for key in sorted(value):
            yield from _flatten(value[key], f"{path}.{key}" if path else str(key))
    else:
        yield path, value


def _short(value: Any) -> str:
    text = json.dumps(value) if value is not None else "(absent)"
    return text if len(text) <= 80 else text[:77] + "..."


def spec_differences(saved: dict[str, Any], live: dict[str, Any]) -> list[str]:
    """``field: shipped -> live`` for every leaf that differs (dotted paths, sorted)."""
    left = {p: v for p, v in _flatten(saved) if p not in NOT_COMPARED}
    right = {p: v for p, v in _flatten(live) if p not in NOT_COMPARED}
    return [
        f"{path}: {_short(left.get(path))} -> {_short(right.get(path))}"
        for path in sorted(set(left) | set(right))
        if left.get(path) != right.get(path)
    ]


def live_spec(target: Target) -> Check:
    """PASS when equal; differences are a FAIL for a live-resolved spec (it would deploy as it
    is) and a WARN for an offline one (``make deploy`` resolves that live first)."""
    from radimpress_training.jumpstart_resolver import MANIFEST_ENV

    if os.environ.get(MANIFEST_ENV):
        return Check(WARN, "jumpstart-live", f"not compared: {MANIFEST_ENV} points at a fixture")
    try:
        live = resolve_live(target)
    except ImportError:
        return Check(
            WARN,
            "jumpstart-live",
            "not compared: the SageMaker SDK v2 is not installed (make venv installs it)",
        )
    except Exception as err:  # the SDK's errors are many and untyped: one line each
        code, message = aws_error(err)
        return Check(WARN, "jumpstart-live", f"live resolve failed ({code}: {message[:200]})")
    differences = spec_differences(target.spec, live)
    if not differences:
        return Check(PASS, "jumpstart-live", f"{target.spec_path} equals a live resolve")
    more = f" (and {len(differences) - SHOWN} more)" if len(differences) > SHOWN else ""
    return Check(
        WARN if target.spec.get("resolved_offline") else FAIL,
        "jumpstart-live",
        f"{target.spec_path} differs from the live metadata in {len(differences)} fields: "
        f"{'; '.join(differences[:SHOWN])}{more}; refresh it with {target.refresh} and commit",
    )
