"""The event engine gives the numbers it gave before its hot path was made fast.

Each workload of :mod:`tests.backtest.event_workloads` (the benchmark's
strategies at reduced sizes, and random order flows over every order type,
time in force and fill timing) is run and compared with the recording in
``tests/backtest/data/event_parity.npz``: the same fills, round trips,
equity, costs, every order's event history, the events the strategy heard
in the order it heard them, and the account it saw, bit for bit.

Bit-identical on purpose: a shortcut that changes the last bit of a cash flow
changes nothing visible in equity at 1e-12. Re-record
(``python -m tests.backtest.event_workloads``) only for an intended change
of the numbers, or after a numpy/numba upgrade shown to move last bits only.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.backtest.event_workloads import WORKLOADS, load_reference, record


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_workload_matches_its_recording(name: str) -> None:
    expected = load_reference(name)
    got = {k[len(name) + 1 :]: v for k, v in record(name).items()}
    assert sorted(got) == sorted(expected)
    assert len(expected["order_texts"]) > 100  # the workload did trade
    for key, want in expected.items():
        have = got[key]
        assert have.shape == want.shape, f"{name}: {key} has shape {have.shape}, not {want.shape}"
        if want.dtype.kind in "US":
            mismatch = np.flatnonzero(have != want)
            assert not len(mismatch), (
                f"{name}: {key} differs first at {mismatch[0]}: "
                f"{have[mismatch[0]]!r} != {want[mismatch[0]]!r}"
            )
        else:  # exact, NaN where NaN was
            np.testing.assert_array_equal(have, want, err_msg=f"{name}: {key}", strict=True)


def test_the_recording_is_read_back_whole() -> None:
    # every workload has its arrays, and identical arrays are shared, not lost
    for name in WORKLOADS:
        ref = load_reference(name)
        assert {"equity", "trades", "order_numbers", "order_texts", "heard"} <= set(ref)
        assert np.isfinite(ref["equity"]).all()
