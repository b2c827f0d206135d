"""The compiled scans of the simulated broker agree with their plain-Python twins."""

from __future__ import annotations

import numpy as np
import pytest

from alphaloop.execution.scan import (
    KIND_FIRED,
    KIND_LIMIT,
    KIND_STOP,
    KIND_TRAILING,
    advance_extreme,
    advance_extreme_py,
    first_touch,
    first_touch_py,
)


@pytest.mark.parametrize("seed", range(20))
def test_first_touch_and_advance_extreme_match_their_twins(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 80))
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, (n, 2)), axis=0))
    open_ = close * np.exp(rng.normal(0, 0.01, (n, 2)))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.01, (n, 2))))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.01, (n, 2))))
    for arr in (open_, high, low):
        arr[rng.random((n, 2)) < 0.05] = np.nan
    no_open = np.empty((0, 2))
    for _ in range(30):
        args = (
            open_ if rng.random() < 0.8 else no_open,
            high,
            low,
            int(rng.integers(0, 2)),
            int(rng.integers(0, n)),
            n,
            int(rng.integers(0, n)),
            int(rng.choice([KIND_STOP, KIND_LIMIT, KIND_TRAILING, KIND_FIRED])),
            int(rng.choice([-1, 1])),
            float(rng.choice([np.nan, rng.uniform(80, 120)])),
            float(rng.uniform(0.01, 0.1)),
            float(rng.uniform(80, 120)),
        )
        assert first_touch(*args) == first_touch_py(*args)
        j, start, sign, extreme = args[3], args[4], args[8], args[11]
        assert advance_extreme(high, low, j, start, n, sign, extreme) == advance_extreme_py(
            high, low, j, start, n, sign, extreme
        )


def test_first_touch_by_hand() -> None:
    high = np.array([[101.0], [103.0], [106.0]])
    low = np.array([[99.0], [97.0], [95.0]])
    open_ = np.array([[100.0], [100.0], [104.0]])
    # a buy stop at 105 is reached on bar 2; a sell limit at 102.5 on bar 1
    assert first_touch_py(open_, high, low, 0, 0, 3, 0, KIND_STOP, 1, 105.0, 0.0, 0.0) == 2
    assert first_touch_py(open_, high, low, 0, 0, 3, 0, KIND_LIMIT, -1, 102.5, 0.0, 0.0) == 1
    # a sell trailing stop 5% under the best high: 101 -> level 95.95 on bar 1 (low 97: no);
    # best 103 -> level 97.85 on bar 2 (low 95: yes)
    trailing = first_touch_py(open_, high, low, 0, 1, 3, 1, KIND_TRAILING, -1, np.nan, 0.05, 101.0)
    assert trailing == 2
    assert first_touch_py(open_, high, low, 0, 0, 3, 0, KIND_STOP, 1, 200.0, 0.0, 0.0) == 3
    assert advance_extreme_py(high, low, 0, 0, 3, -1, 0.0) == 106.0


def test_one_asset_mark_matches_its_twin_and_the_general_mark() -> None:
    from alphaloop.execution.ledger import _mark_one, _mark_one_py

    rng = np.random.default_rng(5)
    last = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (50, 3)), axis=0))
    last[:3, 1] = np.nan  # no close yet
    out = [(np.zeros(50), np.zeros(50)) for _ in range(2)]
    for kernel, (equity, gross) in zip((_mark_one, _mark_one_py), out, strict=True):
        kernel(last, 1, 0, 50, -12.5, 1_000.0, equity, gross)
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_array_equal(out[0][1], out[1][1])
    np.testing.assert_array_equal(out[0][0], 1_000.0 + (0.0 + -12.5 * last[:, 1]))
    np.testing.assert_array_equal(out[0][1], np.abs(-12.5 * last[:, 1]))
