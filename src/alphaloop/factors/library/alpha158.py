"""Alpha158 and Alpha360: the public feature definitions, as expression text.

The 158 names and formulas follow the published Alpha158 definition: 9
candlestick (KBAR) features, 4 price ratios, and 29 rolling families over
windows 5, 10, 20, 30 and 60. Alpha360 holds the last 60 bars of open,
high, low, close, vwap (each divided by today's close) and volume (divided
by today's volume). ``close_only`` subsets keep the features that need
nothing but ``$close``, for datasets without OHLCV (such as sp500-stocks).
"""

from __future__ import annotations

WINDOWS = (5, 10, 20, 30, 60)
EPS = "1e-12"

_UP = "Greater($close-Ref($close, 1), 0)"
_DOWN = "Greater(Ref($close, 1)-$close, 0)"
_MOVE = "Abs($close-Ref($close, 1))"
_VUP = "Greater($volume-Ref($volume, 1), 0)"
_VDOWN = "Greater(Ref($volume, 1)-$volume, 0)"
_VMOVE = "Abs($volume-Ref($volume, 1))"
_VRET = "Abs($close/Ref($close, 1)-1)*$volume"

KBAR: dict[str, str] = {
    "KMID": "($close-$open)/$open",
    "KLEN": "($high-$low)/$open",
    "KMID2": f"($close-$open)/($high-$low+{EPS})",
    "KUP": "($high-Greater($open, $close))/$open",
    "KUP2": f"($high-Greater($open, $close))/($high-$low+{EPS})",
    "KLOW": "(Less($open, $close)-$low)/$open",
    "KLOW2": f"(Less($open, $close)-$low)/($high-$low+{EPS})",
    "KSFT": "(2*$close-$high-$low)/$open",
    "KSFT2": f"(2*$close-$high-$low)/($high-$low+{EPS})",
}

PRICE: dict[str, str] = {
    "OPEN0": "$open/$close",
    "HIGH0": "$high/$close",
    "LOW0": "$low/$close",
    "VWAP0": "$vwap/$close",
}

#: family -> template with {d} for the window, in the published order
ROLLING: dict[str, str] = {
    "ROC": "Ref($close, {d})/$close",
    "MA": "Mean($close, {d})/$close",
    "STD": "Std($close, {d})/$close",
    "BETA": "Slope($close, {d})/$close",
    "RSQR": "Rsquare($close, {d})",
    "RESI": "Resi($close, {d})/$close",
    "MAX": "Max($high, {d})/$close",
    "MIN": "Min($low, {d})/$close",
    "QTLU": "Quantile($close, {d}, 0.8)/$close",
    "QTLD": "Quantile($close, {d}, 0.2)/$close",
    "RANK": "Rank($close, {d})",
    "RSV": "($close-Min($low, {d}))/(Max($high, {d})-Min($low, {d})+" + EPS + ")",
    "IMAX": "IdxMax($high, {d})/{d}",
    "IMIN": "IdxMin($low, {d})/{d}",
    "IMXD": "(IdxMax($high, {d})-IdxMin($low, {d}))/{d}",
    "CORR": "Corr($close, Log($volume+1), {d})",
    "CORD": "Corr($close/Ref($close,1), Log($volume/Ref($volume, 1)+1), {d})",
    "CNTP": "Mean($close>Ref($close, 1), {d})",
    "CNTN": "Mean($close<Ref($close, 1), {d})",
    "CNTD": "Mean($close>Ref($close, 1), {d})-Mean($close<Ref($close, 1), {d})",
    "SUMP": f"Sum({_UP}, {{d}})/(Sum({_MOVE}, {{d}})+{EPS})",
    "SUMN": f"Sum({_DOWN}, {{d}})/(Sum({_MOVE}, {{d}})+{EPS})",
    "SUMD": f"(Sum({_UP}, {{d}})-Sum({_DOWN}, {{d}}))/(Sum({_MOVE}, {{d}})+{EPS})",
    "VMA": f"Mean($volume, {{d}})/($volume+{EPS})",
    "VSTD": f"Std($volume, {{d}})/($volume+{EPS})",
    "WVMA": f"Std({_VRET}, {{d}})/(Mean({_VRET}, {{d}})+{EPS})",
    "VSUMP": f"Sum({_VUP}, {{d}})/(Sum({_VMOVE}, {{d}})+{EPS})",
    "VSUMN": f"Sum({_VDOWN}, {{d}})/(Sum({_VMOVE}, {{d}})+{EPS})",
    "VSUMD": f"(Sum({_VUP}, {{d}})-Sum({_VDOWN}, {{d}}))/(Sum({_VMOVE}, {{d}})+{EPS})",
}


def alpha158() -> dict[str, str]:
    """The 158 Alpha158 features, name -> expression, in the published order."""
    out = dict(KBAR)
    out.update(PRICE)
    for family, template in ROLLING.items():
        for d in WINDOWS:
            out[f"{family}{d}"] = template.format(d=d)
    return out


def alpha360(lags: int = 60) -> dict[str, str]:
    """Alpha360-style normalized history: the last ``lags`` bars of six fields."""
    out: dict[str, str] = {}
    for field in ("close", "open", "high", "low", "vwap"):
        for i in range(lags - 1, -1, -1):
            ref = f"Ref(${field}, {i})" if i else f"${field}"
            out[f"{field.upper()}{i}"] = f"{ref}/$close"
    for i in range(lags - 1, -1, -1):
        ref = f"Ref($volume, {i})" if i else "$volume"
        out[f"VOLUME{i}"] = f"{ref}/($volume+{EPS})"
    return out
