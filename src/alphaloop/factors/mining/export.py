"""A mining run's pool as a factor library (YAML) with provenance.

The file is an ordinary library (``name``, ``description``, ``factors``)
plus a ``provenance`` mapping: the data and settings of the run, the number
of distinct expressions it scored, and per factor the generation, the
variation that produced it, its parents, its rank IC on every fold, its
weight and marginal contribution in the pool, and its significance after
the multiple-testing adjustment. Nothing in it depends on the clock, so
the same data, settings and seed write the same file byte for byte.
"""

from __future__ import annotations

from typing import Any

import yaml

from alphaloop import __version__
from alphaloop.factors.mining.results import MiningResult

__all__ = ["library_document", "library_yaml"]


def library_document(
    result: MiningResult, name: str, *, dataset: str | None = None
) -> dict[str, Any]:
    """The library mapping for ``result``'s pool (``name`` -> formula, with provenance)."""
    full = result.to_dict()
    cfg = full["config"]
    n_pass = len(result.passed)
    where = f" on {dataset}" if dataset else ""
    description = (
        f"{len(result.members)} factors mined{where} (horizon {cfg['horizon']} bars, seed "
        f"{cfg['seed']}); {n_pass} pass the significance gate after {result.n_trials} trials"
    )
    per_factor = {}
    for m in full["pool"]["members"]:
        per_factor[m["name"]] = {
            "key": m["key"],
            "found_as": m["found_as"],
            "generation": m["generation"],
            "operator": m["operator"],
            "parents": m["parents"],
            "weight": m["weight"],
            "marginal": m["marginal"],
            "folds": {
                "train_ic": m["score"]["train_ic"],
                "valid_ic": m["score"]["valid_ic"],
            },
            "train_ic": m["score"]["ic"],
            "train_icir": m["score"]["icir"],
            "valid_ic": m["valid_ic"],
            "significance": m["significance"],
        }
        if m.get("origins"):  # grown from hypotheses (llm:<model>, user): say so
            per_factor[m["name"]]["origins"] = m["origins"]
    provenance = {
        "kind": "mined",
        "session": _session_key(result),
        "dataset": dataset,
        "data_hash": result.data_hash,
        "code_version": __version__,
        "seed": cfg["seed"],
        "horizon": cfg["horizon"],
        "config": cfg,
        "folds": full["folds"],
        "n_scored": result.n_scored,
        "n_trials": result.n_trials,
        "n_generations": result.n_generations,
        "stopped": result.stopped,
        "pool": {
            "train_ic": full["pool"]["train_ic"],
            "valid_ic": full["pool"]["valid_ic"],
            "significance": full["pool"]["significance"],
        },
        "factors": per_factor,
    }
    return {
        "name": name,
        "description": description,
        "factors": {m.name: m.expression for m in result.members},
        "provenance": provenance,
    }


def library_yaml(result: MiningResult, name: str, *, dataset: str | None = None) -> str:
    """:func:`library_document` as YAML text (keys in a fixed order)."""
    return yaml.safe_dump(
        library_document(result, name, dataset=dataset),
        sort_keys=False,
        allow_unicode=True,
    )


def _session_key(result: MiningResult) -> str:
    import hashlib
    import json

    text = json.dumps(
        {"config": result.config.replay_key(), "data": result.data_hash}, sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]
