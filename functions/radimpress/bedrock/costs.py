"""What a Bedrock run costs: a dated price table and the arithmetic on token counts.

Prices are USD per 1,000 tokens, on-demand, US East (N. Virginia), taken on 2026-12-07 from the
Amazon Bedrock pricing page (https://aws.amazon.com/bedrock/pricing/) as our stored copies and
their published summaries show it. Batch inference is billed per token like on-demand, "at a 50%
lower price compared to on-demand" for the models that offer it (the pricing page's Batch section;
Trailhead "Explain the Cost Structure of Amazon Bedrock"); an older copy of the pricing page
said batch cost the same as on-demand, so each model lists its batch price beside its on-demand
one (a model without batch would list none). Prices differ by Region, change over time, and
cross-Region inference profiles are billed at the source Region's price: :func:`price_of` takes
an operator's own table (``overrides``) before this one, and every estimate carries the table's
date and source.

Token counts come from the job (``manifest.json.out``'s ``inputTokenCount`` and
``outputTokenCount``) or, for per-record calls, from each response's usage fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from radimpress.bedrock.model_input import base_model_id

PRICES_AS_OF = "2026-12-07"
PRICES_SOURCE = "https://aws.amazon.com/bedrock/pricing/ (on-demand, us-east-1; batch 50% lower)"


class Mode(StrEnum):
    ON_DEMAND = "on-demand"  # per-record InvokeModel / Converse (the fallback)
    BATCH = "batch"  # CreateModelInvocationJob


@dataclass(frozen=True)
class Price:
    """USD per 1,000 input and per 1,000 output tokens."""

    input_per_1k: float
    output_per_1k: float

    def __post_init__(self) -> None:
        for name in ("input_per_1k", "output_per_1k"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a non-negative number")


def _prices(on_demand_in: float, on_demand_out: float) -> dict[Mode, Price]:
    return {
        Mode.ON_DEMAND: Price(on_demand_in, on_demand_out),
        Mode.BATCH: Price(on_demand_in / 2, on_demand_out / 2),
    }


# Foundation model id -> prices (USD per 1,000 tokens).
PRICES: dict[str, dict[Mode, Price]] = {
    "anthropic.claude-3-haiku-20240307-v1:0": _prices(0.00025, 0.00125),
    "anthropic.claude-3-5-haiku-20241022-v1:0": _prices(0.0008, 0.004),
    "anthropic.claude-3-5-sonnet-20240620-v1:0": _prices(0.003, 0.015),
    "anthropic.claude-3-5-sonnet-20241022-v2:0": _prices(0.003, 0.015),
    "anthropic.claude-3-7-sonnet-20250219-v1:0": _prices(0.003, 0.015),
    "anthropic.claude-sonnet-4-20250514-v1:0": _prices(0.003, 0.015),
    "meta.llama3-1-8b-instruct-v1:0": _prices(0.00022, 0.00022),
    "meta.llama3-1-70b-instruct-v1:0": _prices(0.00072, 0.00072),
    "amazon.nova-micro-v1:0": _prices(0.000035, 0.00014),
    "amazon.nova-lite-v1:0": _prices(0.00006, 0.00024),
    "amazon.nova-pro-v1:0": _prices(0.0008, 0.0032),
    "amazon.titan-text-lite-v1": _prices(0.00015, 0.0002),
    "amazon.titan-text-express-v1": _prices(0.0002, 0.0006),
}


class UnknownPrice(ValueError):
    """No price is known for a model; pass the operator's own table."""


def _lookup(
    model_id: str, mode: Mode, overrides: Mapping[str, Mapping[str, Price]] | None
) -> tuple[Price, str, str]:
    """(price, source, as of): the operator's table first, else this module's."""
    model = base_model_id(model_id)
    own = (overrides or {}).get(model)
    if own is not None and mode in own:
        return own[mode], "price overrides", "operator table"
    prices = PRICES.get(model)
    if prices is not None and mode in prices:
        return prices[mode], PRICES_SOURCE, PRICES_AS_OF
    raise UnknownPrice(
        f"no {mode.value} price for {model!r}; known: {', '.join(sorted(PRICES))} "
        "(add the model to the price overrides)"
    )


def price_of(
    model_id: str, mode: Mode, overrides: Mapping[str, Mapping[str, Price]] | None = None
) -> Price:
    """The price of ``model_id`` (a model id, inference profile id or ARN) in ``mode``:
    ``overrides[<foundation model id>][<mode>]`` first, else this module's table."""
    return _lookup(model_id, mode, overrides)[0]


@dataclass(frozen=True)
class CostEstimate:
    """The cost of one run of a model, and per 1,000 reports, with where the prices came from."""

    model_id: str
    mode: Mode
    reports: int
    input_tokens: int
    output_tokens: int
    usd: float
    usd_per_1000_reports: float | None
    prices_as_of: str
    prices_source: str


def estimate(
    model_id: str,
    mode: Mode,
    *,
    reports: int,
    input_tokens: int,
    output_tokens: int,
    overrides: Mapping[str, Mapping[str, Price]] | None = None,
) -> CostEstimate:
    """The cost of ``input_tokens`` and ``output_tokens`` at ``model_id``'s price in ``mode``;
    per 1,000 reports when ``reports`` is above zero."""
    for name, value in (
        ("reports", reports),
        ("input_tokens", input_tokens),
        ("output_tokens", output_tokens),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer")
    price, source, as_of = _lookup(model_id, mode, overrides)
    usd = input_tokens / 1000 * price.input_per_1k + output_tokens / 1000 * price.output_per_1k
    return CostEstimate(
        model_id=model_id,
        mode=mode,
        reports=reports,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        usd=usd,
        usd_per_1000_reports=usd / reports * 1000 if reports else None,
        prices_as_of=as_of,
        prices_source=source,
    )
