"""ONNX export of fitted estimators, and the parity check that accepts an export.

:func:`export_onnx` turns a fitted :class:`~alphaloop.models.Estimator` into
an :class:`OnnxExport`: the serialized graph (conventions in
:mod:`~alphaloop.models.onnx_converters`: input ``features`` float32 of shape
``(batch, n_features)`` or ``(batch, window, n_features)``, output
``prediction`` float32 of shape ``(batch,)``, the same raw features and the
same output as ``Estimator.predict``) and what a consumer needs to feed it.

:func:`check_parity` is the acceptance rule: the export is accepted when,
on the rows checked,

    max |onnx - native| <= PARITY_RTOL * max(1, RMS(native))

with ``PARITY_RTOL = 1e-5``: an absolute 1e-5 for predictions of order one
or less (returns, probabilities), relative to the predictions' RMS when they
are larger. Graphs compute in float32, the native libraries partly in
float64; the rule leaves room for that and for nothing else.

Exportable families: lightgbm and xgboost (onnxmltools), random_forest,
ridge and linear (skl2onnx), and the torch families (torch.onnx).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np

from alphaloop.models.errors import ModelError

__all__ = [
    "PARITY_RTOL",
    "OnnxExport",
    "Parity",
    "check_parity",
    "export_onnx",
    "library_versions",
    "onnx_predict",
]

PARITY_RTOL = 1e-5
_LIBRARIES = (
    "onnx",
    "onnxruntime",
    "onnxmltools",
    "skl2onnx",
    "onnxscript",
    "torch",
    "lightgbm",
    "xgboost",
    "scikit-learn",
    "numpy",
    "alphaloop",
)


@dataclass(frozen=True)
class OnnxExport:
    """A serialized ONNX graph of one estimator, and how to call it.

    Attributes
    ----------
    model : bytes
        The serialized ``onnx.ModelProto``.
    family, task : str
        The estimator's family and task (classification graphs output P(label = 1)).
    n_features : int
    window : int or None
        Steps per sequence for sequence families, else None.
    opset : int
        ONNX opset of the default domain.
    input_name, output_name : str
    """

    model: bytes = field(repr=False)
    family: str
    task: str
    n_features: int
    window: int | None
    opset: int
    input_name: str
    output_name: str

    @property
    def input_shape(self) -> list[int | None]:
        """Input shape, None for the dynamic batch axis."""
        if self.window:
            return [None, self.window, self.n_features]
        return [None, self.n_features]

    def predict(self, X: np.ndarray) -> np.ndarray:  # noqa: N803 (scikit-learn's name)
        """The graph's predictions on ``X`` (float64, shape (n,)), with onnxruntime."""
        return onnx_predict(self.model, X, input_name=self.input_name)

    def describe(self) -> dict[str, Any]:
        """What a consumer needs besides the graph: shapes, names, opset, library versions."""
        return {
            "family": self.family,
            "task": self.task,
            "output": "probability of label 1" if self.task == "classification" else "label",
            "input_name": self.input_name,
            "output_name": self.output_name,
            "input_shape": self.input_shape,
            "input_dtype": "float32",
            "window": self.window,
            "n_features": self.n_features,
            "opset": self.opset,
            "versions": library_versions(),
        }


def export_onnx(estimator: Any) -> OnnxExport:
    """Convert a fitted estimator to ONNX.

    Parameters
    ----------
    estimator : Estimator
        A fitted estimator of an exportable family.

    Returns
    -------
    OnnxExport

    Raises
    ------
    ModelError
        If the estimator is not fitted, is not a single estimator (a rolling
        model holds one per period), or its family has no converter.
    """
    from alphaloop.models.estimators import Estimator
    from alphaloop.models.onnx_converters import INPUT, OUTPUT, convert_estimator, opset_of

    if not isinstance(estimator, Estimator):
        raise ModelError(
            f"cannot export a {type(estimator).__name__} to ONNX: it is not a single estimator",
            hint="a rolling model holds one estimator per period; train with schedule: cv "
            "to export one model",
        )
    estimator._check_fitted()
    try:
        graph = convert_estimator(estimator)
    except ModelError:
        raise
    except Exception as exc:  # the converters' own errors, reduced to one sentence
        raise ModelError(
            f"exporting the {estimator.family!r} model to ONNX failed: {exc}",
            hint="check the versions of onnx, onnxmltools, skl2onnx and torch (pip install "
            "'alphaloop[ml]')",
        ) from exc
    return OnnxExport(
        model=graph.SerializeToString(),
        family=estimator.family,
        task=estimator.task,
        n_features=int(estimator.n_features_in_),
        window=estimator.window_,
        opset=opset_of(estimator.family),
        input_name=INPUT,
        output_name=OUTPUT,
    )


def onnx_predict(model: bytes, X: np.ndarray, *, input_name: str = "features") -> np.ndarray:  # noqa: N803
    """Run a serialized graph on ``X`` with onnxruntime (one thread, CPU).

    Returns
    -------
    ndarray of float64, shape (n,)
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    x = np.ascontiguousarray(X, dtype=np.float32)
    (out,) = session.run(None, {input_name: x})
    return np.asarray(out, dtype=np.float64).reshape(len(x))


@dataclass(frozen=True)
class Parity:
    """The parity of exported and native predictions on the same rows.

    Attributes
    ----------
    n_rows : int
    max_abs_diff : float
        Largest absolute difference (inf when NaNs differ in place).
    rms_native : float
        Root mean square of the native predictions.
    tolerance : float
        ``PARITY_RTOL * max(1, rms_native)``.
    passed : bool
    """

    n_rows: int
    max_abs_diff: float
    rms_native: float
    tolerance: float
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": "max |onnx - native| <= 1e-5 * max(1, RMS(native))",
            "n_rows": self.n_rows,
            "max_abs_diff": self.max_abs_diff,
            "rms_native": self.rms_native,
            "tolerance": self.tolerance,
            "passed": self.passed,
        }


def check_parity(native: np.ndarray, exported: np.ndarray, rtol: float = PARITY_RTOL) -> Parity:
    """Compare exported with native predictions by the module's rule.

    Raises
    ------
    ModelError
        If the arrays differ in shape or are empty.
    """
    a = np.asarray(native, dtype=np.float64)
    b = np.asarray(exported, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ModelError(f"parity needs two equal, non-empty 1-d arrays; got {a.shape}, {b.shape}")
    same_nan = np.array_equal(np.isnan(a), np.isnan(b))
    finite = ~np.isnan(a) & ~np.isnan(b)
    diff = float(np.max(np.abs(a[finite] - b[finite]))) if finite.any() else 0.0
    if not same_nan:
        diff = math.inf
    rms = float(np.sqrt(np.mean(a[finite] ** 2))) if finite.any() else 0.0
    tolerance = rtol * max(1.0, rms)
    return Parity(len(a), diff, rms, tolerance, bool(diff <= tolerance))


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries an export depends on (missing ones left out)."""
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            if name == "xgboost":
                try:
                    versions[name] = metadata.version("xgboost-cpu")
                except metadata.PackageNotFoundError:
                    continue
    return versions
