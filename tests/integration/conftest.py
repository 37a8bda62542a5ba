"""Fixtures for tests that run state machines on moto with the real handlers in-process.

``toy_stack``: the harness's own small SAM app (tests/fixtures/toy_stack) built by EmbeddedStack.
``embedded_stack``: a factory for EmbeddedStack over any template (the real template.yaml by
default), stopped at the end of the test. Both wait for their executions before moto stops.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from radimpress_workstation.embedded.stack import EmbeddedStack

ROOT = Path(__file__).resolve().parents[2]
TOY_TEMPLATE = ROOT / "tests" / "fixtures" / "toy_stack" / "template.yaml"
REAL_TEMPLATE = ROOT / "template.yaml"


@pytest.fixture
def toy_template() -> Path:
    return TOY_TEMPLATE


@pytest.fixture
def embedded_stack() -> Iterator:
    """Call with EmbeddedStack's arguments; the stack is stopped when the test ends."""
    stacks: list[EmbeddedStack] = []

    def build(template: Path | str = REAL_TEMPLATE, **kwargs) -> EmbeddedStack:
        stack = EmbeddedStack(template, **kwargs)
        stack.start()
        stacks.append(stack)
        return stack

    yield build
    for stack in reversed(stacks):
        stack.stop()


@pytest.fixture
def toy_stack() -> Iterator[EmbeddedStack]:
    """The toy stack with a 1 s poll and no Retry back-off (one stack per test: moto's mock is
    process-global, so two stacks cannot be up at once)."""
    with EmbeddedStack(TOY_TEMPLATE, parameters={"PollSeconds": "1"}, retry_scale=0.0) as stack:
        yield stack
