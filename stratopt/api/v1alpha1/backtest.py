"""``spec.backtest``: market data, a strategy with fixed parameters, capital and costs.

Shared by ``OptimizationRun`` (the thing being optimized) and by ``stratopt backtest``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field, model_validator

from stratopt.api._base import ApiModel

ParameterValue = float | int | str


class FillConvention(StrEnum):
    """When an order decided on a bar's close is filled."""

    NEXT_OPEN = "nextOpen"
    CLOSE = "close"


class StopUnit(StrEnum):
    """Unit of ``stop_loss`` and ``take_profit`` distances."""

    PIPS = "pips"
    PERCENT = "percent"


class DataSpec(ApiModel):
    """Where the OHLCV bars come from and how the instrument is quoted."""

    source: str = Field(
        description=(
            "Path or URL of a CSV or Parquet file (local path, file://, s3://, gs://, "
            "http(s)://), or a seeded synthetic series such as "
            "'synthetic:gbm?bars=62000&freq=1h&seed=7'."
        ),
        min_length=1,
        max_length=4096,
        pattern=r"^[^\x00]*$",
    )
    format: str = Field(
        default="auto",
        pattern="^(auto|csv|parquet)$",
        description="File format: 'csv', 'parquet', or 'auto' to infer it from the suffix.",
    )
    pip_size: float = Field(
        default=0.0001,
        ge=1e-12,
        le=1e9,
        description="Price of one pip, the unit of stop-loss and take-profit distances "
        "(0.0001 for most FX pairs, 0.01 for JPY pairs, 1 for a stock in dollars).",
    )
    tick_size: float | None = Field(
        default=None,
        ge=1e-12,
        le=1e9,
        description="Smallest price increment; stop and take-profit levels are rounded to it. "
        "Defaults to a tenth of pipSize (5-decimal FX quotes).",
    )
    start: datetime | None = Field(
        default=None, description="Drop bars before this timestamp (inclusive bound)."
    )
    end: datetime | None = Field(
        default=None, description="Drop bars after this timestamp (inclusive bound)."
    )
    date_format: str | None = Field(
        default=None,
        max_length=64,
        description="strftime codes of the file's dates when pandas cannot infer them, "
        "e.g. '%d/%m/%Y' for day-first dates such as 31/12/2018.",
    )
    adjusted: bool = Field(
        default=False,
        description="Trade the file's 'Adj Close' (splits and dividends): open, high and "
        "low are scaled by the same factor. By default the unadjusted close is used, and "
        "stratopt run says so when the file has an 'Adj Close' column.",
    )

    @model_validator(mode="after")
    def _start_before_end(self) -> DataSpec:
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError(
                f"data.start must be before data.end; got start={self.start} and end={self.end}."
            )
        return self

    @property
    def effective_tick_size(self) -> float:
        """The tick size in force: the given one, or a tenth of a pip."""
        return self.tick_size if self.tick_size is not None else self.pip_size / 10


class StrategySpec(ApiModel):
    """Which strategy trades, and the values of its parameters that are not searched."""

    name: str = Field(
        min_length=1,
        description="A built-in strategy ('rsi_reversion', 'ema_crossover', "
        "'donchian_breakout') or a user strategy as 'package.module:attribute'.",
    )
    parameters: dict[str, ParameterValue] = Field(
        default_factory=dict,
        description="Fixed parameter values; strategy defaults fill the rest, and searched "
        "parameters override them.",
    )


class CostsSpec(ApiModel):
    """Trading costs, applied on every fill (entry and exit)."""

    commission: float = Field(
        default=0.0,
        ge=0,
        lt=0.1,
        description="Commission as a fraction of traded notional, charged on each fill "
        "(0.0002 = 2 basis points).",
    )
    spread: float = Field(
        default=0.0,
        ge=0,
        description="Bid-ask spread in pips; each fill pays half of it.",
    )
    slippage: float = Field(
        default=0.0, ge=0, description="Adverse slippage in pips, paid on each fill."
    )


class BacktestSpec(ApiModel):
    """One backtest: data, strategy, account and costs."""

    data: DataSpec = Field(description="Market data.")
    strategy: StrategySpec = Field(description="The strategy and its fixed parameters.")
    capital: float = Field(
        default=100_000.0, gt=0, description="Initial equity, in quote currency."
    )
    leverage: float = Field(
        default=1.0,
        ge=1,
        le=500,
        description="Notional per unit of equity; positionSize is a fraction of equity × leverage.",
    )
    lot_size: float = Field(
        default=1.0,
        gt=0,
        description="Position quantities are rounded down to a multiple of this many units.",
    )
    costs: CostsSpec = Field(default_factory=CostsSpec, description="Commission, spread, slippage.")
    stop_unit: StopUnit = Field(
        default=StopUnit.PIPS,
        description="Unit of the stop_loss and take_profit parameters: 'pips' (× pipSize) "
        "or 'percent' of the entry price.",
    )
    fill: FillConvention = Field(
        default=FillConvention.NEXT_OPEN,
        description="'nextOpen': a decision on a bar's close fills at the next bar's open "
        "(default); 'close': it fills at that bar's close.",
    )
