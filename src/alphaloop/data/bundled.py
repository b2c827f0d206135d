"""Real market data that ships inside packages alphaloop depends on (works offline).

The files are read straight from the installed ``skfolio`` and ``arch``
wheels (their packages are located, not imported, so this stays fast).
Each dataset carries the caveats that every report using it repeats.

==============  =======================================================  =========
name            content                                                  source
==============  =======================================================  =========
sp500-stocks    adjusted close of 20 US large caps, daily 1990-2022      skfolio
sp500-index     S&P 500 index level, daily 1990-2022 (benchmark)         skfolio
factor-etfs     MTUM QUAL SIZE USMV VLUE ETF closes, daily 2014-2022     skfolio
sp500-ohlcv     S&P 500 index OHLC, adjusted close, volume, 1999-2018    arch
nasdaq-ohlcv    NASDAQ Composite OHLC, adjusted close, volume, 1999-2018 arch
vix             CBOE VIX close, daily 2014-2019                          arch
wti             WTI crude oil spot price, daily 1986-2019                arch
fama-french     Fama-French Mkt-RF, SMB, HML, RF monthly returns         arch
==============  =======================================================  =========
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from alphaloop.data.long import LongData
from alphaloop.errors import DataReadError

__all__ = ["BUNDLED", "BundledDataset", "bundled_file", "load_bundled"]

SURVIVORSHIP = (
    "survivorship bias: the 20 stocks are today's survivors, chosen after the fact; "
    "results on them overstate what a strategy could have earned"
)
ROUNDING = (
    "prices are rounded to 3 decimals: early low-priced series (AAPL, RRC) show long "
    "runs of zero returns"
)
INDEX_NOT_TRADABLE = "an index level, not a tradable asset: no dividends, costs or tracking error"


@dataclass(frozen=True)
class BundledDataset:
    """Where a bundled dataset comes from and what to say about it.

    ``asset_class`` is recorded with the dataset (see
    :mod:`alphaloop.data.market_calendar`); the calendar itself is read from
    the timestamps, as for any import.
    """

    name: str
    package: str
    relative_path: str
    description: str
    caveats: tuple[str, ...]
    reader: Callable[[Path], pd.DataFrame]
    asset_class: str = "equities"

    @property
    def source(self) -> str:
        return f"bundled:{self.package}/{self.relative_path}"


def bundled_file(package: str, relative_path: str) -> Path:
    """Path of a data file inside an installed package, without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataReadError(
            f"package {package!r} is not installed, so its bundled data is unavailable",
            hint="reinstall alphaloop: pip install alphaloop",
        )
    path = Path(next(iter(spec.submodule_search_locations))) / relative_path
    if not path.exists():
        raise DataReadError(f"bundled file {relative_path!r} is missing from {package}")
    return path


def _wide(field: str, date_format: str | None = None) -> Callable[[Path], pd.DataFrame]:
    def read(path: Path) -> pd.DataFrame:
        df = pd.read_csv(path)
        df["Date"] = pd.to_datetime(df["Date"], format=date_format)
        long = df.melt(id_vars="Date", var_name="asset", value_name=field)
        return long.rename(columns={"Date": "timestamp"})

    return read


def _single(asset: str, columns: dict[str, str]) -> Callable[[Path], pd.DataFrame]:
    def read(path: Path) -> pd.DataFrame:
        df = pd.read_csv(path, na_values=["."])
        out = pd.DataFrame({"timestamp": pd.to_datetime(df["Date"], format="%m/%d/%Y")})
        out["asset"] = asset
        for src, dst in columns.items():
            out[dst] = pd.to_numeric(df[src], errors="raise").astype(float)
        return out

    return read


def _fama_french(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path)
    # YYYYMM: a month's return is known at its end, so stamp it at the month's last day.
    month = pd.to_datetime(df["Date"].astype(str), format="%Y%m")
    stamp = month + pd.offsets.MonthEnd(0)
    long = df.drop(columns="Date").assign(timestamp=stamp)
    long = long.melt(id_vars="timestamp", var_name="asset", value_name="return")
    long["asset"] = long["asset"].str.replace("-", "_").str.upper()
    long["return"] = long["return"] / 100.0
    return long


_OHLCV = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Adj Close": "adj_close",
    "Volume": "volume",
}

BUNDLED: dict[str, BundledDataset] = {
    d.name: d
    for d in (
        BundledDataset(
            "sp500-stocks",
            "skfolio",
            "datasets/data/sp500_dataset.csv.gz",
            "Adjusted close of 20 US large-cap stocks, daily, 1990-01-02 to 2022-12-28.",
            (SURVIVORSHIP, ROUNDING, "close only: no open, high, low or volume"),
            _wide("close"),
        ),
        BundledDataset(
            "sp500-index",
            "skfolio",
            "datasets/data/sp500_index.csv.gz",
            "S&P 500 index level, daily, 1990-01-02 to 2022-12-28; the benchmark for sp500-stocks.",
            (INDEX_NOT_TRADABLE, "price index: dividends are not included"),
            _wide("close"),
        ),
        BundledDataset(
            "factor-etfs",
            "skfolio",
            "datasets/data/factors_dataset.csv.gz",
            "Adjusted close of five iShares factor ETFs (MTUM momentum, QUAL quality, "
            "SIZE size, USMV minimum volatility, VLUE value), daily, 2014-2022.",
            ("prices are rounded to 3 decimals", "close only: no open, high, low or volume"),
            _wide("close"),
        ),
        BundledDataset(
            "sp500-ohlcv",
            "arch",
            "data/sp500/sp500.csv.gz",
            "S&P 500 index open, high, low, close, adjusted close and volume, daily, "
            "1999-01-04 to 2018-12-31.",
            (INDEX_NOT_TRADABLE, "close equals adjusted close: a price index without dividends"),
            _single("SP500", _OHLCV),
        ),
        BundledDataset(
            "nasdaq-ohlcv",
            "arch",
            "data/nasdaq/nasdaq.csv.gz",
            "NASDAQ Composite open, high, low, close, adjusted close and volume, daily, "
            "1999-01-04 to 2018-12-31.",
            (INDEX_NOT_TRADABLE, "close equals adjusted close: a price index without dividends"),
            _single("NASDAQ", _OHLCV),
        ),
        BundledDataset(
            "vix",
            "arch",
            "data/vix/vix.csv.gz",
            "CBOE Volatility Index (VIX) close, daily, 2014-01-03 to 2019-01-03.",
            ("an index of implied volatility, not directly tradable",),
            _single("VIX", {"vix": "close"}),
        ),
        BundledDataset(
            "wti",
            "arch",
            "data/wti/wti.csv.gz",
            "West Texas Intermediate crude oil spot price (USD per barrel), daily, "
            "1986-01-02 to 2019-01-03.",
            (
                "a spot price, not a futures contract that could be held",
                "days without a published price are missing values",
            ),
            _single("WTI", {"DCOILWTICO": "close"}),
            asset_class="other",
        ),
        BundledDataset(
            "fama-french",
            "arch",
            "data/frenchdata/frenchdata.csv.gz",
            "Fama-French research factors (MKT_RF, SMB, HML) and the risk-free rate RF, "
            "monthly returns as decimals, 1926-07 to 2018-11.",
            (
                "monthly: each value is stamped at the last calendar day of its month, "
                "when it became known",
                "converted from percent to decimal returns",
            ),
            _fama_french,
        ),
    )
}


def load_bundled(name: str) -> LongData:
    """Read a bundled dataset into rows (asset, then time order)."""
    spec = BUNDLED[name]
    path = bundled_file(spec.package, spec.relative_path)
    df = spec.reader(path)
    ts = pd.DatetimeIndex(df["timestamp"])
    ts = ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")
    codes, uniques = pd.factorize(df["asset"], sort=True)
    fields = {
        c: df[c].to_numpy(dtype=np.float64) for c in df.columns if c not in ("timestamp", "asset")
    }
    data = LongData(
        ts.as_unit("ns").asi8.copy(),
        codes.astype(np.int32),
        tuple(str(u) for u in uniques),
        fields,
        np.arange(len(df), dtype=np.int64) + 2,
    )
    return data.take(data.sort_order())
