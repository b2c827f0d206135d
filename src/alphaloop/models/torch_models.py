"""PyTorch estimators: an MLP for tabular rows, LSTM / GRU / Transformer encoder for sequences.

They follow the :class:`~alphaloop.models.estimators.Estimator` contract.
Training details shared by all four:

- Features are standardized with the training rows' mean and standard
  deviation (per feature, over all rows and steps); NaN becomes 0, the mean.
  Regression labels are standardized too and predictions mapped back.
- Loss: mean squared error (regression) or binary cross-entropy on logits
  (classification, predictions are ``sigmoid(logit)``). Optimizer: AdamW;
  gradients clipped to norm 1.
- Early stopping: after each epoch the loss on ``(X_valid, y_valid)`` is
  measured; training stops after ``patience`` epochs without improvement and
  the best epoch's weights are restored. Without validation rows the model
  trains ``max_epochs`` epochs.
- Determinism: weights, dropout and batch order come from ``seed``, with
  deterministic algorithms and ``n_threads`` CPU threads. Torch's global RNG,
  thread count and determinism flag are restored afterwards.
- Sequence models read ``X`` of shape ``(n, window, n_features)``, oldest
  step first, and predict from the last step's output.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import nn

from alphaloop.compute.torch_seed import deterministic_torch
from alphaloop.models.errors import ModelError
from alphaloop.models.estimators import Estimator, Task

__all__ = [
    "GRUEstimator",
    "LSTMEstimator",
    "MLPEstimator",
    "TransformerEstimator",
    "deterministic_torch",
]

_PREDICT_BATCH = 8192
_MIN_IMPROVEMENT = 1e-7


class _Scaled(nn.Module):
    """Standardize inputs (NaN -> 0), run ``body``, return one output per row."""

    def __init__(self, body: nn.Module, n_features: int) -> None:
        super().__init__()
        self.body = body
        self.register_buffer("x_mean", torch.zeros(n_features))
        self.register_buffer("x_scale", torch.ones(n_features))
        self.register_buffer("y_mean", torch.zeros(()))
        self.register_buffer("y_scale", torch.ones(()))

    def standardize(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs standardized with the training rows' mean and scale; NaN becomes 0."""
        return torch.nan_to_num((x - self.x_mean) / self.x_scale, nan=0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.standardize(x)).squeeze(-1)


class _MLP(nn.Module):
    def __init__(self, n_features: int, hidden_size: int, n_layers: int, dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for _ in range(n_layers):
            layers += [nn.Linear(width, hidden_size), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden_size
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _Recurrent(nn.Module):
    def __init__(
        self, cell: str, n_features: int, hidden_size: int, n_layers: int, dropout: float
    ) -> None:
        super().__init__()
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn(
            n_features,
            hidden_size,
            num_layers=n_layers,
            batch_first=True,
            dropout=dropout if n_layers > 1 else 0.0,
        )
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


class _Encoder(nn.Module):
    def __init__(
        self,
        n_features: int,
        window: int,
        d_model: int,
        n_heads: int,
        n_layers: int,
        dim_feedforward: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.project = nn.Linear(n_features, d_model)
        self.position = nn.Parameter(torch.randn(1, window, d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, dim_feedforward, dropout, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(self.project(x) + self.position)
        return self.head(h[:, -1])


class _TorchEstimator(Estimator):
    """Training loop, prediction and persistence shared by the torch families."""

    learning_rate: float
    weight_decay: float
    batch_size: int
    max_epochs: int
    patience: int
    n_threads: int

    def _body(self, n_features: int, window: int | None) -> nn.Module:
        raise NotImplementedError

    def _network(self, n_features: int, window: int | None) -> _Scaled:
        return _Scaled(self._body(n_features, window), n_features)

    def _loss(self) -> nn.Module:
        """Training and early-stopping loss on the network's outputs and scaled labels."""
        return nn.BCEWithLogitsLoss() if self.task == "classification" else nn.MSELoss()

    def _fit(self, x, y, valid):
        n_features = x.shape[-1]
        window = x.shape[1] if self.is_sequence else None
        classify = self.task == "classification"
        with deterministic_torch(self.seed, self.n_threads):
            net = self._network(n_features, window)
            _set_scales(net, x, None if classify else y)
            xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
            yt = _target(net, y)
            loss_fn = self._loss()
            optimizer = torch.optim.AdamW(
                net.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
            )
            order_rng = torch.Generator().manual_seed(self.seed)
            watch = None
            if valid is not None:
                xv = torch.from_numpy(np.ascontiguousarray(valid[0], dtype=np.float32))
                watch = (xv, _target(net, valid[1]))
            best_loss, best_state, best_epoch, stale = math.inf, None, 0, 0
            epochs = 0
            for epoch in range(1, self.max_epochs + 1):
                epochs = epoch
                net.train()
                order = torch.randperm(len(xt), generator=order_rng)
                for start in range(0, len(order), self.batch_size):
                    batch = order[start : start + self.batch_size]
                    optimizer.zero_grad()
                    loss = loss_fn(net(xt[batch]), yt[batch])
                    loss.backward()
                    nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                    optimizer.step()
                if watch is None:
                    continue
                valid_loss = _evaluate(net, *watch, loss_fn)
                if valid_loss < best_loss - _MIN_IMPROVEMENT:
                    best_loss, best_epoch, stale = valid_loss, epoch, 0
                    best_state = copy.deepcopy(net.state_dict())
                else:
                    stale += 1
                    if stale >= self.patience:
                        break
            if best_state is not None:
                net.load_state_dict(best_state)
        net.eval()
        self.network_ = net
        self.best_iteration_ = best_epoch if best_state is not None else epochs

    def _outputs(self, x: np.ndarray) -> torch.Tensor:
        """The network's raw outputs (logits or scaled labels) for every row, in batches."""
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        outputs = []
        with deterministic_torch(self.seed, self.n_threads), torch.no_grad():
            self.network_.eval()
            for start in range(0, len(xt), _PREDICT_BATCH):
                outputs.append(self.network_(xt[start : start + _PREDICT_BATCH]))
        return torch.cat(outputs)

    def _to_label(self, out: torch.Tensor) -> np.ndarray:
        """Outputs on the standardized label scale mapped back to label units (float64)."""
        scaled = out * self.network_.y_scale + self.network_.y_mean
        return scaled.double().numpy()

    def _predict(self, x):
        out = self._outputs(x)
        if self.task == "classification":
            return torch.sigmoid(out).double().numpy()
        return self._to_label(out)

    def _fitted_state(self):
        return {"best_iteration": self.best_iteration_}

    def _save_model(self, directory):
        torch.save(self.network_.state_dict(), directory / "weights.pt")

    def _load_model(self, directory, state):
        with deterministic_torch(self.seed, self.n_threads):
            net = self._network(self.n_features_in_, self.window_)
        weights = torch.load(directory / "weights.pt", weights_only=True)
        net.load_state_dict(weights)
        self.network_ = net.eval()
        self.best_iteration_ = int(state["best_iteration"])


def _set_scales(net: _Scaled, x: np.ndarray, y: np.ndarray | None) -> None:
    flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
    finite = np.isfinite(flat)
    count = finite.sum(axis=0)
    total = np.where(finite, flat, 0.0).sum(axis=0)
    mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    square = np.where(finite, (flat - mean) ** 2, 0.0).sum(axis=0)
    std = np.sqrt(np.divide(square, count, out=np.zeros_like(square), where=count > 0))
    net.x_mean.copy_(torch.from_numpy(mean.astype(np.float32)))
    net.x_scale.copy_(torch.from_numpy(np.where(std > 0, std, 1.0).astype(np.float32)))
    if y is not None:
        y_std = float(np.std(y))
        net.y_mean.fill_(float(np.mean(y)))
        net.y_scale.fill_(y_std if y_std > 0 else 1.0)


def _target(net: _Scaled, y: np.ndarray) -> torch.Tensor:
    """Labels as float32 tensors, standardized with the network's label scale."""
    scaled = (y - float(net.y_mean)) / float(net.y_scale)
    return torch.from_numpy(scaled.astype(np.float32))


def _evaluate(net: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: nn.Module) -> float:
    net.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(x), _PREDICT_BATCH):
            chunk = slice(start, start + _PREDICT_BATCH)
            total += float(loss_fn(net(x[chunk]), y[chunk])) * len(x[chunk])
    return total / len(x)


class MLPEstimator(_TorchEstimator):
    """Feed-forward network on tabular rows (``family="mlp"``).

    Parameters
    ----------
    task : {"regression", "classification"}, default="regression"
    hidden_size : int, default=32
        Units per hidden layer.
    n_layers : int, default=2
        Hidden layers (ReLU, then dropout).
    dropout : float, default=0.1
    learning_rate : float, default=1e-3
    weight_decay : float, default=1e-4
    batch_size : int, default=512
    max_epochs : int, default=20
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

    family = "mlp"

    def __init__(
        self,
        task: Task = "regression",
        *,
        hidden_size: int = 32,
        n_layers: int = 2,
        dropout: float = 0.1,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 512,
        max_epochs: int = 20,
        patience: int = 3,
        n_threads: int = 1,
        seed: int = 0,
    ) -> None:
        self.task = task
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.n_threads = n_threads
        self.seed = seed

    def _body(self, n_features, window):
        return _MLP(n_features, self.hidden_size, self.n_layers, self.dropout)


class _RecurrentEstimator(_TorchEstimator):
    """LSTM or GRU over ``(n, window, n_features)`` sequences, read out at the last step.

    Parameters
    ----------
    task : {"regression", "classification"}, default="regression"
    hidden_size : int, default=16
    n_layers : int, default=1
    dropout : float, default=0.0
        Between stacked layers (ignored with one layer).
    learning_rate : float, default=2e-3
    weight_decay : float, default=1e-4
    batch_size : int, default=512
    max_epochs : int, default=10
    patience : int, default=3
    n_threads : int, default=1
    seed : int, default=0

    Attributes
    ----------
    network_ : torch.nn.Module
    best_iteration_ : int
        Epoch whose weights are kept.
    """

    is_sequence = True
    cell: str = "lstm"

    def __init__(
        self,
        task: Task = "regression",
        *,
        hidden_size: int = 16,
        n_layers: int = 1,
        dropout: float = 0.0,
        learning_rate: float = 2e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 512,
        max_epochs: int = 10,
        patience: int = 3,
        n_threads: int = 1,
        seed: int = 0,
    ) -> None:
        self.task = task
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.n_threads = n_threads
        self.seed = seed

    def _body(self, n_features, window):
        return _Recurrent(self.cell, n_features, self.hidden_size, self.n_layers, self.dropout)


class LSTMEstimator(_RecurrentEstimator):
    __doc__ = (_RecurrentEstimator.__doc__ or "").replace("LSTM or GRU", 'LSTM (``family="lstm"``)')
    family = "lstm"
    cell = "lstm"


class GRUEstimator(_RecurrentEstimator):
    __doc__ = (_RecurrentEstimator.__doc__ or "").replace("LSTM or GRU", 'GRU (``family="gru"``)')
    family = "gru"
    cell = "gru"


class TransformerEstimator(_TorchEstimator):
    """Transformer encoder over sequences (``family="transformer"``).

    Each step's features are projected to ``d_model`` and given a learned
    position embedding; the encoder's output at the last step is read out.

    Parameters
    ----------
    task : {"regression", "classification"}, default="regression"
    d_model : int, default=16
    n_heads : int, default=2
        Must divide ``d_model``.
    n_layers : int, default=1
    dim_feedforward : int, default=32
    dropout : float, default=0.1
    learning_rate : float, default=1e-3
    weight_decay : float, default=1e-4
    batch_size : int, default=512
    max_epochs : int, default=10
    patience : int, default=3
    n_threads : int, default=1
    seed : int, default=0

    Attributes
    ----------
    network_ : torch.nn.Module
    best_iteration_ : int
        Epoch whose weights are kept.
    """

    family = "transformer"
    is_sequence = True

    def __init__(
        self,
        task: Task = "regression",
        *,
        d_model: int = 16,
        n_heads: int = 2,
        n_layers: int = 1,
        dim_feedforward: int = 32,
        dropout: float = 0.1,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 512,
        max_epochs: int = 10,
        patience: int = 3,
        n_threads: int = 1,
        seed: int = 0,
    ) -> None:
        self.task = task
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.dim_feedforward = dim_feedforward
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.n_threads = n_threads
        self.seed = seed

    def _body(self, n_features: int, window: int | None) -> nn.Module:
        if self.d_model % self.n_heads:
            raise ModelError(
                f"n_heads={self.n_heads} must divide d_model={self.d_model}",
                hint="e.g. d_model=16 with n_heads=2 or 4",
            )
        return _Encoder(
            n_features,
            int(window or 1),
            self.d_model,
            self.n_heads,
            self.n_layers,
            self.dim_feedforward,
            self.dropout,
        )
