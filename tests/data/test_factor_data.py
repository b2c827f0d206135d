"""Bundled factor sets: read from the installed packages, dates and units right."""

from __future__ import annotations

import csv
import gzip

import numpy as np
import pandas as pd
import pytest

from alphaloop.data import FACTOR_SETS, factor_returns
from alphaloop.data.bundled import bundled_file
from alphaloop.data.factor_data import read_fama_french
from alphaloop.errors import DataReadError


def _raw_rows(package: str, path: str) -> list[dict[str, str]]:
    with gzip.open(bundled_file(package, path), "rt", newline="") as fh:
        return list(csv.DictReader(fh))


def test_fama_french_months_are_parsed_as_yyyymm() -> None:
    rows = _raw_rows("arch", "data/frenchdata/frenchdata.csv.gz")
    frame = read_fama_french()
    assert len(frame) == len(rows)
    # spot checks straight from the file: a month's value sits at its month's last day
    for row in (rows[0], rows[len(rows) // 2], rows[-1]):
        month = pd.Timestamp(year=int(row["Date"][:4]), month=int(row["Date"][4:]), day=1)
        stamp = month + pd.offsets.MonthEnd(0)
        assert frame.loc[stamp, "MKT_RF"] == pytest.approx(float(row["Mkt-RF"]) / 100)
        assert frame.loc[stamp, "SMB"] == pytest.approx(float(row["SMB"]) / 100)
        assert frame.loc[stamp, "HML"] == pytest.approx(float(row["HML"]) / 100)
        assert frame.loc[stamp, "RF"] == pytest.approx(float(row["RF"]) / 100)
    assert frame.index[0] == pd.Timestamp("1926-07-31")
    assert frame.index.is_monotonic_increasing
    assert frame.index.is_unique
    assert (frame.index == frame.index + pd.offsets.MonthEnd(0)).all()  # every stamp a month end
    # one row per month: no month is skipped or doubled
    months = frame.index.to_period("M")
    assert (np.diff(months.asi8) == 1).all()


def test_a_known_month_of_the_fama_french_factors() -> None:
    rows = {r["Date"]: r for r in _raw_rows("arch", "data/frenchdata/frenchdata.csv.gz")}
    october_1987 = rows["198710"]  # the crash month: the market factor fell by a fifth or more
    ff = factor_returns("ff")
    value = ff.returns.loc["1987-10-31", "MKT_RF"]
    assert value == pytest.approx(float(october_1987["Mkt-RF"]) / 100)
    assert value < -0.2
    assert ff.risk_free is not None
    assert ff.risk_free.loc["1987-10-31"] == pytest.approx(float(october_1987["RF"]) / 100)
    assert list(ff.returns.columns) == ["MKT_RF", "SMB", "HML"]
    assert ff.frequency == "monthly"


def test_daily_sets_are_simple_returns_of_the_bundled_closes() -> None:
    rows = _raw_rows("skfolio", "datasets/data/factors_dataset.csv.gz")
    etf = factor_returns("etf")
    assert list(etf.returns.columns) == ["MTUM", "QUAL", "SIZE", "USMV", "VLUE"]
    first, second = rows[0], rows[1]
    expected = float(second["MTUM"]) / float(first["MTUM"]) - 1
    assert etf.returns.index[0] == pd.Timestamp(second["Date"])
    assert etf.returns.iloc[0]["MTUM"] == pytest.approx(expected)
    assert etf.returns.index[0].year == 2014
    assert etf.returns.index[-1].year == 2022
    market = factor_returns("market")
    assert list(market.returns.columns) == ["market"]
    assert market.returns.index.tz is None
    assert not market.returns.isna().any().any()
    assert market.span[0].year == 1990


def test_callers_get_their_own_frames() -> None:
    first = factor_returns("market")
    first.returns.iloc[0, 0] = 99.0
    assert factor_returns("market").returns.iloc[0, 0] != 99.0


def test_unknown_factor_set() -> None:
    assert FACTOR_SETS == ("market", "etf", "ff")
    with pytest.raises(DataReadError, match="factor set 'fama' is unknown; choose one of market"):
        factor_returns("fama")
