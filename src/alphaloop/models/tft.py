"""Temporal Fusion Transformer estimator (``family="tft"``) and its interpretation.

:class:`TFTEstimator` follows the :class:`~alphaloop.models.estimators.Estimator`
contract and the torch families' training loop
(:mod:`~alphaloop.models.torch_models`: standardized inputs and labels,
AdamW, gradient clipping, early stopping on the validation rows given,
deterministic with ``seed`` and ``n_threads``, ``state_dict`` on disk). The
network is in :mod:`~alphaloop.models.tft_network`.

Conventions
-----------
- ``X`` has shape ``(n, window, n_features)``, oldest step first;
  ``X[i, -1]`` holds the features at row ``i``'s decision time.
- Static features (``static_features``) are read at the last step only;
  the others are time-varying and read at every step.
- Regression minimizes the pinball (quantile) loss averaged over
  ``quantiles``, on standardized labels; :meth:`TFTEstimator.predict`
  returns the 0.5 quantile in label units and
  :meth:`TFTEstimator.predict_quantiles` all of them. Classification
  minimizes binary cross-entropy on one logit and predicts the probability
  of label 1 (``quantiles`` is then unused).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from alphaloop.models.errors import ModelError
from alphaloop.models.estimators import Task
from alphaloop.models.tft_interpretation import TFTInterpretation
from alphaloop.models.tft_network import TemporalFusionNetwork
from alphaloop.models.torch_models import _PREDICT_BATCH, _TorchEstimator, deterministic_torch

__all__ = ["DEFAULT_QUANTILES", "TFTEstimator", "TFTInterpretation"]

DEFAULT_QUANTILES: tuple[float, ...] = (0.1, 0.5, 0.9)


class _QuantileLoss(nn.Module):
    """Pinball loss averaged over rows and quantiles: ``max(q e, (q - 1) e)``, ``e = y - pred``."""

    def __init__(self, quantiles: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("q", torch.tensor(list(quantiles), dtype=torch.float32))

    def forward(self, pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        error = y.unsqueeze(-1) - pred.reshape(len(y), -1)
        return torch.maximum(self.q * error, (self.q - 1.0) * error).mean()


class TFTEstimator(_TorchEstimator):
    """Temporal Fusion Transformer over ``(n, window, n_features)`` sequences (``family="tft"``).

    Parameters
    ----------
    task : {"regression", "classification"}, default="regression"
    hidden_size : int, default=16
        Width of every embedding, gated residual network, the LSTM and attention.
    n_heads : int, default=2
        Attention heads; must divide ``hidden_size``.
    dropout : float, default=0.1
        Dropout inside the gates and on the attention weights, in [0, 1).
    quantiles : sequence of float, optional
        Quantile levels in (0, 1), increasing, including 0.5; default
        (0.1, 0.5, 0.9). Regression only.
    static_features : sequence of int or str, optional
        Features treated as static (read at the last step only): positions on
        ``X``'s last axis or names from ``feature_names``. At least one
        feature must stay time-varying. Default: none.
    feature_names : sequence of str, optional
        Names of ``X``'s features, in order; needed for names in
        ``static_features`` and reported by :meth:`interpret`.
        :func:`~alphaloop.models.training.train` fills it from the data.
    learning_rate : float, default=1e-3
    weight_decay : float, default=1e-4
    batch_size : int, default=256
    max_epochs : int, default=10
    patience : int, default=3
        Epochs without validation improvement before stopping.
    n_threads : int, default=1
        CPU threads; results are reproducible for a fixed value.
    seed : int, default=0

    Attributes
    ----------
    network_ : torch.nn.Module
    best_iteration_ : int
        Epoch whose weights are kept.
    """

    family = "tft"
    is_sequence = True

    def __init__(
        self,
        task: Task = "regression",
        *,
        hidden_size: int = 16,
        n_heads: int = 2,
        dropout: float = 0.1,
        quantiles: tuple[float, ...] | None = None,
        static_features: tuple[int | str, ...] | None = None,
        feature_names: tuple[str, ...] | None = None,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 256,
        max_epochs: int = 10,
        patience: int = 3,
        n_threads: int = 1,
        seed: int = 0,
    ) -> None:
        self.task = task
        self.hidden_size = hidden_size
        self.n_heads = n_heads
        self.dropout = dropout
        self.quantiles = quantiles
        self.static_features = static_features
        self.feature_names = feature_names
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.n_threads = n_threads
        self.seed = seed

    # -- the torch family's hooks ------------------------------------------------------

    def _body(self, n_features: int, window: int | None) -> nn.Module:
        if self.hidden_size < 1 or self.n_heads < 1 or self.hidden_size % self.n_heads:
            raise ModelError(
                f"n_heads={self.n_heads} must be >= 1 and divide hidden_size={self.hidden_size}",
                hint="e.g. hidden_size=16 with n_heads=1, 2 or 4",
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ModelError(f"dropout must be in [0, 1), got {self.dropout!r}")
        static = self._static_index(n_features)
        temporal = [j for j in range(n_features) if j not in set(static)]
        n_outputs = 1 if self.task == "classification" else len(self._quantiles())
        return TemporalFusionNetwork(
            static,
            temporal,
            int(window or 1),
            self.hidden_size,
            self.n_heads,
            self.dropout,
            n_outputs,
        )

    def _loss(self) -> nn.Module:
        if self.task == "classification":
            return nn.BCEWithLogitsLoss()
        return _QuantileLoss(self._quantiles())

    def _predict(self, x: np.ndarray) -> np.ndarray:
        out = self._outputs(x)
        if self.task == "classification":
            return torch.sigmoid(out.reshape(len(x))).double().numpy()
        median = self._quantiles().index(0.5)
        return self._to_label(out.reshape(len(x), -1))[:, median]

    # -- public extras -----------------------------------------------------------------

    def predict_quantiles(self, X: np.ndarray) -> np.ndarray:  # noqa: N803 (scikit-learn's name)
        """Every quantile of the label, in label units (regression only).

        Returns
        -------
        ndarray of float64, shape (n, len(quantiles))
            Column ``k`` is quantile ``quantiles[k]``; the columns are not
            forced to be ordered.
        """
        self._check_fitted()
        if self.task != "regression":
            raise ModelError("predict_quantiles needs task='regression'", hint="use predict")
        x = self._check_x(X, "X", fitted=True)
        return self._to_label(self._outputs(x).reshape(len(x), -1))

    def interpret(self, X: np.ndarray) -> TFTInterpretation:  # noqa: N803 (scikit-learn's name)
        """Mean variable-selection weights and attention over the rows of ``X``.

        Parameters
        ----------
        X : ndarray of shape (n, window, n_features)
            Rows to explain (e.g. validation or test rows), as in ``predict``.

        Returns
        -------
        TFTInterpretation
        """
        self._check_fitted()
        x = self._check_x(X, "X", fitted=True)
        net = self.network_
        body: TemporalFusionNetwork = net.body  # type: ignore[assignment]
        n_features = self.n_features_in_
        static = body.static_index.numpy()
        temporal = body.temporal_index.numpy()
        static_sum = np.zeros(len(static))
        temporal_sum = np.zeros(len(temporal))
        attention_sum = np.zeros(x.shape[1])
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        with deterministic_torch(self.seed, self.n_threads), torch.no_grad():
            net.eval()
            for start in range(0, len(xt), _PREDICT_BATCH):
                chunk = xt[start : start + _PREDICT_BATCH]
                z = net.standardize(chunk)
                _, static_w, temporal_w, attention = body.forward_with_weights(z)
                if static_w is not None:
                    static_sum += static_w.double().sum(dim=0).numpy()
                temporal_sum += temporal_w.double().mean(dim=1).sum(dim=0).numpy()
                attention_sum += attention.double().sum(dim=0).numpy()
        weights = np.zeros(n_features)
        weights[static] = static_sum / len(x) * len(static) / n_features
        weights[temporal] = temporal_sum / len(x) * len(temporal) / n_features
        names = None if self.feature_names is None else tuple(self.feature_names)
        return TFTInterpretation(
            variable_weights=weights / weights.sum(),
            attention=attention_sum / attention_sum.sum(),
            feature_names=names,
            static_features=tuple(int(j) for j in static),
            n_rows=len(x),
        )

    # -- parameters --------------------------------------------------------------------

    def _quantiles(self) -> list[float]:
        levels = DEFAULT_QUANTILES if self.quantiles is None else self.quantiles
        if isinstance(levels, str) or not isinstance(levels, Sequence) or not levels:
            raise ModelError(f"quantiles must be a non-empty list of levels, got {levels!r}")
        values = []
        for q in levels:
            if isinstance(q, bool) or not isinstance(q, int | float) or not 0.0 < q < 1.0:
                raise ModelError(f"quantiles must lie in (0, 1), got {q!r}")
            values.append(float(q))
        if any(b <= a for a, b in itertools.pairwise(values)):
            raise ModelError(f"quantiles must be increasing, got {list(levels)}")
        if 0.5 not in values:
            raise ModelError(
                f"quantiles must include 0.5 (the point prediction), got {list(levels)}",
                hint="e.g. quantiles: [0.1, 0.5, 0.9]",
            )
        return values

    def _static_index(self, n_features: int) -> list[int]:
        """Positions of the static features, checked against ``n_features``."""
        given = self.static_features or ()
        if isinstance(given, str | int):
            raise ModelError(
                f"static_features must be a list, got {given!r}", hint=f"write [{given!r}]"
            )
        names = None if self.feature_names is None else list(self.feature_names)
        if names is not None and len(names) != n_features:
            raise ModelError(
                f"feature_names has {len(names)} names but X has {n_features} features"
            )
        index: list[int] = []
        for item in given:
            if isinstance(item, str):
                if names is None or item not in names:
                    raise ModelError(
                        f"static feature {item!r} is not a feature name",
                        hint="pass feature_names, or positions instead of names"
                        if names is None
                        else f"features: {', '.join(names[:10])}...",
                    )
                position = names.index(item)
            elif isinstance(item, bool) or not isinstance(item, int | np.integer):
                raise ModelError(f"static_features holds {item!r}; use positions or names")
            elif not 0 <= int(item) < n_features:
                raise ModelError(
                    f"static feature position {item} is out of range for {n_features} features"
                )
            else:
                position = int(item)
            if position in index:
                raise ModelError(f"static feature {item!r} is listed twice")
            index.append(position)
        if len(index) >= n_features:
            raise ModelError(
                "every feature is static; at least one must be time-varying",
                hint="leave some features out of static_features",
            )
        return sorted(index)
