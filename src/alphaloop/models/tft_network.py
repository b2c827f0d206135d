"""Temporal Fusion Transformer building blocks (torch), for one-step-ahead sequence models.

The network follows Lim et al. (2021), "Temporal Fusion Transformers for
interpretable multi-horizon time series forecasting", reduced to a single
output per sequence (the label at the last step's decision time):

1. each input variable is embedded on its own (a per-variable affine map of
   the standardized scalar to ``hidden_size``);
2. a *variable selection network* weights the static variables (taken from
   the last step) and, at every step, the time-varying ones (softmax weights,
   conditioned on the static context);
3. static covariate encoders turn the selected static embedding into four
   contexts: for selection, for enrichment, and the LSTM's initial hidden and
   cell states (learned constants when there is no static variable);
4. an LSTM encoder runs over the window, with a gated skip connection to its
   input; a gated residual network enriches each step with the static
   context;
5. *interpretable multi-head attention*: the last step queries every step of
   the window (oldest first); the heads have their own query and key maps
   (plus a learned score per lag, since the inputs carry no time index) and
   share one value map, so the head-averaged attention is the weight each
   past step gets;
6. gated skips and a position-wise gated residual network, then a linear
   head with one output per quantile (or one logit).

Shapes: ``x`` is ``(batch, window, n_features)`` of standardized values
(NaN already 0). All blocks are deterministic given torch's seed.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional

__all__ = [
    "GatedLinearUnit",
    "GatedResidualNetwork",
    "InterpretableAttention",
    "TemporalFusionNetwork",
    "VariableSelection",
]


class GatedLinearUnit(nn.Module):
    """``sigmoid(W4 x) * (W5 x)`` with dropout on the input: a learned gate that can close."""

    def __init__(self, size_in: int, size_out: int, dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(size_in, 2 * size_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return functional.glu(self.linear(self.dropout(x)), dim=-1)


class GateAddNorm(nn.Module):
    """``LayerNorm(skip + GLU(x))``: the gated skip connection of the paper."""

    def __init__(self, size_in: int, size_out: int, dropout: float) -> None:
        super().__init__()
        self.glu = GatedLinearUnit(size_in, size_out, dropout)
        self.norm = nn.LayerNorm(size_out)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.norm(skip + self.glu(x))


class GatedResidualNetwork(nn.Module):
    """``LayerNorm(skip(a) + GLU(W1 ELU(W2 a + W3 c)))``, the context ``c`` optional.

    Parameters
    ----------
    size_in, size_hidden, size_out : int
    dropout : float
    context_size : int or None
        Width of the context added before the ELU; None: no context.
    """

    def __init__(
        self,
        size_in: int,
        size_hidden: int,
        size_out: int,
        dropout: float,
        context_size: int | None = None,
    ) -> None:
        super().__init__()
        self.skip = nn.Linear(size_in, size_out) if size_in != size_out else nn.Identity()
        self.hidden = nn.Linear(size_in, size_hidden)
        self.context = (
            nn.Linear(context_size, size_hidden, bias=False) if context_size is not None else None
        )
        self.out = nn.Linear(size_hidden, size_hidden)
        self.gate = GateAddNorm(size_hidden, size_out, dropout)

    def forward(self, a: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        h = self.hidden(a)
        if self.context is not None and context is not None:
            h = h + self.context(context)
        return self.gate(self.out(functional.elu(h)), self.skip(a))


class _PerVariableGRN(nn.Module):
    """One gated residual network per variable (``hidden -> hidden``), batched as matmuls."""

    def __init__(self, n_vars: int, size: int, dropout: float) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(size)
        self.w_hidden = nn.Parameter(torch.empty(n_vars, size, size).uniform_(-bound, bound))
        self.b_hidden = nn.Parameter(torch.zeros(n_vars, size))
        self.w_out = nn.Parameter(torch.empty(n_vars, size, size).uniform_(-bound, bound))
        self.b_out = nn.Parameter(torch.zeros(n_vars, size))
        self.w_gate = nn.Parameter(torch.empty(n_vars, size, 2 * size).uniform_(-bound, bound))
        self.b_gate = nn.Parameter(torch.zeros(n_vars, 2 * size))
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(size)

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        """``e``: (..., n_vars, size) -> the same shape."""
        shape = e.shape
        ev = e.reshape(-1, shape[-2], shape[-1]).transpose(0, 1)  # (n_vars, rows, size)
        h = functional.elu(torch.baddbmm(self.b_hidden.unsqueeze(1), ev, self.w_hidden))
        h = torch.baddbmm(self.b_out.unsqueeze(1), h, self.w_out)
        g = torch.baddbmm(self.b_gate.unsqueeze(1), self.dropout(h), self.w_gate)
        out = ev + functional.glu(g, dim=-1)
        return self.norm(out.transpose(0, 1).reshape(shape))


class VariableSelection(nn.Module):
    """Embed each variable, weight them with a softmax, return the weighted sum and the weights.

    Parameters
    ----------
    n_vars : int
        Number of input variables (scalars).
    size : int
        Embedding width (``hidden_size``).
    dropout : float
    context_size : int or None
        Width of the static context that conditions the weights; None: none.
    """

    def __init__(
        self, n_vars: int, size: int, dropout: float, context_size: int | None = None
    ) -> None:
        super().__init__()
        self.embed_weight = nn.Parameter(torch.randn(n_vars, size) * 0.1)
        self.embed_bias = nn.Parameter(torch.zeros(n_vars, size))
        self.selector = GatedResidualNetwork(n_vars * size, size, n_vars, dropout, context_size)
        self.transform = _PerVariableGRN(n_vars, size, dropout)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``x``: (..., n_vars) -> ((..., size), weights (..., n_vars) summing to 1)."""
        e = x.unsqueeze(-1) * self.embed_weight + self.embed_bias  # (..., n_vars, size)
        weights = torch.softmax(self.selector(e.flatten(-2), context), dim=-1)
        selected = (weights.unsqueeze(-1) * self.transform(e)).sum(dim=-2)
        return selected, weights


class InterpretableAttention(nn.Module):
    """The last step attends over every step; heads share the value map.

    Returns the attended vector ``(batch, size)`` and the head-averaged
    attention ``(batch, window)`` (each row sums to 1), which is exactly the
    weight each step's value gets.
    """

    def __init__(self, size: int, window: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.n_heads = n_heads
        # a learned score per head and lag: the steps' order, which content alone lacks
        self.position_bias = nn.Parameter(torch.zeros(n_heads, window))
        self.head_size = size // n_heads
        self.query = nn.Linear(size, n_heads * self.head_size)
        self.key = nn.Linear(size, n_heads * self.head_size)
        self.value = nn.Linear(size, self.head_size)
        self.out = nn.Linear(self.head_size, size)
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch, window, _ = h.shape
        q = self.query(h[:, -1]).view(batch, self.n_heads, 1, self.head_size)
        k = self.key(h).view(batch, window, self.n_heads, self.head_size).transpose(1, 2)
        scores = (q @ k.transpose(-1, -2)).squeeze(-2) / math.sqrt(self.head_size)
        scores = scores + self.position_bias
        attention = torch.softmax(scores, dim=-1).mean(dim=1)  # (batch, window)
        v = self.value(h)  # (batch, window, head_size)
        attended = (self.dropout(attention).unsqueeze(-1) * v).sum(dim=1)
        return self.out(attended), attention


class TemporalFusionNetwork(nn.Module):
    """The whole network: static/time-varying selection, LSTM, enrichment, attention, heads.

    Parameters
    ----------
    static_index, temporal_index : list of int
        Feature positions of the static variables (read at the last step) and
        of the time-varying ones; together they cover every feature once.
    window : int
        Steps per sequence.
    hidden_size : int
    n_heads : int
        Attention heads; must divide ``hidden_size``.
    dropout : float
    n_outputs : int
        Quantiles (regression) or 1 (a logit).
    """

    def __init__(
        self,
        static_index: list[int],
        temporal_index: list[int],
        window: int,
        hidden_size: int,
        n_heads: int,
        dropout: float,
        n_outputs: int,
    ) -> None:
        super().__init__()
        size = hidden_size
        self.register_buffer("static_index", torch.tensor(static_index, dtype=torch.long))
        self.register_buffer("temporal_index", torch.tensor(temporal_index, dtype=torch.long))
        self.n_features = len(static_index) + len(temporal_index)
        if static_index:
            self.static_selection = VariableSelection(len(static_index), size, dropout)
            self.static_contexts = nn.ModuleList(
                GatedResidualNetwork(size, size, size, dropout) for _ in range(4)
            )
        else:
            # learned constants play the contexts' role when nothing is static
            self.static_constant = nn.Parameter(torch.zeros(4, size))
        self.temporal_selection = VariableSelection(len(temporal_index), size, dropout, size)
        self.lstm = nn.LSTM(size, size, batch_first=True)
        self.lstm_gate = GateAddNorm(size, size, dropout)
        self.enrichment = GatedResidualNetwork(size, size, size, dropout, size)
        self.attention = InterpretableAttention(size, window, n_heads, dropout)
        self.attention_gate = GateAddNorm(size, size, dropout)
        self.position_wise = GatedResidualNetwork(size, size, size, dropout)
        self.output_gate = GateAddNorm(size, size, dropout)
        self.head = nn.Linear(size, n_outputs)

    def _contexts(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor | None]:
        batch = x.shape[0]
        if self.static_index.numel() == 0:
            constants = self.static_constant.unsqueeze(1).expand(4, batch, -1)
            return list(constants), None
        selected, weights = self.static_selection(x[:, -1, self.static_index])
        return [grn(selected) for grn in self.static_contexts], weights

    def forward_with_weights(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor]:
        """Outputs ``(batch, n_outputs)``, static weights ``(batch, n_static)`` or None,
        temporal weights ``(batch, window, n_temporal)`` and attention ``(batch, window)``."""
        (c_select, c_enrich, c_hidden, c_cell), static_weights = self._contexts(x)
        temporal = x[:, :, self.temporal_index]
        window = x.shape[1]
        selected, temporal_weights = self.temporal_selection(
            temporal, c_select.unsqueeze(1).expand(-1, window, -1)
        )
        state = (c_hidden.unsqueeze(0).contiguous(), c_cell.unsqueeze(0).contiguous())
        encoded, _ = self.lstm(selected, state)
        encoded = self.lstm_gate(encoded, selected)
        enriched = self.enrichment(encoded, c_enrich.unsqueeze(1).expand(-1, window, -1))
        attended, attention = self.attention(enriched)
        h = self.attention_gate(attended, enriched[:, -1])
        h = self.output_gate(self.position_wise(h), encoded[:, -1])
        return self.head(h), static_weights, temporal_weights, attention

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_weights(x)[0]
