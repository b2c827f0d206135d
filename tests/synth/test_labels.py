"""Synthetic panels are labelled everywhere they go and never pass for real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alphaloop.backtest import backtest_panel, quick_spec, render_backtest_report
from alphaloop.data import DatasetInfo, Panel
from alphaloop.errors import DataReadError, SynthError
from alphaloop.synth import BlockBootstrap, NormalBaseline
from tests.synth.helpers import correlated_t, ohlcv_panel, panel_from_returns


@pytest.fixture(scope="module")
def drawn() -> list[Panel]:
    gen = BlockBootstrap(block_length=10).fit(ohlcv_panel(800, seed=2), source="toy v1")
    return gen.sample(2, 300, seed=5, name="boot1", label="draw-a")


def test_origin_names_generator_params_seed_and_path(drawn: list[Panel]) -> None:
    origin = drawn[1].synthetic
    assert drawn[1].is_synthetic
    assert origin is not None
    assert (origin.generator, origin.name, origin.seed, origin.path) == ("bootstrap", "boot1", 5, 1)
    assert origin.params == {"method": "stationary", "block_length": 10}
    assert origin.source == "toy v1"
    assert origin.label == "draw-a"
    assert origin.describe().startswith("SYNTHETIC ('draw-a': bootstrap 'boot1', seed 5, path 1")
    assert "SYNTHETIC" in repr(drawn[1])


def test_label_survives_slices_selections_and_fields(drawn: list[Panel]) -> None:
    p = drawn[0]
    views = [
        p.iloc(slice(10, 50)),
        p.slice(p.index[5], p.index[100]),
        p.select(["Y"]),
        p.select(fields=["close"]),
        p.with_fields({"extra": np.zeros(p.shape)}),
        p.with_sealed_end(None),
    ]
    assert all(v.synthetic == p.synthetic for v in views)


def test_hash_and_equality_differ_from_real_data(drawn: list[Panel]) -> None:
    p = drawn[0]
    plain = Panel(p.index, p.assets, {f: p[f] for f in p.field_names})
    assert not plain.is_synthetic
    assert plain.content_hash() != p.content_hash()
    assert not plain.equals(p)


def test_generators_refuse_synthetic_panels(drawn: list[Panel]) -> None:
    with pytest.raises(SynthError, match="synthetic: generators are fitted on real data only"):
        NormalBaseline().fit(drawn[0])


def test_backtest_and_tearsheet_say_synthetic(tmp_path: Path) -> None:
    real = panel_from_returns(correlated_t(600, seed=3, d=4))
    path = NormalBaseline().fit(real, source="toy v1").sample(1, 500, seed=2)[0]
    info = _info(path)
    spec = quick_spec("$close / Ref($close, 20) - 1", "toy", top_k=2, fills="next_close")
    result = backtest_panel(spec, info, path)
    assert result.synthetic is not None
    assert result.synthetic["generator"] == "normal"
    assert result.assumptions["notes"][0].startswith("SYNTHETIC (normal")
    assert result.to_dict()["dataset"]["synthetic"]["seed"] == 2
    text = render_backtest_report(result)
    assert 'id="synthetic-banner"' in text
    assert "SYNTHETIC DATA" in text
    # the same strategy on real data carries no label
    real_result = backtest_panel(spec, _info(real), real)
    assert real_result.synthetic is None
    assert "synthetic-banner" not in render_backtest_report(real_result)


def test_written_paths_are_refused_by_the_importer(shared_workspace, tmp_path: Path) -> None:
    from alphaloop.app.synth import write_paths

    real = panel_from_returns(correlated_t(600, seed=3, d=2))
    panels = NormalBaseline().fit(real).sample(2, 100, seed=1)
    files = write_paths(shared_workspace, panels, tmp_path / "out")
    assert [f.name for f in files] == ["path-0000.parquet", "path-0001.parquet"]
    with pytest.raises(DataReadError, match="synthetic paths drawn by a generator"):
        shared_workspace.data.check_file(files[0])
    with pytest.raises(SynthError, match="inside the workspace's data store"):
        write_paths(shared_workspace, panels, shared_workspace.data_dir / "x")


def _info(panel: Panel) -> DatasetInfo:
    from datetime import UTC, datetime

    from alphaloop.data.market_calendar import infer_market_calendar

    market = infer_market_calendar(panel.index, "daily", has_volume=False, asset_class="equities")
    start, end = panel.index[0].to_pydatetime(), panel.index[-1].to_pydatetime()
    return DatasetInfo(
        "toy", 1, "test", "", "daily", start, end, panel.n_assets, panel.n_times,
        panel.n_times * panel.n_assets, panel.field_names, panel.assets, (), {},
        panel.content_hash(), "", datetime(2024, 1, 1, tzinfo=UTC), market,
    )  # fmt: skip
