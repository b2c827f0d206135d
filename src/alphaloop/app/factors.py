"""Factor work on a workspace's datasets: evaluate to a file, analyze against returns.

These functions load data through the catalog, evaluate with warm-up
history (data before ``start`` feeds the windows but is not returned), and
carry the dataset's caveats into every result.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from alphaloop.data import DataCatalog, Panel, as_utc
from alphaloop.errors import AlphaloopError, ExpressionError
from alphaloop.factors import FactorCache, compile_expression
from alphaloop.factors.evaluate import Mode, evaluate
from alphaloop.files import create_temp_file
from alphaloop.progress import Progress, no_progress, track

if TYPE_CHECKING:
    from alphaloop.app.workspace import Workspace
    from alphaloop.factors import FactorSelection

__all__ = [
    "AnalysisResult",
    "EvalResult",
    "analyze_dataset",
    "evaluate_dataset",
    "write_long_parquet",
]


@dataclass(frozen=True)
class EvalResult:
    """Factor values on a dataset, trimmed to the requested span."""

    names: tuple[str, ...]
    values: dict[str, np.ndarray]
    panel: Panel
    dataset: str
    content_hash: str
    mode: str
    caveats: tuple[str, ...]

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "dataset": self.dataset,
            "content_hash": self.content_hash,
            "mode": self.mode,
            "start": self.panel.start.isoformat() if self.panel.start is not None else None,
            "end": self.panel.end.isoformat() if self.panel.end is not None else None,
            "assets": self.panel.n_assets,
            "times": self.panel.n_times,
            "caveats": list(self.caveats),
            "factors": {},
        }
        members = self.panel.membership
        for name in self.names:
            v = self.values[name]
            valid = ~np.isnan(v) & members
            out["factors"][name] = {
                "cells": int(members.sum()),
                "valid": int(valid.sum()),
                "mean": float(np.mean(v[valid])) if valid.any() else None,
                "std": float(np.std(v[valid])) if valid.any() else None,
            }
        return out


def evaluate_dataset(
    catalog: DataCatalog,
    expressions: dict[str, str],
    data: str,
    *,
    start: Any = None,
    end: Any = None,
    mode: Mode = "strict",
    label: bool = False,
    cache: FactorCache | None = None,
    workspace: Workspace | None = None,
) -> EvalResult:
    """Evaluate named expressions on a dataset between ``start`` and ``end`` (inclusive).

    History before ``start`` is loaded and used to fill windows, then cut off,
    so the first returned values are as complete as the data allows. With a
    ``cache``, values already computed for the same formula, mode, dataset
    version and span are read back instead of recomputed. Expressions that
    read text factors (``Text("NAME")``) need the ``workspace`` that defines
    them and holds the documents (:mod:`alphaloop.app.text_factors`).
    """
    from alphaloop.app.text_factors import attach_expression_texts

    info = catalog.info(data)
    panel = catalog.load(data, end=end)
    caveats: list[str] = list(info.caveats)
    universe: str | None = None
    if workspace is not None:
        # a point-in-time universe stored with the dataset: only members are scored
        from alphaloop.app.assets import dataset_universe, universe_key

        panel, caveats, applied = dataset_universe(workspace, data, panel, caveats)
        universe = universe_key(workspace, data) if applied is not None else None
    panel, text_hash = attach_expression_texts(workspace, panel, expressions.values())
    compiled = {}
    for name, text in expressions.items():
        try:
            compiled[name] = compile_expression(text, fields=panel.field_names, label=label)
        except ExpressionError as exc:
            prefix = f"{name}: " if name != text else ""
            raise ExpressionError(f"{prefix}{exc.message}", hint=exc.hint) from exc
    span = f"{start}|{end}|{label}" + (f"|text:{text_hash}" if text_hash else "")
    span += f"|universe:{universe}" if universe else ""
    keys = {
        name: FactorCache.key(e.canonical, mode, info.content_hash, span)
        for name, e in compiled.items()
    }
    values: dict[str, np.ndarray] = {}
    if cache is not None:
        for name, key in keys.items():
            hit = cache.get(key)
            if hit is not None:
                values[name] = hit
    missing = {n: e for n, e in compiled.items() if n not in values}
    i0 = 0 if start is None else int(panel.index.searchsorted(as_utc(start)))
    if missing:
        fresh = evaluate(panel, missing, mode=mode, label=label)
        for name, v in fresh.items():
            values[name] = v[i0:]
            if cache is not None:
                cache.put(keys[name], values[name])
    values = {name: values[name] for name in compiled}
    panel = panel.iloc(slice(i0, None))
    if panel.n_times == 0:
        boundary = catalog.holdout_boundary(data)
        if boundary is not None and start is not None and as_utc(start) >= boundary:
            catalog.load(data, start=start)  # raises: the span lies in the sealed holdout
        raise AlphaloopError(
            f"no data of {data!r} between {start} and {end}",
            hint=f"the dataset spans {info.start:%Y-%m-%d} .. {info.end:%Y-%m-%d}",
        )
    return EvalResult(tuple(compiled), values, panel, data, info.content_hash, mode, tuple(caveats))


def write_long_parquet(result: EvalResult, path: str | Path) -> int:
    """Write member cells as long rows ``timestamp, asset, <factor>...``; returns the row count.

    A single factor's column is named ``value``. Written atomically.
    """
    panel = result.panel
    t_idx, a_idx = np.nonzero(panel.membership)
    columns: dict[str, Any] = {
        "timestamp": pa.array(panel.index[t_idx]),
        "asset": pa.array(np.asarray(panel.assets, dtype=object)[a_idx]).dictionary_encode(),
    }
    single = len(result.names) == 1
    for name in result.names:
        columns["value" if single else name] = pa.array(result.values[name][t_idx, a_idx])
    table = pa.table(columns)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = create_temp_file(target, ".parquet.tmp")
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return table.num_rows


# ------------------------------------------------------------------ analysis
@dataclass(frozen=True)
class AnalysisResult:
    """Reports for one factor or a library, with what they were tested against."""

    target: str
    is_library: bool
    reports: dict[str, Any]  # name -> FactorReport
    dataset: str
    content_hash: str
    market: str
    known: tuple[str, ...]
    caveats: tuple[str, ...]
    mode: str
    selection: FactorSelection | None = None  # a library's factors run, skipped, proxied

    @property
    def analysis_mode(self) -> str:
        """``cross-section`` or ``time-series`` (the mode of the reports)."""
        return next(iter(self.reports.values())).mode if self.reports else "cross-section"

    @property
    def skipped_summary(self) -> list[str]:
        """Lines such as "1 factor skipped: needs $vwap (not in dataset)" (empty if none)."""
        return self.selection.skipped_summary() if self.selection is not None else []

    def to_dict(self) -> dict[str, Any]:
        from statsmodels.stats.multitest import multipletests

        factors = {name: r.to_dict() for name, r in self.reports.items()}
        out: dict[str, Any] = {
            "target": self.target,
            "dataset": self.dataset,
            "content_hash": self.content_hash,
            "mode": self.mode,
            "market": self.market,
            "known_factors": list(self.known),
            "n_factors_tested": len(factors),
            "analysis_mode": self.analysis_mode,
            "caveats": list(self.caveats),
        }
        if self.selection is not None:
            sel = self.selection.to_dict()
            out["factors_skipped"] = sel["skipped"]
            out["skipped_summary"] = sel["skipped_summary"]
            out["factors_proxied"] = sel["proxied"]
            out["field_proxies"] = sel["proxies"]
        if not self.is_library:
            out.update(next(iter(factors.values())))
            return out
        # Testing many factors at once: report p-values adjusted for the number tried.
        names = list(factors)
        t = np.array([_nan(_rank_t_hac(factors[n])) for n in names])
        p = 2 * _normal_sf(np.abs(t))
        ok = ~np.isnan(p)
        holm = np.full(len(p), np.nan)
        if ok.any():
            holm[ok] = multipletests(p[ok], method="holm")[1]
        for name, raw, adj in zip(names, p, holm, strict=True):
            factors[name]["rank_ic_p_value"] = None if np.isnan(raw) else float(raw)
            factors[name]["rank_ic_p_value_holm"] = None if np.isnan(adj) else float(adj)
        out["factors"] = factors
        statistic = (
            "the pooled time-series rank IC"
            if self.analysis_mode == "time-series"
            else "the mean rank IC"
        )
        out["multiple_testing"] = {
            "method": f"Holm, on two-sided p-values of the HAC t-statistic of {statistic}",
            "n_tests": int(ok.sum()),
            "significant_at_5pct_after_adjustment": int(np.nansum(holm < 0.05)),
            "significant_at_5pct_before_adjustment": int(np.nansum(p < 0.05)),
        }
        return out


def _rank_t_hac(factor: dict[str, Any]) -> Any:
    """The HAC t-statistic of a factor's rank IC: cross-sectional, else pooled time-series."""
    if factor.get("time_series"):
        return factor["time_series"]["pooled"]["rank_ic_t_stat_hac"]
    return factor.get("rank_t_stat_hac")


def _nan(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _normal_sf(x: np.ndarray) -> np.ndarray:
    from scipy.stats import norm

    return norm.sf(x)


def analyze_dataset(
    catalog: DataCatalog,
    target: str,
    data: str,
    *,
    horizon: int = 1,
    quantiles: int = 5,
    start: Any = None,
    end: Any = None,
    mode: Mode = "strict",
    market: str | None = "auto",
    known: list[str] | None = None,
    library_root: Path | None = None,
    cache: FactorCache | None = None,
    analysis_mode: str = "auto",
    field_proxies: Iterable[str] = (),
    progress: Progress | None = None,
    workspace: Workspace | None = None,
) -> AnalysisResult:
    """Analyze an expression, or every factor of a library, on a dataset.

    ``target`` is resolved by
    :func:`~alphaloop.factors.library.resolve_factor_source` (a mistyped
    library name is refused with the closest names). A library's factors
    that need fields the dataset lacks are left out and listed
    (``AnalysisResult.selection``), unless ``field_proxies`` names a field to
    approximate (e.g. ``("vwap",)``: typical price), which then adds a caveat.
    ``analysis_mode``: ``auto``, ``cross-section`` or ``time-series`` (see
    :func:`~alphaloop.factors.analysis.choose_analysis_mode`).
    ``market``: a single-asset dataset whose close returns serve as the
    market (``"auto"``: the equal-weighted return of the dataset's members;
    ``None``: no market, so no orthogonality or regimes). ``known``: datasets
    whose returns serve as known factors (default: factor-etfs when it
    overlaps the data by a year, else fama-french; ``[]`` for none).
    ``progress`` (see :mod:`alphaloop.progress`) hears of the evaluation and
    of each factor analyzed. ``workspace``: for expressions that read text
    factors (see :func:`evaluate_dataset`).
    """
    from alphaloop.factors import (
        analyze_factor,
        choose_analysis_mode,
        resolve_factor_source,
        select_factors,
    )

    source = resolve_factor_source(target, library_root)
    is_library = source.library is not None
    selection = None
    extra_caveats: list[str] = []
    if source.library is not None:
        selection = select_factors(
            source.library.factors,
            catalog.info(data).fields,
            proxies=field_proxies,
            library=source.library.name,
        )
        exprs = selection.factors
        extra_caveats = selection.proxy_caveats()
    else:
        exprs = source.expressions
    report = progress or no_progress
    evaluating = f"evaluating {len(exprs)} factor(s)"
    report(evaluating, 0, 1)
    result = evaluate_dataset(
        catalog, exprs, data, start=start, end=end, mode=mode, cache=cache, workspace=workspace
    )
    report(evaluating, 1, 1)
    panel = result.panel
    if "close" not in panel:
        raise AlphaloopError(
            f"factor analysis needs a close price for returns; {data!r} has "
            f"{list(panel.field_names)}"
        )
    close = panel["close"]
    caveats = (*result.caveats, *extra_caveats)
    # annualize with the dataset's own calendar (365 days for crypto, 260 for FX, ...)
    periods_per_year = catalog.info(data).market.periods_per_year
    chosen, _ = choose_analysis_mode(
        close, panel.membership, min_assets=max(5, quantiles), requested=analysis_mode
    )
    if chosen == "time-series":  # market and known factors serve cross-sectional measures only
        market_series, market_name = None, "none (not used in the time-series mode)"
        known_frame, known_names = None, []
    else:
        market_series, market_name = _market(catalog, panel, market)
        known_frame, known_names = _known(catalog, panel, known)
    reports = {}
    for name in track(result.names, "analyzing factors", report):
        reports[name] = analyze_factor(
            result.values[name],
            close,
            index=panel.index,
            assets=panel.assets,
            horizon=horizon,
            quantiles=quantiles,
            membership=panel.membership,
            market=market_series,
            known_factors=known_frame,
            caveats=caveats,
            mode=analysis_mode,  # type: ignore[arg-type]
            periods_per_year=periods_per_year,
        )
    return AnalysisResult(
        target,
        is_library,
        reports,
        data,
        result.content_hash,
        market_name,
        tuple(known_names),
        caveats,
        mode,
        selection,
    )


def _market(catalog: DataCatalog, panel: Panel, market: str | None) -> tuple[Any, str]:
    from alphaloop.factors import simple_returns

    if market is None or market == "none":
        return None, "none"
    if market == "auto":
        prices = pd.DataFrame(panel["close"], index=panel.index, columns=list(panel.assets))
        rets = simple_returns(prices).where(panel.membership)
        return rets.mean(axis=1, skipna=True), f"equal-weighted return of {panel.n_assets} assets"
    other = catalog.load(market, fields=["close"])
    if other.n_assets != 1:
        raise AlphaloopError(f"--market {market!r} must be a single-asset dataset")
    series = pd.Series(other["close"][:, 0], index=other.index)
    return simple_returns(series), market


def _known(
    catalog: DataCatalog, panel: Panel, known: list[str] | None
) -> tuple[pd.DataFrame | None, list[str]]:
    from alphaloop.factors import simple_returns

    if known is None:
        etfs = catalog.info("factor-etfs")
        overlap = (
            min(panel.end, pd.Timestamp(etfs.end)) - max(panel.start, pd.Timestamp(etfs.start))
        ).days
        known = ["factor-etfs"] if overlap >= 365 else ["fama-french"]
    frames, names = [], []
    for name in known:
        p = catalog.load(name)
        if "return" in p:
            cols = [a for a in p.assets if a != "RF"]
            frame = pd.DataFrame(p["return"], index=p.index, columns=list(p.assets))[cols]
        elif "close" in p:
            frame = simple_returns(pd.DataFrame(p["close"], index=p.index, columns=list(p.assets)))
        else:
            raise AlphaloopError(f"known factors {name!r} need a 'close' or 'return' field")
        frames.append(frame.add_prefix(f"{name}:"))
        names.append(name)
    if not frames:
        return None, []
    return pd.concat(frames, axis=1), names
