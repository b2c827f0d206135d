"""Executors: in process, a local process pool and Ray give the same results, in input order."""

from __future__ import annotations

import numpy as np
import pytest

from alphaloop.errors import ConfigError
from alphaloop.research.evaluate import CandidateResult, EvalContext, EvaluationProtocol
from alphaloop.research.executors import LocalExecutor, make_executor

from .synthetic import Predictor, make_info, make_panel, spec


@pytest.fixture(scope="module")
def ctx() -> EvalContext:
    panel = make_panel(n_times=900)
    info = make_info(panel)
    return EvalContext(panel, info, EvaluationProtocol(data_hash=info.content_hash), Predictor())


def _specs() -> list:
    exprs = [
        "$edge",
        "Mean($noise0, 5)",
        "-$noise2",
        "$close / Ref($close, 20)",
        "Std($noise4, 10)",
    ]
    out = [spec({"expr": e}, rebalance="weekly", name=e) for e in exprs]
    return [*out, spec({"model": "crash/v1"}), spec({"expr": "$edge"}, k=40)]


def _bits(metrics: dict[str, float]) -> bytes:
    return np.array(list(metrics.values()), dtype=np.float64).tobytes()


def _same(a: list[CandidateResult], b: list[CandidateResult]) -> None:
    assert [r.spec_hash for r in a] == [r.spec_hash for r in b]
    for x, y in zip(a, b, strict=True):
        assert (x.status, x.reason, x.refused) == (y.status, y.reason, y.refused)
        assert list(x.metrics) == list(y.metrics)
        assert _bits(x.metrics) == _bits(y.metrics)  # bit for bit, NaN included
        assert x.folds == y.folds
        assert x.lookahead == y.lookahead
        if x.returns is None:
            assert y.returns is None
        else:
            assert y.returns is not None
            assert x.returns.tobytes() == y.returns.tobytes()


def test_a_process_pool_gives_the_in_process_results_in_order(ctx: EvalContext) -> None:
    specs = _specs()
    with LocalExecutor(ctx, workers=1) as one:
        serial = one.map(specs)
    with LocalExecutor(ctx, workers=2, chunk=2) as pool:
        parallel = pool.map(specs)
        again = pool.map(specs[::-1])
    _same(serial, parallel)
    _same(serial[::-1], again)
    assert [r.status for r in serial][-2:] == ["failed", "failed"]
    assert np.isfinite(serial[0].metrics["sharpe"])


def test_bad_executor_settings_are_refused(ctx: EvalContext) -> None:
    with pytest.raises(ConfigError, match="unknown executor"):
        make_executor("dask", ctx)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="at least 1"):
        make_executor("local", ctx, workers=0)
    with pytest.raises(ConfigError, match="address"):
        make_executor("local", ctx, address="auto")


@pytest.mark.slow
def test_ray_gives_the_in_process_results_in_order(ctx: EvalContext) -> None:
    pytest.importorskip("ray")
    import ray

    specs = _specs()[:-2] + _specs()[-1:]  # Ray workers import no test modules: no predictor
    plain = EvalContext(ctx.panel, ctx.info, ctx.protocol, None)
    with LocalExecutor(plain) as one:
        serial = one.map(specs)
    ex = make_executor("ray", plain, workers=2)
    try:
        assert ray.is_initialized()
        _same(serial, ex.map(specs))
    finally:
        ex.close()
    assert not ray.is_initialized()
