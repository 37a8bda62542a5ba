"""Cost of a Bedrock run from its token counts (radimpress.bedrock.costs)."""

from __future__ import annotations

import pytest

from radimpress.bedrock.costs import (
    PRICES,
    PRICES_AS_OF,
    Mode,
    Price,
    UnknownPrice,
    estimate,
    price_of,
)


def test_batch_is_half_the_on_demand_price_for_every_listed_model():
    for model, prices in PRICES.items():
        on_demand, batch = prices[Mode.ON_DEMAND], prices[Mode.BATCH]
        assert batch.input_per_1k == pytest.approx(on_demand.input_per_1k / 2), model
        assert batch.output_per_1k == pytest.approx(on_demand.output_per_1k / 2), model


def test_profiles_and_arns_are_priced_as_their_foundation_model():
    model = "anthropic.claude-3-haiku-20240307-v1:0"
    expected = price_of(model, Mode.BATCH)
    assert price_of(f"us.{model}", Mode.BATCH) == expected
    assert price_of(f"arn:aws:bedrock:us-east-1::foundation-model/{model}", Mode.BATCH) == expected


def test_an_estimate_multiplies_tokens_by_the_price_per_thousand():
    # Claude 3 Haiku batch: $0.000125 per 1k input, $0.000625 per 1k output.
    cost = estimate(
        "anthropic.claude-3-haiku-20240307-v1:0",
        Mode.BATCH,
        reports=2000,
        input_tokens=4_000_000,
        output_tokens=60_000,
    )
    assert cost.usd == pytest.approx(4000 * 0.000125 + 60 * 0.000625)
    assert cost.usd_per_1000_reports == pytest.approx(cost.usd / 2)
    assert (
        cost.prices_as_of == PRICES_AS_OF and "aws.amazon.com/bedrock/pricing" in cost.prices_source
    )


def test_overrides_come_first_and_say_so():
    own = {"amazon.nova-lite-v1:0": {Mode.BATCH: Price(1.0, 2.0)}}
    cost = estimate(
        "amazon.nova-lite-v1:0",
        Mode.BATCH,
        reports=0,
        input_tokens=1000,
        output_tokens=1000,
        overrides=own,
    )
    assert cost.usd == pytest.approx(3.0)
    assert cost.usd_per_1000_reports is None
    assert cost.prices_source == "price overrides"
    # A model the overrides do not name still comes from the table, and says that.
    other = estimate(
        "amazon.nova-micro-v1:0",
        Mode.ON_DEMAND,
        reports=1,
        input_tokens=0,
        output_tokens=0,
        overrides=own,
    )
    assert other.prices_as_of == PRICES_AS_OF


def test_unknown_models_and_bad_counts_are_refused():
    with pytest.raises(UnknownPrice, match="price overrides"):
        price_of("cohere.command-r-v1:0", Mode.ON_DEMAND)
    with pytest.raises(ValueError, match="input_tokens"):
        estimate("amazon.nova-lite-v1:0", Mode.BATCH, reports=1, input_tokens=-1, output_tokens=0)
    with pytest.raises(ValueError, match="non-negative"):
        Price(-0.1, 0.0)
