"""Factor returns for exposure analysis, read from data bundled in installed packages.

Three factor sets, each read from the installed ``skfolio`` or ``arch`` wheel
(never copied into this project), as simple returns indexed by timezone-naive
dates:

=========  =========  ==========================================================
name       frequency  factors
=========  =========  ==========================================================
market     daily      ``market``: the S&P 500 price index (skfolio ``sp500_index``),
                      1990-2022
etf        daily      ``MTUM QUAL SIZE USMV VLUE``: iShares factor ETFs (skfolio
                      ``factors_dataset``), 2014-2022
ff         monthly    ``MKT_RF SMB HML`` with the risk-free rate ``RF`` apart
                      (arch ``frenchdata``), 1926-07 to 2018-11
=========  =========  ==========================================================

Daily returns are ``p_t / p_{t-1} - 1`` of consecutive rows (the first row
is dropped). Fama-French values are percent in the file and decimals here;
its ``Date`` column is ``YYYYMM`` and is parsed with the format ``"%Y%m"``
(a month's value is stamped at the month's last calendar day).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from alphaloop.data.bundled import bundled_file
from alphaloop.errors import DataReadError

__all__ = ["FACTOR_SETS", "FactorData", "factor_returns", "read_fama_french"]

FactorSetName = Literal["market", "etf", "ff"]

#: The factor sets :func:`factor_returns` knows, in display order.
FACTOR_SETS: tuple[str, ...] = ("market", "etf", "ff")


@dataclass(frozen=True)
class FactorData:
    """Returns of one factor set.

    Attributes
    ----------
    name : str
        ``market``, ``etf`` or ``ff``.
    label : str
        A title for reports.
    frequency : {"daily", "monthly"}
    returns : DataFrame
        Simple returns per period (decimals), one column per factor, indexed
        by timezone-naive dates (month ends for monthly data), no NaNs.
    risk_free : Series or None
        The risk-free return per period (``ff`` only): subtract it from a
        strategy's returns before regressing on ``MKT_RF``.
    source : str
        Where the numbers come from.
    caveats : tuple of str
        What a report using them must say.
    """

    name: str
    label: str
    frequency: str
    returns: pd.DataFrame
    risk_free: pd.Series | None
    source: str
    caveats: tuple[str, ...]

    @property
    def span(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """First and last stamp of the returns."""
        return self.returns.index[0], self.returns.index[-1]


def _price_returns(package: str, relative_path: str) -> pd.DataFrame:
    frame = pd.read_csv(bundled_file(package, relative_path))
    dates = pd.to_datetime(frame.pop("Date"), format="%Y-%m-%d")
    prices = frame.set_axis(pd.DatetimeIndex(dates, name="date")).astype(float)
    return prices.pct_change().iloc[1:].dropna(how="any")


def read_fama_french() -> pd.DataFrame:
    """arch's monthly Fama-French file as decimals: ``MKT_RF``, ``SMB``, ``HML``, ``RF``.

    ``Date`` (``YYYYMM``) is parsed with ``"%Y%m"``; each row is stamped at
    its month's last calendar day (when the month's return is known).
    """
    raw = pd.read_csv(bundled_file("arch", "data/frenchdata/frenchdata.csv.gz"))
    if "Date" not in raw:
        raise DataReadError("arch's frenchdata.csv.gz has no Date column")
    months = pd.to_datetime(raw.pop("Date").astype(str), format="%Y%m")
    index = pd.DatetimeIndex(months + pd.offsets.MonthEnd(0), name="date")
    frame = raw.set_axis(index).astype(float) / 100.0
    frame.columns = [str(c).replace("-", "_").upper() for c in frame.columns]
    return frame


@functools.cache
def _load(name: str) -> FactorData:
    if name == "market":
        prices = _price_returns("skfolio", "datasets/data/sp500_index.csv.gz")
        returns = prices.iloc[:, :1].set_axis(["market"], axis=1)
        return FactorData(
            "market",
            "Market (S&P 500 index)",
            "daily",
            returns,
            None,
            "skfolio sp500_index",
            ("the S&P 500 price index: dividends are not included",),
        )
    if name == "etf":
        returns = _price_returns("skfolio", "datasets/data/factors_dataset.csv.gz")
        return FactorData(
            "etf",
            "Factor ETFs (MTUM, QUAL, SIZE, USMV, VLUE)",
            "daily",
            returns,
            None,
            "skfolio factors_dataset",
            (
                "ETF returns are net of the funds' fees; prices are rounded to 3 decimals",
                "raw ETF returns, not long-short factors: betas overlap with the market",
            ),
        )
    frame = read_fama_french()
    return FactorData(
        "ff",
        "Fama-French three factors (monthly)",
        "monthly",
        frame[["MKT_RF", "SMB", "HML"]],
        frame["RF"].rename("RF"),
        "arch frenchdata (Kenneth R. French data library)",
        ("monthly: the strategy's returns are compounded to calendar months",),
    )


def factor_returns(name: str) -> FactorData:
    """The factor set ``name`` (one of :data:`FACTOR_SETS`), read once per process.

    Raises
    ------
    DataReadError
        An unknown name, or the package holding the file is not installed.
    """
    if name not in FACTOR_SETS:
        raise DataReadError(
            f"factor set {name!r} is unknown; choose one of {', '.join(FACTOR_SETS)}",
            hint="market = S&P 500, etf = five factor ETFs, ff = Fama-French monthly",
        )
    data = _load(name)
    # callers get their own frames: the cached ones are never mutated
    return FactorData(
        data.name,
        data.label,
        data.frequency,
        data.returns.copy(),
        None if data.risk_free is None else data.risk_free.copy(),
        data.source,
        data.caveats,
    )
