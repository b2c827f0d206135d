"""Data augmentation: synthetic panels drawn from a generator fitted on a training span only.

A model (or an RL agent) that trains on more histories than the market gave
sees synthetic paths as extra training data; validation, tests and every
evaluation stay on real data. :func:`training_span` keeps only the bars a
training span may see (prices elsewhere become missing, so no return that
crosses a hidden bar is fitted on); :func:`augment_panel` fits a generator
on what is left and draws labelled synthetic Panels from it. Neither knows
about models: :mod:`alphaloop.models.augment` calls them once per training
fit, with that fit's training rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alphaloop.data import Panel
from alphaloop.errors import SynthError
from alphaloop.synth.base import MAX_LENGTH, Generator
from alphaloop.synth.registry import GENERATORS, make_generator

__all__ = ["AugmentConfig", "augment_panel", "training_span"]

#: Most synthetic paths one augmentation draws (each becomes a full copy of the data).
MAX_AUGMENT_PATHS = 64


@dataclass(frozen=True)
class AugmentConfig:
    """What to add to a training span: ``paths`` synthetic panels from ``generator``.

    Parameters
    ----------
    generator : str
        A generator kind (:data:`~alphaloop.synth.GENERATORS`).
    paths : int
        Synthetic panels per training fit (1 to 64).
    seed : int
        Seed of the draws (each fit draws with its own seed derived from it).
    params : mapping
        Generator parameters (as ``alphaloop synth fit --params``).
    """

    generator: str = "bootstrap"
    paths: int = 4
    seed: int = 0
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.generator not in GENERATORS:
            raise SynthError(
                f"augment generator {self.generator!r} is not known; "
                f"generators: {', '.join(sorted(GENERATORS))}"
            )
        for name, value, low, high in (
            ("paths", self.paths, 1, MAX_AUGMENT_PATHS),
            ("seed", self.seed, 0, 2**63 - 1),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise SynthError(f"augment {name} must be an integer, got {value!r}")
            if not low <= int(value) <= high:
                raise SynthError(f"augment {name} must be between {low} and {high:,}, got {value}")
        make_generator(self.generator, dict(self.params))  # parameter names checked now

    def draw_seed(self, fit: int) -> int:
        """The seed of training fit number ``fit``'s draw (independent streams per fit)."""
        return int(np.random.SeedSequence([int(self.seed), int(fit)]).generate_state(1)[0])

    def to_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator,
            "paths": int(self.paths),
            "seed": int(self.seed),
            "params": dict(self.params),
        }


def training_span(panel: Panel, keep: np.ndarray) -> Panel:
    """``panel`` from its first to its last kept bar, every field missing on the other bars.

    Parameters
    ----------
    panel : Panel
        Real data.
    keep : ndarray of bool, shape (bars,)
        The bars a training span may see.

    Raises
    ------
    SynthError
        When ``keep`` has the wrong length or keeps no bar.
    """
    keep = np.asarray(keep, dtype=bool)
    if keep.shape != (panel.n_times,):
        raise SynthError(f"keep has shape {keep.shape}, expected ({panel.n_times},)")
    kept = np.flatnonzero(keep)
    if kept.size == 0:
        raise SynthError("the training span keeps no bar")
    first, last = int(kept[0]), int(kept[-1]) + 1
    inside = keep[first:last]
    fields = {}
    for name in panel.field_names:
        values = np.array(panel[name][first:last], dtype=np.float64)
        values[~inside] = np.nan
        fields[name] = values
    return Panel(
        panel.index[first:last], panel.assets, fields, membership=panel.membership[first:last]
    )


def augment_panel(
    panel: Panel,
    config: AugmentConfig | None = None,
    *,
    length: int | None = None,
    fit: int = 0,
    label: str = "augment",
) -> tuple[list[Panel], Generator]:
    """Fit ``config.generator`` on real ``panel`` and draw ``config.paths`` synthetic Panels.

    Parameters
    ----------
    panel : Panel
        The real training data (e.g. :func:`training_span`'s output); never a
        synthetic panel.
    config : AugmentConfig, optional
        Default: 4 stationary-bootstrap paths, seed 0.
    length : int, optional
        Bars per synthetic panel (default: as many as ``panel``).
    fit : int, default=0
        Which training fit this is: the draw's seed is ``config.draw_seed(fit)``.
    label : str, default="augment"
        The draw's name in every path's origin.

    Returns
    -------
    panels : list of Panel
        Labelled synthetic (``panel.synthetic``).
    generator : Generator
        The fitted generator.
    """
    config = config or AugmentConfig()
    n = int(length) if length is not None else panel.n_times
    if not 2 <= n <= MAX_LENGTH:
        raise SynthError(f"augment length must be between 2 and {MAX_LENGTH:,} bars, got {n}")
    gen = make_generator(config.generator, dict(config.params)).fit(panel)
    panels = gen.sample(int(config.paths), n, config.draw_seed(fit), label=label)
    return panels, gen
