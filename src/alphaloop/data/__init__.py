"""Data layer: the Panel, readers and quality checks, the Parquet+DuckDB store, bundled
real data, market calendars, the sealed holdout, combined and resampled datasets, the
catalog that ties them together, and the document store of text factors."""

from alphaloop.data.catalog import DataCatalog, DatasetInfo, ImportResult
from alphaloop.data.combine import CombineResult, CombineSource
from alphaloop.data.derived import ResampleOrigin, ResampleResult
from alphaloop.data.documents import DocumentImport, DocumentStore
from alphaloop.data.factor_data import FACTOR_SETS, FactorData, factor_returns
from alphaloop.data.holdout import HoldoutInfo, HoldoutKey, Holdouts
from alphaloop.data.market_calendar import (
    ASSET_CLASSES,
    DAYS_PER_YEAR,
    PERIODIC_PER_YEAR,
    MarketCalendar,
    periods_per_year,
)
from alphaloop.data.options import ReadOptions
from alphaloop.data.origin import SYNTHETIC_PARQUET_KEY, SyntheticOrigin
from alphaloop.data.panel import Panel, as_utc, infer_frequency
from alphaloop.data.price_checks import synthetic_open_mask
from alphaloop.data.quality import CHECKS, QualityIssue, QualityReport, Repair

__all__ = [
    "ASSET_CLASSES",
    "CHECKS",
    "DAYS_PER_YEAR",
    "FACTOR_SETS",
    "PERIODIC_PER_YEAR",
    "SYNTHETIC_PARQUET_KEY",
    "CombineResult",
    "CombineSource",
    "DataCatalog",
    "DatasetInfo",
    "DocumentImport",
    "DocumentStore",
    "FactorData",
    "HoldoutInfo",
    "HoldoutKey",
    "Holdouts",
    "ImportResult",
    "MarketCalendar",
    "Panel",
    "QualityIssue",
    "QualityReport",
    "ReadOptions",
    "Repair",
    "ResampleOrigin",
    "ResampleResult",
    "SyntheticOrigin",
    "as_utc",
    "factor_returns",
    "infer_frequency",
    "periods_per_year",
    "synthetic_open_mask",
]
