"""The package's face: every public name resolves, and importing it stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from alphaloop import models

HEAVY = ["lightgbm", "optuna", "torch", "xgboost"]


def _loaded_after(code: str) -> list[str]:
    """Top-level packages of HEAVY present in a fresh interpreter after running ``code``."""
    report = f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    script = f"{code}\nimport json, sys\n{report}"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_all_names_resolve_to_their_home_module() -> None:
    assert sorted(models.__all__) == sorted(models._HOME)
    assert len(set(models.__all__)) == len(models.__all__)
    for name in models.__all__:
        value = getattr(models, name)
        home = f"alphaloop.models.{models._HOME[name]}"
        assert value is getattr(sys.modules[home], name), name


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        _ = models.nonexistent  # type: ignore[attr-defined]


def test_submodules_still_import_through_the_package() -> None:
    from alphaloop.models import dataset, registry

    assert dataset.build_dataset is models.build_dataset
    assert registry.ModelRegistry is models.ModelRegistry


def test_import_does_not_load_heavy_libraries() -> None:
    assert _loaded_after("import alphaloop.models") == []


def test_every_public_name_leaves_heavy_libraries_unloaded() -> None:
    assert _loaded_after("from alphaloop.models import *") == []
