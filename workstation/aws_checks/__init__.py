"""Read-only facts about a deployment: what each Lambda calls, what the template and a deployed
stack say, and the checks and execution follower built on them. Used by ``radimpress preflight``
and ``radimpress smoke``; kept apart from the commands so tests can drive each piece alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def walk(value: Any) -> Iterator[Any]:
    """``value`` and everything nested in it (dict values and list items), depth first."""
    yield value
    if isinstance(value, dict | list):
        for child in value.values() if isinstance(value, dict) else value:
            yield from walk(child)
