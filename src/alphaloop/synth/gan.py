"""A GAN of multi-asset log returns with temporal convolutional networks (Quant GAN style).

The generator maps Gaussian noise, ``noise_dim`` numbers per bar, through a
gated dilated causal convolution stack (:mod:`._gan_network`) to the
standardized log returns of every asset at once, so the cross-section (the
correlations) and the dependence on the last ``2 ** n_layers`` bars
(volatility clustering) are learnt together; a critic of the same shape
scores windows of ``window`` bars. Training is a Wasserstein GAN with
gradient penalty (Gulrajani et al., 2017): ``critic_steps`` critic updates
per generator update, Adam, ``steps`` generator updates on batches of
windows drawn at random from the fitted returns.

Marginals: with ``marginals="empirical"`` (the default) each asset's returns
are turned into normal scores by their ranks before training (``u = (rank -
1/2) / n``, ``z = Phi^-1(u)``, a marginal Gaussianization in the spirit of
Quant GANs' inverse Lambert W transform) and a draw is mapped back through
the asset's empirical quantile function (linear between the sorted fitted
returns): the network learns the dependence through time and across assets,
the marginals are the real ones, bounded by the largest fitted move. With
``"standardize"`` returns are only standardized (fitted mean and standard
deviation) and the network must learn the tails too.

Reproducible on CPU: weights and training noise come from ``seed``
(``torch.manual_seed``), windows from a numpy generator of the same seed,
with deterministic algorithms and ``n_threads`` threads; a draw's noise
comes from the draw's seed, 25 paths per chunk as in every generator, so the
same fit and seed give the same paths bit for bit. Fitted weights are
stored as float32 arrays and restored exactly.

torch is in the ``ml`` extra and imported only when a GAN is fitted or drawn
from; without it the generator says which extra to install.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from alphaloop.errors import SynthError
from alphaloop.synth.base import Generator, path_chunks

__all__ = ["QuantGAN"]

_PREFIX = "gan."
_INTS: dict[str, tuple[int, int]] = {
    "hidden": (2, 512),
    "n_layers": (1, 12),
    "noise_dim": (1, 64),
    "window": (8, 4096),
    "batch_size": (1, 4096),
    "steps": (1, 1_000_000),
    "critic_steps": (1, 20),
    "seed": (0, 2**31 - 1),
    "n_threads": (1, 256),
}


def _network() -> Any:
    """The torch module of the networks, or a :class:`SynthError` naming the extra."""
    try:
        from alphaloop.synth import _gan_network
    except ImportError as exc:
        raise SynthError(
            f"the gan generator needs torch, which is not installed ({exc})",
            hint="pip install 'alphaloop[ml]'",
        ) from None
    return _gan_network


class QuantGAN(Generator):
    """Temporal-convolutional Wasserstein GAN of the assets' joint log returns.

    Parameters
    ----------
    hidden : int, default=32
        Channels of every convolution.
    n_layers : int, default=6
        Dilated layers of each network; the receptive field is ``2 ** n_layers`` bars.
    noise_dim : int, default=3
        Gaussian noise numbers per bar fed to the generator.
    window : int, default=128
        Bars per training window (longer than the receptive field).
    batch_size : int, default=32
        Windows per training batch.
    steps : int, default=1500
        Generator updates (each after ``critic_steps`` critic updates).
    critic_steps : int, default=2
    lr : float, default=5e-4
        Adam step size of both networks (betas 0.0, 0.9).
    gp_weight : float, default=10.0
        Weight of the critic's gradient penalty.
    seed : int, default=0
        Seeds the weights, the training noise and the windows.
    marginals : {"empirical", "standardize"}, default="empirical"
        How returns are mapped to the network's scale and back (see the module docstring).
    n_threads : int, default=1
        Torch threads for training and drawing (results are reproducible for a
        given number of threads).

    Attributes
    ----------
    mean_, scale_ : ndarray, shape (assets,)
        Per-bar mean and standard deviation of each asset's log returns.
    sorted_ : ndarray, shape (rows, assets)
        Each asset's fitted returns in increasing order (its empirical quantiles).
    losses_ : dict
        The last critic (Wasserstein estimate plus penalty) and generator losses.
    fit_seconds_ : float
        Wall time of the training.
    """

    kind = "gan"

    def __init__(
        self,
        hidden: int = 32,
        n_layers: int = 6,
        noise_dim: int = 3,
        window: int = 128,
        batch_size: int = 32,
        steps: int = 1500,
        critic_steps: int = 2,
        lr: float = 5e-4,
        gp_weight: float = 10.0,
        seed: int = 0,
        n_threads: int = 1,
        marginals: str = "empirical",
    ) -> None:
        self.hidden = hidden
        self.n_layers = n_layers
        self.noise_dim = noise_dim
        self.window = window
        self.batch_size = batch_size
        self.steps = steps
        self.critic_steps = critic_steps
        self.lr = lr
        self.gp_weight = gp_weight
        self.seed = seed
        self.n_threads = n_threads
        self.marginals = marginals

    # ---------------------------------------------------------------- checks
    def _check_params(self, n_obs: int) -> None:
        for name, (low, high) in _INTS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise SynthError(f"gan parameter {name} must be an integer, got {value!r}")
            if not low <= int(value) <= high:
                raise SynthError(f"gan parameter {name} must be in {low}..{high}, got {value!r}")
        for name in ("lr", "gp_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SynthError(f"gan parameter {name} must be a number, got {value!r}")
            if not (math.isfinite(value) and value > 0):
                raise SynthError(f"gan parameter {name} must be > 0, got {value!r}")
        if self.marginals not in ("empirical", "standardize"):
            raise SynthError(
                f"gan marginals must be 'empirical' or 'standardize', got {self.marginals!r}"
            )
        field = 2 ** int(self.n_layers)
        if int(self.window) <= field:
            raise SynthError(
                f"gan window {self.window} must be longer than the receptive field "
                f"2 ** n_layers = {field} bars",
                hint="lower n_layers or raise window",
            )
        if int(self.window) >= n_obs:
            raise SynthError(
                f"gan window {self.window} is not shorter than the {n_obs} return rows fitted on"
            )

    # ------------------------------------------------------------------- fit
    def _fit(self, returns: np.ndarray) -> None:
        n_obs, d = returns.shape
        self._check_params(n_obs)
        net = _network()
        import torch

        self.mean_ = returns.mean(axis=0)
        scale = returns.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        self.sorted_ = np.sort(returns, axis=0)
        z = self._to_network(returns).T.astype(np.float32)  # (assets, rows)
        w, b = int(self.window), int(self.batch_size)
        field = net.receptive_field(int(self.n_layers))
        rng = np.random.default_rng(int(self.seed))
        began = time.perf_counter()
        with net.torch_session(int(self.seed), int(self.n_threads)):
            gen = net.TCNGenerator(int(self.noise_dim), int(self.hidden), d, int(self.n_layers))
            critic = net.Critic(d, int(self.hidden), int(self.n_layers))
            opt_g = torch.optim.Adam(gen.parameters(), lr=float(self.lr), betas=(0.0, 0.9))
            opt_c = torch.optim.Adam(critic.parameters(), lr=float(self.lr), betas=(0.0, 0.9))
            data = torch.from_numpy(z)
            offsets = torch.arange(w)

            def real_batch() -> torch.Tensor:
                starts = torch.from_numpy(rng.integers(0, n_obs - w + 1, b))
                cols = starts[:, None] + offsets[None, :]  # (b, w)
                return data[:, cols].permute(1, 0, 2)  # (b, assets, w)

            def noise() -> torch.Tensor:
                return torch.randn(b, int(self.noise_dim), w + field - 1)

            loss_c = loss_g = torch.zeros(())
            for _ in range(int(self.steps)):
                for _ in range(int(self.critic_steps)):
                    real = real_batch()
                    with torch.no_grad():
                        fake = gen(noise())
                    mix = torch.rand(b, 1, 1)
                    inter = (mix * real + (1 - mix) * fake).requires_grad_(True)
                    (grad,) = torch.autograd.grad(critic(inter).sum(), inter, create_graph=True)
                    penalty = ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()
                    loss_c = (
                        critic(fake).mean() - critic(real).mean() + float(self.gp_weight) * penalty
                    )
                    opt_c.zero_grad(set_to_none=True)
                    loss_c.backward()
                    opt_c.step()
                loss_g = -critic(gen(noise())).mean()
                opt_g.zero_grad(set_to_none=True)
                loss_g.backward()
                opt_g.step()
        self.fit_seconds_ = time.perf_counter() - began
        self.losses_ = {"critic": float(loss_c.detach()), "generator": float(loss_g.detach())}
        if not all(math.isfinite(v) for v in self.losses_.values()):
            raise SynthError(
                f"gan training diverged (losses {self.losses_})",
                hint="lower lr or raise gp_weight",
            )
        self.generator_ = gen.eval()

    # ------------------------------------------------------------------ draw
    def _draw(self, n_paths: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, None]:
        net = _network()
        import torch

        field = net.receptive_field(int(self.n_layers))
        d = len(self.assets_)
        out = np.empty((n_paths, length, d))
        chunks = path_chunks(n_paths)
        children = rng.spawn(len(chunks))
        with net.torch_session(0, int(self.n_threads)), torch.no_grad():
            for part, child in zip(chunks, children, strict=True):
                n = part.stop - part.start
                z = child.standard_normal((n, int(self.noise_dim), length + field - 1))
                x = self.generator_(torch.from_numpy(z.astype(np.float32)))
                out[part] = x.permute(0, 2, 1).numpy().astype(np.float64)
        return self._from_network(out), None

    # ------------------------------------------------------------- marginals
    def _to_network(self, returns: np.ndarray) -> np.ndarray:
        if self.marginals == "standardize":
            return (returns - self.mean_) / self.scale_
        from scipy import special, stats

        n = returns.shape[0]
        u = (stats.rankdata(returns, axis=0) - 0.5) / n
        return special.ndtri(u)

    def _from_network(self, out: np.ndarray) -> np.ndarray:
        if self.marginals == "standardize":
            out *= self.scale_
            out += self.mean_
            return out
        from scipy import special

        n = self.sorted_.shape[0]
        grid = np.arange(n, dtype=np.float64)
        for j in range(out.shape[-1]):
            pos = special.ndtr(out[..., j]) * n - 0.5
            out[..., j] = np.interp(pos, grid, self.sorted_[:, j])
        return out

    # ----------------------------------------------------------- persistence
    def _state_meta(self) -> dict[str, Any]:
        return {
            "critic_loss": self.losses_["critic"],
            "generator_loss": self.losses_["generator"],
            "fit_seconds": round(self.fit_seconds_, 3),
        }

    def _state_arrays(self) -> dict[str, np.ndarray]:
        weights = {
            _PREFIX + k: v.detach().numpy().copy() for k, v in self.generator_.state_dict().items()
        }
        return {"mean": self.mean_, "scale": self.scale_, "sorted": self.sorted_, **weights}

    def _restore(self, fitted: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        net = _network()
        import torch

        self.mean_ = np.asarray(arrays["mean"], dtype=np.float64)
        self.scale_ = np.asarray(arrays["scale"], dtype=np.float64)
        self.sorted_ = np.asarray(arrays["sorted"], dtype=np.float64)
        self.losses_ = {
            "critic": float(fitted.get("critic_loss", math.nan)),
            "generator": float(fitted.get("generator_loss", math.nan)),
        }
        self.fit_seconds_ = float(fitted.get("fit_seconds", math.nan))
        gen = net.TCNGenerator(
            int(self.noise_dim), int(self.hidden), len(self.assets_), int(self.n_layers)
        )
        state = {
            k[len(_PREFIX) :]: torch.from_numpy(np.asarray(v).copy())
            for k, v in arrays.items()
            if k.startswith(_PREFIX)
        }
        gen.load_state_dict(state)
        self.generator_ = gen.eval()
