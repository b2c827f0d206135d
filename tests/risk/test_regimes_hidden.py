"""Gaussian HMM and Markov-switching regimes: planted states, filtering, causality, seeds."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from alphaloop.risk import (
    WARMUP,
    RiskError,
    detect_regimes,
    fit_gaussian_hmm,
    forward_filter,
    hmm_regimes,
    markov_regimes,
)
from tests.risk.helpers import assert_causal, planted_volatility_regimes

hmmlearn = pytest.importorskip("hmmlearn.hmm", reason="the risk extra (hmmlearn) is needed")


def _accuracy(labels: pd.Series, states: np.ndarray) -> float:
    values = labels.to_numpy()
    labelled = values != WARMUP
    return float(np.mean(values[labelled] == states[labelled]))


@pytest.mark.parametrize("method", ["hmm", "markov"])
def test_recovers_planted_volatility_states(method: str) -> None:
    returns, states = planted_volatility_regimes(3000)
    result = detect_regimes(returns, method, min_train=1000)
    assert _accuracy(result.labels, states) > 0.9
    assert (result.labels.iloc[:1000] == WARMUP).all()
    assert result.names == ("calm", "turbulent")
    probabilities = result.probabilities
    assert probabilities is not None
    assert probabilities.iloc[:1000].isna().all().all()
    np.testing.assert_allclose(probabilities.iloc[1000:].sum(axis=1), 1.0)


@pytest.mark.parametrize("method", ["hmm", "markov"])
def test_state_zero_is_the_calm_one(method: str) -> None:
    returns, _ = planted_volatility_regimes(2000)
    result = detect_regimes(returns, method, min_train=800)
    calm = returns[result.labels == 0].std()
    turbulent = returns[result.labels == 1].std()
    assert calm < turbulent / 2
    variances = result.params["fits"][0]["variances"]
    assert variances[0] < variances[1]


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("hmm", {"min_train": 400, "refit_every": None}),
        ("hmm", {"min_train": 300, "refit_every": 250}),
        ("markov", {"min_train": 400, "refit_every": None}),
        ("markov", {"min_train": 300, "refit_every": 250}),
    ],
)
def test_appending_bars_never_changes_a_past_label(
    method: str, params: dict[str, int | None]
) -> None:
    returns, _ = planted_volatility_regimes(1100)
    assert_causal(lambda r: detect_regimes(r, method, **params).labels, returns, [401, 700, 801])
    assert_causal(lambda r: detect_regimes(r, method, **params).probabilities, returns, [401, 801])


def test_forward_filter_matches_the_last_row_of_hmmlearn_posteriors() -> None:
    # the smoothed posterior at the LAST bar is the filtered one: a check of our recursion
    returns, _ = planted_volatility_regimes(700)
    x = returns.to_numpy()
    params = fit_gaussian_hmm(x[:500], seed=3, n_init=1)
    model = hmmlearn.GaussianHMM(n_components=2, covariance_type="diag", init_params="")
    model.startprob_ = params.startprob
    model.transmat_ = params.transmat
    model.means_ = params.means.reshape(-1, 1)
    model.covars_ = params.variances.reshape(-1, 1)
    filtered = forward_filter(params, x)
    z = ((x - params.center) / params.scale).reshape(-1, 1)
    for t in (0, 1, 17, 250, 699):
        np.testing.assert_allclose(filtered[t], model.predict_proba(z[: t + 1])[-1], atol=1e-9)


def test_labels_are_the_forward_filter_not_the_viterbi_path() -> None:
    returns, _ = planted_volatility_regimes(1500)
    result = hmm_regimes(returns, min_train=1000, refit_every=None)
    x = returns.to_numpy()
    params = fit_gaussian_hmm(x[:1000])
    filtered = np.argmax(forward_filter(params, x), axis=1)[1000:]
    np.testing.assert_array_equal(result.labels.to_numpy()[1000:], filtered)
    # Viterbi decodes with the whole sequence and disagrees somewhere: the check has teeth
    model = hmmlearn.GaussianHMM(n_components=2, covariance_type="diag", init_params="")
    model.startprob_, model.transmat_ = params.startprob, params.transmat
    model.means_ = params.means.reshape(-1, 1)
    model.covars_ = params.variances.reshape(-1, 1)
    viterbi = model.predict(((x - params.center) / params.scale).reshape(-1, 1))[1000:]
    assert np.any(viterbi != filtered)


def test_hmm_is_deterministic_for_a_seed() -> None:
    returns, _ = planted_volatility_regimes(900)
    first = hmm_regimes(returns, min_train=500, seed=11)
    second = hmm_regimes(returns, min_train=500, seed=11)
    pd.testing.assert_frame_equal(first.probabilities, second.probabilities, check_exact=True)
    assert first.params["seed"] == 11


def test_refits_are_recorded() -> None:
    returns, _ = planted_volatility_regimes(1000)
    result = markov_regimes(returns, min_train=400, refit_every=300)
    assert len(result.params["fits"]) == 2  # at bars 400 and 700


def test_series_shorter_than_the_training_span() -> None:
    returns, _ = planted_volatility_regimes(300)
    with pytest.raises(RiskError, match=r"returns: 300 bars is too short.*min_train=504"):
        hmm_regimes(returns)


def test_constant_training_span() -> None:
    with pytest.raises(RiskError, match="zero variance"):
        markov_regimes(np.zeros(100), min_train=50)


def test_missing_hmmlearn_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hmmlearn", None)
    returns, _ = planted_volatility_regimes(600)
    with pytest.raises(RiskError, match="needs hmmlearn") as info:
        hmm_regimes(returns, min_train=500)
    assert info.value.hint == "pip install 'alphaloop[risk]'"
