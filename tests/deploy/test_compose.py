"""The compose file passes its check (through `make compose-check`), and the check catches
a missing service, a hard-coded password, a wrong database and a build without a Dockerfile."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_compose", ROOT / "deploy" / "check_compose.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _variant(tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    doc = yaml.safe_load(COMPOSE.read_text())
    edit(doc)
    shutil.copy(ROOT / "Dockerfile", tmp_path / "Dockerfile")
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_make_compose_check_passes_on_the_repository_file() -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "COLUMNS": "200"}
    # the venv's stamp is the Makefile's business: point it at this interpreter's venv
    done = subprocess.run(
        ["make", "-s", "-o", f"{bin_dir.parent}/.installed-run", "compose-check",
         f"VENV={bin_dir.parent}", f"STAMP_RUN={bin_dir.parent}/.installed-run"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "ok (api, worker, postgres, redis, ray-head)" in done.stdout


def test_the_repository_file_has_the_whole_stack() -> None:
    doc = yaml.safe_load(COMPOSE.read_text())
    assert set(doc["services"]) >= {"api", "worker", "postgres", "redis", "ray-head"}
    assert _checker().check(COMPOSE) == []


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["services"].pop("redis"), "service 'redis' is missing"),
        (
            lambda d: d["services"]["postgres"]["environment"].update(POSTGRES_PASSWORD="hunter2"),
            "POSTGRES_PASSWORD is written in the file",
        ),
        (
            lambda d: d["services"]["api"]["environment"].update(
                ALPHALOOP_DATABASE_URL="postgresql+psycopg://a:hunter2@postgres/a"
            ),
            "password in its URL",
        ),
        (
            lambda d: d["services"]["worker"]["environment"].update(
                ALPHALOOP_DATABASE_URL="sqlite:////workspace/alphaloop.db"
            ),
            "'worker' needs ALPHALOOP_DATABASE_URL on the postgres service",
        ),
        (lambda d: d["services"]["redis"].pop("image"), "neither an image nor a build"),
        (lambda d: d["services"]["api"].update(build="nowhere"), "does not exist"),
        (lambda d: d["services"]["api"].update(depends_on=["mysql"]), "'mysql', which is not"),
        (lambda d: d["services"]["worker"].update(command=["research"]), "--executor ray"),
    ],
)
def test_the_check_names_what_is_wrong(tmp_path: Path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    problems = _checker().check(_variant(tmp_path, edit))
    assert any(message in p for p in problems), problems


def test_a_file_that_is_not_yaml_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "docker-compose.yml"
    bad.write_text("services: [api\n")
    checker = _checker()
    assert "not valid YAML" in checker.check(bad)[0]
    assert checker.main([str(bad)]) == 1
