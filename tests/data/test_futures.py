"""Continuous futures contracts: roll rules, back-adjustment, the roll schedule, causality."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from alphaloop.data.futures import CalendarRoll, CrossoverRoll, continuous_contract
from alphaloop.errors import AssetDataError

EXPIRIES = {"ESH7": date(2027, 3, 19), "ESM7": date(2027, 6, 18), "ESU7": date(2027, 9, 17)}


def _contracts(seed: int = 7) -> dict[str, pd.DataFrame]:
    """Three overlapping quarterly contracts on business days, a contango of a few points,
    volume migrating from the front to the next contract about ten days before expiry."""
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2026-12-01", "2027-09-17", tz="UTC")
    spot = 5000 * np.exp(np.cumsum(rng.normal(0, 0.01, len(index))))
    out = {}
    starts = {"ESH7": "2026-12-01", "ESM7": "2027-02-15", "ESU7": "2027-05-17"}
    for k, (name, expiry) in enumerate(EXPIRIES.items()):
        live = (index >= pd.Timestamp(starts[name], tz="UTC")) & (
            index <= pd.Timestamp(expiry, tz="UTC")
        )
        days_left = np.array([(pd.Timestamp(expiry, tz="UTC") - t).days for t in index])
        close = spot * (1 + 0.0004 * days_left / 30) + 3 * k
        volume = np.where(days_left > 12, 1e6 * (1 + k * 0.01), 1e4) + rng.uniform(
            0, 10, len(index)
        )
        if k > 0:  # the next contract is thin until the front's last weeks
            volume = np.where(days_left > 100, 1e3, volume)
        frame = pd.DataFrame(
            {"close": close, "open": close * 0.999, "volume": volume, "open_interest": volume * 3},
            index=index,
        )
        out[name] = frame[live]
    return out


@pytest.mark.parametrize(
    "rule", [CalendarRoll(5), CrossoverRoll("volume"), CrossoverRoll("open_interest")]
)
def test_roll_schedule_and_held_contract(rule: CalendarRoll | CrossoverRoll) -> None:
    cc = continuous_contract(_contracts(), EXPIRIES, rule=rule, adjust="none")
    frame, rolls = cc.frame, cc.rolls
    assert list(rolls["from_contract"]) == ["ESH7", "ESM7"]
    assert list(rolls["to_contract"]) == ["ESM7", "ESU7"]
    for r in rolls.itertuples():
        # effective the bar after the decision; never held on or after its expiry day
        assert frame.index.get_loc(r.effective_at) == frame.index.get_loc(r.decided_at) + 1
        assert r.decided_at.date() <= EXPIRIES[r.from_contract]
        assert frame.loc[r.decided_at, "contract"] == r.from_contract
        assert frame.loc[r.effective_at, "contract"] == r.to_contract
        assert r.gap == pytest.approx(r.to_close - r.from_close)
    if isinstance(rule, CalendarRoll):
        first = rolls.iloc[0]
        assert (EXPIRIES["ESH7"] - first.decided_at.date()).days <= 5
        before = frame.index[frame.index.get_loc(first.decided_at) - 1].date()
        assert (EXPIRIES["ESH7"] - before).days > 5


def test_crossover_rolls_when_the_next_contract_trades_more() -> None:
    data = _contracts()
    cc = continuous_contract(data, EXPIRIES, rule=CrossoverRoll("volume"), adjust="none")
    first = cc.rolls.iloc[0]
    t = first.decided_at
    assert data["ESM7"].loc[t, "volume"] > data["ESH7"].loc[t, "volume"]
    prev = cc.frame.index[cc.frame.index.get_loc(t) - 1]
    assert data["ESM7"].loc[prev, "volume"] <= data["ESH7"].loc[prev, "volume"]


@pytest.mark.parametrize("rule", [CalendarRoll(3), CrossoverRoll("volume")])
def test_adjusted_series_follow_the_held_contract(rule: CalendarRoll | CrossoverRoll) -> None:
    data = _contracts()
    diff = continuous_contract(data, EXPIRIES, rule=rule, adjust="difference").frame
    ratio = continuous_contract(data, EXPIRIES, rule=rule, adjust="ratio").frame
    none = continuous_contract(data, EXPIRIES, rule=rule, adjust="none").frame
    held = diff["contract"].to_numpy()
    # the held contract's own change from the previous bar (the new contract's at a roll)
    own_prev = np.array(
        [np.nan]
        + [data[held[t]]["close"].get(diff.index[t - 1], np.nan) for t in range(1, len(diff))]
    )
    own_diff = diff["raw_close"].to_numpy() - own_prev
    own_ret = diff["raw_close"].to_numpy() / own_prev - 1
    np.testing.assert_allclose(
        np.diff(diff["close"].to_numpy()), own_diff[1:], rtol=1e-9, atol=1e-7
    )
    np.testing.assert_allclose(ratio["close"].pct_change().to_numpy()[1:], own_ret[1:], rtol=1e-9)
    # the latest segment keeps traded prices; unadjusted jumps only at rolls
    last = diff["contract"] == diff["contract"].iloc[-1]
    np.testing.assert_allclose(diff.loc[last, "close"], none.loc[last, "close"])
    np.testing.assert_allclose(ratio.loc[last, "close"], none.loc[last, "close"])
    jumps = np.diff(none["close"].to_numpy()) - own_diff[1:]
    rolled = np.isin(
        none.index[1:], continuous_contract(data, EXPIRIES, rule=rule).rolls["effective_at"]
    )
    assert np.all(np.abs(jumps[~rolled]) < 1e-7)
    assert np.all(np.abs(jumps[rolled]) > 1e-6)


@pytest.mark.parametrize("rule", [CalendarRoll(5), CrossoverRoll("volume")])
def test_roll_decisions_use_data_up_to_the_bar(rule: CalendarRoll | CrossoverRoll) -> None:
    data = _contracts()
    full = continuous_contract(data, EXPIRIES, rule=rule, adjust="ratio")
    for cut in (
        full.rolls["decided_at"].iloc[0],
        full.rolls["decided_at"].iloc[1],
        full.frame.index[150],
    ):
        truncated = {k: v[v.index <= cut] for k, v in data.items()}
        truncated = {k: v for k, v in truncated.items() if len(v)}
        part = continuous_contract(truncated, EXPIRIES, rule=rule, adjust="ratio")
        head = full.frame[full.frame.index <= cut]
        assert list(part.frame["contract"]) == list(head["contract"])
        np.testing.assert_allclose(part.frame["raw_close"], head["raw_close"])
        np.testing.assert_allclose(
            part.frame["close"].pct_change().to_numpy()[1:],
            head["close"].pct_change().to_numpy()[1:],
        )
        # the same rolls, decided at the same bars; one on the last bar is effective after it
        decided = full.rolls[full.rolls["decided_at"] <= cut]
        assert list(part.rolls["decided_at"]) == list(decided["decided_at"])
        assert list(part.rolls["to_contract"]) == list(decided["to_contract"])
        pending = part.rolls["effective_at"].isna()
        assert list(pending) == list(part.rolls["decided_at"] == cut)


@pytest.mark.parametrize("adjust", ["difference", "ratio"])
def test_a_roll_decided_on_the_last_bar_is_recorded_effective_after_the_end(adjust: str) -> None:
    data = _contracts()
    rule = CalendarRoll(5)
    full = continuous_contract(data, EXPIRIES, rule=rule, adjust=adjust)  # type: ignore[arg-type]
    first = full.rolls.iloc[0]
    cut = first["decided_at"]
    part = continuous_contract(
        {k: v[v.index <= cut] for k, v in data.items() if (v.index <= cut).any()},
        EXPIRIES, rule=rule, adjust=adjust,  # type: ignore[arg-type]
    )  # fmt: skip
    (roll,) = part.rolls.itertuples()
    assert roll.decided_at == cut
    assert pd.isna(roll.effective_at)
    assert (roll.from_contract, roll.to_contract) == (first["from_contract"], first["to_contract"])
    assert roll.gap == pytest.approx(first["gap"])
    assert roll.ratio == pytest.approx(first["ratio"])
    # the last bar still holds the old contract, and no price is adjusted for the pending roll
    assert part.frame["contract"].iloc[-1] == first["from_contract"]
    np.testing.assert_array_equal(part.frame["close"], part.frame["raw_close"])
    assert "effective after the end" in part.describe()
    assert "0 roll(s)" in part.describe()
    # a series that ends on the held contract's expiry day is not an error at its last bar
    only = {"ESH7": data["ESH7"]}
    cc = continuous_contract(only, {"ESH7": EXPIRIES["ESH7"]}, rule=CalendarRoll(0))
    assert cc.rolls.empty
    assert cc.frame.index[-1].date() == EXPIRIES["ESH7"]


def test_bad_inputs_are_refused() -> None:
    data = _contracts()
    with pytest.raises(AssetDataError, match="no expiry for contract"):
        continuous_contract(data, {"ESH7": EXPIRIES["ESH7"]})
    with pytest.raises(AssetDataError, match="adjust must be"):
        continuous_contract(data, EXPIRIES, adjust="back")  # type: ignore[arg-type]
    no_vol = {k: v.drop(columns="volume") for k, v in data.items()}
    with pytest.raises(AssetDataError, match="no 'volume' column"):
        continuous_contract(no_vol, EXPIRIES, rule=CrossoverRoll("volume"))
    with pytest.raises(AssetDataError, match="days_before"):
        CalendarRoll(-1)
    # the front expires and nothing later is priced
    only = {"ESH7": data["ESH7"], "ESM7": data["ESM7"][data["ESM7"].index > "2027-04-01"]}
    with pytest.raises(AssetDataError, match="expires on 2027-03-19"):
        continuous_contract(only, EXPIRIES, rule=CalendarRoll(0))
