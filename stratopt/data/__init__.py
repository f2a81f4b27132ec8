"""Market data: load OHLCV from files or URLs, validate it, or synthesize it offline."""

from stratopt.data._load import load_frame, load_market_data, market_data_from_frame
from stratopt.data._market import MarketData
from stratopt.data._synthetic import synthesize_ohlcv
from stratopt.data._validate import normalize_columns, validate_ohlcv

__all__ = [
    "MarketData",
    "load_frame",
    "load_market_data",
    "market_data_from_frame",
    "normalize_columns",
    "synthesize_ohlcv",
    "validate_ohlcv",
]
