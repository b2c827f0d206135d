"""The temporal convolutional networks of the GAN generator (imports torch).

Both networks are stacks of dilated causal convolutions (kernel 2, dilation
doubling each layer) without padding, so a network of receptive field ``R``
maps ``L + R - 1`` input steps to ``L`` output steps and every output sees
only its own and earlier inputs. The generator's blocks are gated (``tanh``
times ``sigmoid``, as in WaveNet): the product of two linear paths lets it
make volatility that depends on past noise, the source of clustering and
heavy tails in Quant GANs (Wiese et al., 2020). The critic's blocks are plain
(LeakyReLU), with residual and skip connections in both.

Shapes are ``(batch, channels, steps)`` throughout.
"""

from __future__ import annotations

import torch
from torch import nn

from alphaloop.compute.torch_seed import deterministic_torch as torch_session

__all__ = ["Critic", "TCNGenerator", "receptive_field", "torch_session"]


def receptive_field(n_layers: int) -> int:
    """Steps an output sees with kernel 2 and dilations ``1, 2, ..., 2**(n_layers - 1)``."""
    return 2**n_layers


class _Block(nn.Module):
    """One dilated causal layer: ``x[t - d]`` and ``x[t]`` -> hidden; residual and skip out."""

    def __init__(self, channels: int, dilation: int, gated: bool) -> None:
        super().__init__()
        self.dilation = dilation
        self.gated = gated
        self.conv = nn.Conv1d(channels, 2 * channels if gated else channels, 2, dilation=dilation)
        self.res = nn.Conv1d(channels, channels, 1)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.conv(x)
        if self.gated:
            a, b = h.chunk(2, dim=1)
            h = torch.tanh(a) * torch.sigmoid(b)
        else:
            h = self.act(h)
        return x[:, :, self.dilation :] + self.res(h), h


class _TCN(nn.Module):
    """Input 1x1 conv, ``n_layers`` blocks, the sum of their skips (cropped) -> 1x1 output."""

    def __init__(self, c_in: int, hidden: int, c_out: int, n_layers: int, gated: bool) -> None:
        super().__init__()
        self.inp = nn.Conv1d(c_in, hidden, 1)
        self.blocks = nn.ModuleList(_Block(hidden, 2**i, gated) for i in range(n_layers))
        self.out = nn.Sequential(
            nn.LeakyReLU(0.2), nn.Conv1d(hidden, hidden, 1), nn.LeakyReLU(0.2),
            nn.Conv1d(hidden, c_out, 1),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x)
        skips = []
        for block in self.blocks:
            h, s = block(h)
            skips.append(s)
        steps = h.shape[-1]
        total = sum(s[:, :, s.shape[-1] - steps :] for s in skips)
        return self.out(total)


class TCNGenerator(_TCN):
    """Noise ``(batch, noise_dim, L + R - 1)`` -> standardized returns ``(batch, assets, L)``."""

    def __init__(self, noise_dim: int, hidden: int, n_assets: int, n_layers: int) -> None:
        super().__init__(noise_dim, hidden, n_assets, n_layers, gated=True)


class Critic(_TCN):
    """Returns ``(batch, assets, L)`` -> one score per window (the mean over its outputs)."""

    def __init__(self, n_assets: int, hidden: int, n_layers: int) -> None:
        super().__init__(n_assets, hidden, 1, n_layers, gated=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x).mean(dim=(1, 2))
