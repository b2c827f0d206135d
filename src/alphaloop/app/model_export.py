"""Export a registered model version to ONNX, accepted only after a parity check.

:func:`export_model` converts the version's estimator
(:func:`~alphaloop.models.onnx_export.export_onnx`), computes its features
on real rows of the dataset it was trained on (loaded through the catalog,
so the sealed holdout is out of reach), and compares the graph's predictions
with the native ones by the rule of
:func:`~alphaloop.models.onnx_export.check_parity`. Only when they agree are
the graph and its sidecar JSON written (each atomically): feature names in
input order, input shape, window, family, task, model reference, opset,
library versions, the feature recipe and the parity figures.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alphaloop.app.models import load_recipe, recipe_learning_data
from alphaloop.app.workspace import Workspace
from alphaloop.files import write_atomic
from alphaloop.jsonsafe import json_safe
from alphaloop.models import ModelError

__all__ = ["SIDECAR_FORMAT", "ExportedModel", "export_model", "sidecar_path"]

SIDECAR_FORMAT = "alphaloop-onnx/1"
PARITY_ROWS = 2000


@dataclass(frozen=True)
class ExportedModel:
    """An ONNX file written for a model version, and its sidecar."""

    path: Path
    sidecar_path: Path
    sidecar: dict[str, Any] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "sidecar_path": str(self.sidecar_path), **self.sidecar}


def sidecar_path(path: str | Path) -> Path:
    """The sidecar JSON of an ONNX file: same name, suffix ``.json``."""
    return Path(path).with_suffix(".json")


def export_model(
    ws: Workspace, ref: str, out: str | Path, *, parity_rows: int = PARITY_ROWS
) -> ExportedModel:
    """Write model ``ref`` as an ONNX graph at ``out`` (and its sidecar JSON).

    Parameters
    ----------
    ws : Workspace
    ref : str
        ``NAME/vN``, ``NAME`` (latest) or ``NAME@stage``.
    out : path
        The ONNX file; the sidecar goes next to it (:func:`sidecar_path`).
    parity_rows : int, default=2000
        Rows of the training dataset checked: evenly spread over it, rows with
        missing features first.

    Raises
    ------
    ModelError
        The family cannot be exported, or the exported predictions differ from
        the native ones beyond the parity rule (nothing is written then).
    """
    from alphaloop.models.onnx_export import check_parity, export_onnx

    target = Path(out)
    sidecar_file = sidecar_path(target)
    if sidecar_file == target:
        raise ModelError(f"{target} ends in .json, the sidecar's name", hint="use --out NAME.onnx")
    version, recipe = load_recipe(ws, ref)
    model = ws.models.load(version.ref)
    exported = export_onnx(model)
    x = _parity_rows(ws, version, recipe, model, parity_rows)
    parity = check_parity(model.predict(x), exported.predict(x))
    if not parity.passed:
        raise ModelError(
            f"the ONNX graph of {version.ref} does not reproduce its predictions: max |onnx - "
            f"native| = {parity.max_abs_diff:.3g} on {parity.n_rows} rows, allowed "
            f"{parity.tolerance:.3g}; nothing was written",
            hint="check the onnx, onnxruntime and converter versions (pip install "
            "'alphaloop[ml]'), or use the native model",
        )
    sidecar = json_safe(
        {
            "format": SIDECAR_FORMAT,
            "model": version.ref,
            "feature_names": list(version.features),
            **exported.describe(),
            "dataset": version.dataset,
            "dataset_hash": version.dataset_hash,
            "label_end": version.label_end,
            "features": recipe["features"],
            "normalize": recipe.get("normalize"),
            "winsorize": recipe.get("winsorize"),
            "label": recipe.get("label"),
            "onnx_sha256": hashlib.sha256(exported.model).hexdigest(),
            "parity": parity.to_dict(),
        }
    )
    write_atomic(target, exported.model)
    write_atomic(sidecar_file, json.dumps(sidecar, indent=2, default=str) + "\n")
    return ExportedModel(target, sidecar_file, sidecar)


def _parity_rows(ws: Workspace, version: Any, recipe: dict, model: Any, limit: int) -> np.ndarray:
    """Up to ``limit`` feature rows of the model's training dataset, as the model takes them."""
    panel = ws.data.load(version.dataset, version=version.dataset_version)
    data = recipe_learning_data(ws, panel, recipe)
    x = data.sequences(model.window_)[0] if model.window_ else data.X
    if len(x) == 0:
        raise ModelError(
            f"{version.dataset!r} has no rows {version.ref} can predict, to check the export on",
            hint="the parity check needs the model's training dataset in the workspace",
        )
    missing = np.flatnonzero(np.isnan(x.reshape(len(x), -1)).any(axis=1))[: limit // 4]
    spread = np.unique(np.linspace(0, len(x) - 1, limit - len(missing)).astype(np.int64))
    return x[np.union1d(missing, spread)]
