"""Data layer: the Panel, the Parquet+DuckDB store, bundled real data, quality checks."""

from alphaloop.data.catalog import DataCatalog, DatasetInfo, ImportResult
from alphaloop.data.panel import Panel, infer_frequency
from alphaloop.data.quality import CHECKS, QualityIssue, QualityReport, Repair

__all__ = [
    "CHECKS",
    "DataCatalog",
    "DatasetInfo",
    "ImportResult",
    "Panel",
    "QualityIssue",
    "QualityReport",
    "Repair",
    "infer_frequency",
]
