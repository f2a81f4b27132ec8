"""Sequences for the forecaster: inputs, direct multi-step targets, time-ordered splits.

Targets are log returns from the last close of a sequence to each of the next
``horizon`` closes. Scaling is fitted on the training part only. Between consecutive
parts, ``horizon`` samples are dropped so no target overlaps the next part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stratopt.api.v1alpha1 import ForecastRunSpec
from stratopt.data import MarketData
from stratopt.errors import DataError
from stratopt.features import feature_matrix

#: Below this many usable samples a forecast's accuracy figures mean little.
MIN_SAMPLES = 1000


@dataclass(frozen=True)
class Split:
    """Sample indices of one part."""

    start: int
    stop: int


@dataclass(frozen=True)
class SequenceData:
    """Scaled inputs, targets and where each sample ends in the bars."""

    inputs: np.ndarray  # samples × sequence length × features (scaled)
    targets: np.ndarray  # samples × horizon (log returns, scaled)
    ends: np.ndarray  # bar index of each sample's last input bar
    volatility: np.ndarray  # per sample: std of the target's bar log returns in its window
    target_scale: np.ndarray  # per step: scaled = log return / scale
    train: Split
    validation: Split
    test: Split
    latest: np.ndarray  # the sequence ending at the last bar (1 × length × features)
    latest_volatility: np.ndarray  # its volatility (1,)
    feature_names: list[str]


def prepare(spec: ForecastRunSpec, data: MarketData, features: list[str]) -> SequenceData:
    """Build, split and scale the sequences.

    Raises:
        DataError: fewer than :data:`MIN_SAMPLES` usable sequences.
    """
    length, horizon = spec.sequence_length, spec.horizon
    if length + horizon >= len(data):
        raise DataError(
            "spec.sequenceLength",
            f"sequences of {length} bars predicting {horizon} ahead need more than "
            f"{length + horizon} bars, and the data has {len(data)}; use more data or a "
            "shorter sequenceLength",
        )
    prices = getattr(data, spec.target)
    columns = feature_matrix(data, features)
    log_price = np.log(prices)
    own_return = np.concatenate(([np.nan], np.diff(log_price)))
    matrix = np.column_stack([own_return, columns])
    finite = np.isfinite(matrix).all(axis=1)
    # A sample ending at bar t needs finite rows t-length+1..t and prices up to t+horizon.
    valid_window = np.convolve(finite.astype(int), np.ones(length, dtype=int), "valid") == length
    ends_all = np.arange(length - 1, len(data))[valid_window]
    ends = ends_all[ends_all + horizon < len(data)]
    if len(ends) < MIN_SAMPLES:
        raise DataError(
            "spec.data",
            f"only {len(ends)} usable sequences (of {length} bars, "
            f"{horizon} ahead); a forecast needs at least {MIN_SAMPLES}: use more "
            "data, a shorter sequenceLength or a shorter horizon",
        )
    steps = np.arange(1, horizon + 1)
    targets = log_price[ends[:, None] + steps[None, :]] - log_price[ends][:, None]
    count = len(ends)
    n_test = int(count * spec.training.test_split)
    n_validation = int(count * spec.training.validation_split)
    train = Split(0, count - n_test - n_validation - 2 * horizon)
    validation = Split(train.stop + horizon, count - n_test - horizon)
    test = Split(count - n_test, count)
    if train.stop < MIN_SAMPLES // 2:
        raise DataError(
            "spec.data",
            f"only {train.stop} training sequences remain after the "
            "validation and test parts; use more data",
        )
    train_rows = np.zeros(len(data), dtype=bool)
    for end in ends[train.start : train.stop]:
        train_rows[end - length + 1 : end + 1] = True
    mean = matrix[train_rows].mean(axis=0)
    std = matrix[train_rows].std(axis=0)
    std[std == 0] = 1.0
    scaled = (matrix - mean) / std
    windows = np.lib.stride_tricks.sliding_window_view(scaled, length, axis=0)  # n-L+1 × f × L
    inputs = np.ascontiguousarray(np.transpose(windows[ends - length + 1], (0, 2, 1)))
    target_scale = targets[train.start : train.stop].std(axis=0)
    target_scale[target_scale == 0] = 1.0
    latest = np.transpose(windows[-1:], (0, 2, 1)).astype(np.float32)
    if not np.isfinite(latest).all():
        raise DataError("spec.data", "the last bars have undefined features; check the data's end")
    # The regime each sample ends in, which scales its intervals. A flat window (no price
    # change) takes the training median, so that no interval collapses to a point.
    window_volatility = np.lib.stride_tricks.sliding_window_view(own_return, length).std(axis=1)
    volatility = window_volatility[ends - length + 1]
    latest_volatility = window_volatility[-1:]
    floor = float(np.median(volatility[train.start : train.stop]))
    volatility = np.where(volatility > 0, volatility, floor)
    latest_volatility = np.where(latest_volatility > 0, latest_volatility, floor)
    return SequenceData(
        inputs=inputs.astype(np.float32),
        targets=(targets / target_scale).astype(np.float32),
        ends=ends,
        volatility=volatility,
        target_scale=target_scale,
        train=train,
        validation=validation,
        test=test,
        latest=latest,
        latest_volatility=latest_volatility,
        feature_names=["own_return", *features],
    )
