"""With a Bedrock model the inference Map runs three poll loops; the wait bound ResolveModels
gives them (radimpress.history_budget) keeps the worst-case execution under Step Functions'
25,000 history events at every template corner, computed from statemachine/pipeline.asl.json
by tests/unit/test_history_budget.py's own event arithmetic, and never shortens the wait where
two models already fit."""

from __future__ import annotations

import json

import pytest
import test_history_budget as budget

from radimpress import history_budget

THREE_MODELS = 3


@pytest.fixture
def definition():
    return json.loads((budget.ROOT / "statemachine" / "pipeline.asl.json").read_text())


@pytest.fixture
def parameters():
    return budget.load(budget.ROOT / "template.yaml")["Parameters"]


def _corners(parameters):
    poll, wait = parameters["PollSeconds"], parameters["MaxWaitSeconds"]
    polls = {int(poll["MinValue"]), 2, 3, 5, int(poll["Default"]), int(poll["MaxValue"])}
    waits = {int(wait["MinValue"]), 86400, int(wait["Default"]), int(wait["MaxValue"])}
    return [(p, w) for p in polls for w in waits]


def _inference_events(definition, poll, wait, models, monkeypatch):
    """The worst inference execution: the Map's jobs waited for as long as ``wait``."""
    monkeypatch.setattr(budget, "MAX_MODELS", models)
    states = definition["States"]
    # Only the inference route: drop the training branch's states from the paths.
    paths = [p for p in budget.paths(states, "Ingest") if "StartTraining" not in p]
    cycles = [(c, budget.schedule_of(states, c)) for c in budget.loops(states)]
    worst = 0
    for path in paths:
        events = sum(budget.state_events(states[n], poll, wait) for n in path)
        for cycle, schedule in cycles:
            if cycle & set(path):
                extra = budget.checks(schedule, poll, wait) - 1
                events += extra * sum(budget.state_events(states[n], poll, wait) for n in cycle)
        worst = max(worst, events)
    return 2 + worst


def test_the_lambdas_arithmetic_is_the_state_machines(definition):
    inner = definition["States"]["SummarizeEachModel"]["ItemProcessor"]["States"]
    loop = budget.loops(inner)[0]
    assert sum(budget.state_events(inner[n], 60, 60) for n in loop) == (
        history_budget.EVENTS_PER_CHECK
    )
    for poll, wait in ((1, 172800), (60, 172800), (60, 59), (7, 3600)):
        assert history_budget.checks(poll, wait) == budget.checks("linear", poll, wait)


def test_three_models_without_the_bound_would_overflow_the_history(
    definition, parameters, monkeypatch
):
    poll = int(parameters["PollSeconds"]["MinValue"])
    wait = int(parameters["MaxWaitSeconds"]["MaxValue"])
    assert _inference_events(definition, poll, wait, THREE_MODELS, monkeypatch) > 25_000


def test_the_bound_keeps_three_models_under_the_limit_at_every_corner(
    definition, parameters, monkeypatch
):
    for poll, wait in _corners(parameters):
        bound = history_budget.map_wait_bound(THREE_MODELS, poll, wait)
        events = _inference_events(definition, poll, bound, THREE_MODELS, monkeypatch)
        assert events < budget.HISTORY_LIMIT, (poll, wait, bound, events)


def test_two_models_keep_their_whole_wait(parameters):
    for poll, wait in _corners(parameters):
        assert history_budget.map_wait_bound(2, poll, wait) == wait
    # and three only lose it at short polls: 60 s polls keep 48 h
    assert history_budget.map_wait_bound(THREE_MODELS, 60, 172800) == 172800
