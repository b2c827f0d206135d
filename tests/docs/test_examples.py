"""Every example in README.md and docs/*.md runs as written.

Fenced blocks are extracted by language:

- ``python``: executed in order, one namespace per document (later blocks
  use names the earlier ones defined), in a fresh directory whose default
  workspace (``ALPHALOOP_HOME``) is fresh too;
- ``yaml``: loaded and validated as what it is (a strategy spec, a model
  spec, an RL spec, a factor library); a strategy spec marked ``run`` is backtested;
- ``bash``: each ``alphaloop ...`` command (continuation lines joined,
  comments dropped) runs through the CLI's ``main()`` in that directory.
  Commands that report a verdict (``validate``, ``lookahead``, ``data
  check``, ``model monitor``, ``research``, ``factor mine``, ``generate``)
  may exit 1, never with an error.

A comment line right above a block adds markers: ``<!-- example:
file=NAME -->`` writes the block to NAME in every example directory (the
files the commands name, such as ``momentum.yaml``), ``run`` backtests a
strategy spec, ``skip REASON`` leaves the block out. Small data files the
examples import (``prices.csv``, ``closes.csv``) are made here. Blocks in
other languages (or none) are synopses and are not run.

Runs with the product's default sealed holdout, as a user's workspace does.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted(
    [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "docs").glob("strategies/*.md")]
)
FENCE = re.compile(r"^```(\w*)[^\n]*$")
MARKER = re.compile(r"^<!--\s*example:\s*(.*?)\s*-->$")
VERDICTS = (
    ("validate",),
    ("lookahead",),
    ("data", "check"),
    ("model", "monitor"),
    ("research",),
    ("factor", "mine"),
    ("generate",),
)
# commands exercised elsewhere whose cost would dominate this module
RUN_ELSEWHERE = {("demo",): "tests/cli/test_cli.py runs the demo end to end"}


@dataclass(frozen=True)
class Block:
    """One fenced block of a document."""

    doc: str
    line: int
    lang: str
    text: str
    markers: tuple[str, ...]

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"

    def marker(self, key: str) -> str | None:
        for m in self.markers:
            if m == key or m.startswith(f"{key}="):
                return m.partition("=")[2] or m
        return None


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of ``path`` with their markers, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group(1)
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        marker = MARKER.match(lines[start - 1].strip()) if start else None
        markers = tuple(marker.group(1).split()) if marker else ()
        text = "\n".join(lines[start + 1 : end]) + "\n"
        out.append(Block(path.name, start + 2, lang, text, markers))
        i = end + 1
    return out


ALL = [b for p in DOCS for b in blocks(p)]


def commands(block: Block) -> list[list[str]]:
    """The ``alphaloop`` commands of a bash block, as argument lists."""
    joined, buf = [], ""
    for raw in block.text.splitlines():
        if raw.rstrip().endswith("\\"):
            buf += raw.rstrip()[:-1] + " "
            continue
        joined.append(buf + raw)
        buf = ""
    out = []
    for line in joined:
        args = shlex.split(line, comments=True)
        if args and args[0] == "alphaloop":
            out.append(args[1:])
    return out


def write_data_files(directory: Path) -> None:
    """The small files the examples import: a long OHLCV file and a wide close file."""
    rng = np.random.default_rng(0)
    index = pd.bdate_range("2024-01-02", periods=60)
    rows = []
    for symbol, base in (("AAA", 50.0), ("BBB", 120.0)):
        close = base * np.cumprod(1 + 0.01 * rng.standard_normal(len(index)))
        opens = close * (1 + 0.002 * rng.standard_normal(len(index)))
        for t, o, c in zip(index, opens, close, strict=True):
            high, low = max(o, c) * 1.01, min(o, c) * 0.99
            rows.append([f"{t:%Y-%m-%d}", symbol, o, high, low, c, 1_000_000])
    cols = ["timestamp", "symbol", "open", "high", "low", "close", "volume"]
    long = pd.DataFrame(rows, columns=cols)
    long.round(4).to_csv(directory / "prices.csv", index=False)
    wide = long.pivot(index="timestamp", columns="symbol", values="close")
    wide.round(4).to_csv(directory / "closes.csv")


def example_files(directory: Path) -> None:
    """Every block marked ``file=NAME``, and the data files, written into ``directory``."""
    for b in ALL:
        name = b.marker("file")
        if name:
            (directory / name).write_text(b.text)
    write_data_files(directory)


@pytest.fixture
def example_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh directory holding the example files, with a fresh default workspace."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALPHALOOP_HOME", str(tmp_path / "workspace"))
    monkeypatch.delenv("ALPHALOOP_HOLDOUT_FRACTION", raising=False)  # the product's default
    example_files(tmp_path)
    return tmp_path


def run_command(block: Block, args: list[str]) -> None:
    from alphaloop.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    shown = f"`alphaloop {shlex.join(args)}` ({block.where}) exited {code}: {err.getvalue()}"
    verdict = any(tuple(args[: len(v)]) == v for v in VERDICTS)
    assert code == 0 or (verdict and code == 1 and "error" not in err.getvalue()), shown


def check_yaml(block: Block, directory: Path) -> str:
    """Load and validate a YAML block as what it describes; returns its kind."""
    from alphaloop.app import Workspace
    from alphaloop.app.backtests import run_backtest
    from alphaloop.app.models import check_model_spec
    from alphaloop.backtest.spec import load_spec
    from alphaloop.factors.library.registry import load_library_file
    from alphaloop.models.spec import load_model_spec

    doc = yaml.safe_load(block.text)
    path = directory / f"block-{block.line}.yaml"
    path.write_text(block.text)
    if "signal" in doc or "template" in doc:
        spec = load_spec(path)
        if block.marker("run"):
            with Workspace() as ws:
                result = run_backtest(ws, spec)
            assert result.metrics["n_periods"] > 20, block.where
        return "strategy"
    if "factors" in doc:
        load_library_file(path)
        return "library"
    if "algorithm" in doc or "timesteps" in doc:
        from alphaloop.rl.spec import load_rl_spec

        load_rl_spec(path)
        return "rl"
    if {"features", "label", "model"} & set(doc):
        spec = load_model_spec(path)
        with Workspace() as ws:
            check_model_spec(ws, spec)
        return "model"
    if {"styles", "lifecycle", "bus", "controller", "autonomy"} & set(doc):
        from alphaloop.app.run_loop import load_loop_config

        load_loop_config(path)
        return "loop"
    raise AssertionError(f"{block.where}: a YAML block of unknown kind (keys {sorted(doc)})")


def run_document(doc: str, directory: Path) -> int:
    """Run every block of ``doc`` in order; returns how many were run."""
    namespace: dict[str, object] = {"__name__": "__example__"}
    ran = 0
    for b in (b for b in ALL if b.doc == doc):
        if b.marker("skip"):
            continue
        if b.lang == "python":
            # dont_inherit: run as a user runs them, without this module's __future__ imports
            exec(compile(b.text, b.where, "exec", dont_inherit=True), namespace)
        elif b.lang == "yaml":
            check_yaml(b, directory)
        elif b.lang == "bash":
            for args in commands(b):
                if tuple(args[:1]) not in RUN_ELSEWHERE:
                    run_command(b, args)
        else:
            continue
        ran += 1
    return ran


RUNNABLE = sorted({b.doc for b in ALL if b.lang in ("python", "yaml", "bash")})
# each takes several seconds
SLOW = {
    "README.md", "backtest.md", "factors.md", "generate.md", "model-export.md", "research.md",
    "synth.md",
    "sandbox.md",
}  # fmt: skip


@pytest.mark.parametrize(
    "doc", [pytest.param(d, marks=pytest.mark.slow) if d in SLOW else d for d in RUNNABLE]
)
def test_examples_run(doc: str, example_dir: Path) -> None:
    assert run_document(doc, example_dir) > 0


def test_every_example_kind_is_covered() -> None:
    """The extraction finds what the documents show; markers name real options."""
    langs = {b.lang for b in ALL}
    assert {"python", "yaml", "bash"} <= langs
    assert {"README.md", "backtest.md", "models.md", "factors.md"} <= set(RUNNABLE)
    files = {b.marker("file") for b in ALL} - {None}
    assert {"momentum.yaml", "model.yaml", "my-momentum.yaml"} <= files
    for b in ALL:
        for m in b.markers:
            assert m.split("=")[0] in ("file", "run", "skip") or b.marker("skip"), b.where
    readme = [
        args for b in ALL if b.doc == "README.md" and b.lang == "bash" for args in commands(b)
    ]
    assert ["backtest", "momentum.yaml", "--report", "momentum.html"] in readme
