"""Per-family conversion of fitted estimators to ONNX graphs.

Every converter returns an :class:`onnx.ModelProto` with one float32 input
``features`` of shape ``(batch, n_features)`` (tabular) or ``(batch, window,
n_features)`` (sequence families), the batch axis dynamic, and one float32
output ``prediction`` of shape ``(batch,)``: the predicted label for
regression, the probability of label 1 for classification, exactly what
:meth:`~alphaloop.models.Estimator.predict` returns.

Whatever the estimator does to raw features inside ``predict`` is inside the
graph: linear models' standardization and NaN fill (a scikit-learn pipeline
converted whole), torch models' standardization, NaN fill and label
rescaling. Missing values (NaN) follow the native routing: LightGBM's and
XGBoost's default directions, and scikit-learn forests' ``missing_go_to_left``
(copied onto the ONNX tree nodes, which skl2onnx leaves out).

Tree and scikit-learn graphs use ONNX opset :data:`TREE_OPSET` (the highest
onnxmltools converts to); torch graphs use :data:`TORCH_OPSET`, exported by
the TorchScript exporter (with the fused attention fast path off) or, when
it lacks an operator, by the ``torch.export``-based one.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np

from alphaloop.models.errors import ModelError

__all__ = ["INPUT", "OUTPUT", "TORCH_OPSET", "TREE_OPSET", "convert_estimator", "opset_of"]

INPUT = "features"
OUTPUT = "prediction"
TREE_OPSET = 15
TORCH_OPSET = 18  # the dynamo exporter's lowest; TorchScript's supports it
_TREE_FAMILIES = ("lightgbm", "xgboost")
_SKLEARN_FAMILIES = ("random_forest", "ridge", "linear")


def opset_of(family: str) -> int:
    """The ONNX opset a family's graph is written in."""
    return TREE_OPSET if family in (*_TREE_FAMILIES, *_SKLEARN_FAMILIES) else TORCH_OPSET


def convert_estimator(estimator: Any) -> Any:
    """The ONNX graph of a fitted estimator (see the module conventions).

    Raises
    ------
    ModelError
        If the family has no ONNX converter.
    """
    family = estimator.family
    if family == "lightgbm":
        return _lightgbm(estimator)
    if family == "xgboost":
        return _xgboost(estimator)
    if family in _SKLEARN_FAMILIES:
        return _sklearn(estimator)
    if hasattr(estimator, "network_"):
        return _torch(estimator)
    raise ModelError(
        f"model family {family!r} cannot be exported to ONNX",
        hint="exportable: lightgbm, xgboost, random_forest, ridge, linear and the torch families",
    )


# -- trees ----------------------------------------------------------------------------


def _tabular_input(n_features: int) -> list[tuple[str, Any]]:
    from onnxmltools.convert.common.data_types import FloatTensorType

    return [(INPUT, FloatTensorType([None, n_features]))]


def _lightgbm(estimator: Any) -> Any:
    import lightgbm as lgb
    from onnxmltools.convert import convert_lightgbm

    booster = estimator.booster_
    if booster.current_iteration() > estimator.best_iteration_:
        text = booster.model_to_string(num_iteration=estimator.best_iteration_)
        booster = lgb.Booster(model_str=text)
    model = convert_lightgbm(
        booster,
        initial_types=_tabular_input(estimator.n_features_in_),
        target_opset=TREE_OPSET,
        zipmap=False,
    )
    return _one_output(model, _column(estimator))


def _xgboost(estimator: Any) -> Any:
    from onnxmltools.convert import convert_xgboost

    model = convert_xgboost(
        estimator.booster_,
        initial_types=_tabular_input(estimator.n_features_in_),
        target_opset=TREE_OPSET,
    )
    return _one_output(model, _column(estimator))


def _sklearn(estimator: Any) -> Any:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    classify = estimator.task == "classification"
    model = convert_sklearn(
        estimator.model_,
        initial_types=[(INPUT, FloatTensorType([None, estimator.n_features_in_]))],
        target_opset=TREE_OPSET,
        options={"zipmap": False} if classify else None,
    )
    if estimator.family == "random_forest":
        _forest_missing_routes(model, estimator.model_)
    column = list(estimator.model_.classes_).index(1) if classify else 0
    return _one_output(model, column)


def _column(estimator: Any) -> int:
    """Column of the converted output holding the prediction: P(label 1) or the value."""
    return 1 if estimator.task == "classification" else 0


def _forest_missing_routes(model: Any, forest: Any) -> None:
    """Copy each split's NaN direction from a scikit-learn forest onto the ONNX tree nodes.

    ONNX ``BRANCH_LEQ`` sends ``x <= threshold`` to the true branch, scikit-learn to
    the left child, so ``missing_go_to_left`` is ``nodes_missing_value_tracks_true``.
    """
    import onnx

    for node in model.graph.node:
        if not node.op_type.startswith("TreeEnsemble"):
            continue
        attrs = {a.name: a for a in node.attribute}
        trees = attrs["nodes_treeids"].ints
        ids = attrs["nodes_nodeids"].ints
        modes = attrs["nodes_modes"].strings
        routes = []
        for tree, node_id, mode in zip(trees, ids, modes, strict=True):
            fitted = forest.estimators_[tree].tree_
            left = mode != b"LEAF" and bool(fitted.missing_go_to_left[node_id])
            routes.append(int(left))
        if "nodes_missing_value_tracks_true" in attrs:
            node.attribute.remove(attrs["nodes_missing_value_tracks_true"])
        node.attribute.append(onnx.helper.make_attribute("nodes_missing_value_tracks_true", routes))


def _one_output(model: Any, column: int) -> Any:
    """Reduce a converted graph's outputs to ``prediction``: column ``column`` of its last."""
    import onnx
    from onnx import TensorProto, helper

    if not any(op.domain in ("", "ai.onnx") for op in model.opset_import):
        model.opset_import.append(helper.make_opsetid("", TREE_OPSET))
    graph = model.graph
    source = graph.output[-1].name
    index = f"{OUTPUT}_column"
    graph.initializer.append(helper.make_tensor(index, TensorProto.INT64, [], [column]))
    graph.node.append(helper.make_node("Gather", [source, index], [OUTPUT], axis=1))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch"]))
    onnx.checker.check_model(model)
    return model


# -- torch ----------------------------------------------------------------------------


def _torch(estimator: Any) -> Any:
    """Export with the TorchScript exporter (fast); if it cannot export the network, with
    the ``torch.export``-based one (slower, wider operator coverage)."""
    import onnx
    import torch

    graph = _torch_graph(estimator).eval()
    window = estimator.window_
    shape = (2, window, estimator.n_features_in_) if window else (2, estimator.n_features_in_)
    example = torch.zeros(shape, dtype=torch.float32)
    fastpath = torch.backends.mha.get_fastpath_enabled()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.backends.mha.set_fastpath_enabled(False)  # fused attention has no ONNX form
        try:
            data = _torchscript_export(graph, example)
        except Exception:  # an operator the TorchScript exporter lacks
            data = _dynamo_export(graph, example)
        finally:
            torch.backends.mha.set_fastpath_enabled(fastpath)
    model = onnx.load_model(io.BytesIO(data))
    onnx.checker.check_model(model)
    return model


def _torchscript_export(graph: Any, example: Any) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.onnx.export(
        graph,
        (example,),
        buffer,
        dynamo=False,
        input_names=[INPUT],
        output_names=[OUTPUT],
        dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}},
        opset_version=TORCH_OPSET,
    )
    return buffer.getvalue()


def _dynamo_export(graph: Any, example: Any) -> bytes:
    import torch

    program = torch.onnx.export(
        graph,
        (example,),
        dynamo=True,
        input_names=[INPUT],
        output_names=[OUTPUT],
        dynamic_shapes=({0: torch.export.Dim("batch")},),
        opset_version=TORCH_OPSET,
        verbose=False,
    )
    return program.model_proto.SerializeToString()


def _torch_graph(estimator: Any) -> Any:
    """A module mapping raw features to ``predict``'s output, for export.

    The network is the family's standardizing wrapper (``x_mean``, ``x_scale``,
    ``y_mean``, ``y_scale`` buffers around a ``body``); NaN is filled with
    ``where(isnan)`` because ``nan_to_num`` has no ONNX form. A body with
    several outputs per row (quantile heads) is read at the median.
    """
    import torch
    from torch import nn

    network = estimator.network_
    needed = ("body", "x_mean", "x_scale", "y_mean", "y_scale")
    if not all(hasattr(network, name) for name in needed):
        raise ModelError(
            f"the {estimator.family!r} network has no standardizing wrapper to export",
            hint="exportable torch families wrap their body in the standard scaler",
        )
    classify = estimator.task == "classification"
    column = 0 if classify else _median_column(estimator)

    class Exported(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            z = (x - self.network.x_mean) / self.network.x_scale
            z = torch.where(torch.isnan(z), torch.zeros_like(z), z)
            out = self.network.body(z).reshape(x.shape[0], -1)[:, column]
            if classify:
                return torch.sigmoid(out)
            return out * self.network.y_scale + self.network.y_mean

    return Exported()


def _median_column(estimator: Any) -> int:
    """Output column ``predict`` reads: the median for quantile heads, else 0."""
    levels = getattr(estimator, "_quantiles", None)
    if levels is None:
        return 0
    quantiles = [float(q) for q in levels()]
    return int(np.argmin([abs(q - 0.5) for q in quantiles]))
