"""Check docker-compose.yml without Docker: it parses, and the stack is complete and safe.

Usage: ``python deploy/check_compose.py [docker-compose.yml]`` (``make compose-check``).
Prints one line per problem and exits 1 when there is any, 0 otherwise.

What is checked
---------------
- The file is YAML with a ``services`` mapping holding ``api``, ``worker``,
  ``postgres``, ``redis`` and ``ray-head``; each has an ``image`` or a
  ``build`` (whose context holds a ``Dockerfile``).
- ``api`` runs ``alphaloop serve`` on ``0.0.0.0`` with ``ALPHALOOP_API_SECRET``
  taken from the environment (the service refuses to start without one) and
  ``ALPHALOOP_API_BUS_URL`` on the ``redis`` service; ``worker`` is a Ray node
  joining ``ray-head`` (``ray start --address=ray-head:PORT``); a ``research``
  service, when there is one, runs ``alphaloop research`` with the Ray executor.
- The alphaloop services (``api``, ``worker``, ``ray-head``, ``research``) get
  ``ALPHALOOP_DATABASE_URL`` on the ``postgres`` service and
  ``ALPHALOOP_RAY_ADDRESS`` on ``ray-head``.
- ``depends_on`` names services of the file.
- No secret is written in the file: an environment variable whose name
  says password, secret, token or key, and the password of a URL, must be
  a ``${VARIABLE}`` reference.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

REQUIRED = ("api", "worker", "postgres", "redis", "ray-head")
ALPHALOOP_SERVICES = ("api", "worker", "ray-head", "research")
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|(^|_)KEY($|_)", re.IGNORECASE)
_REFERENCE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(:?[-?+][^}]*)?\}$")
_URL_PASSWORD = re.compile(r"://[^:/@\s]+:(.*)@[^@]*$")


def _environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # ["NAME=value", ...]
        pairs = (str(item).split("=", 1) for item in env)
        return {p[0]: (p[1] if len(p) > 1 else "") for p in pairs}
    if isinstance(env, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in env.items()}
    return {}


def _command(service: Mapping[str, Any]) -> str:
    """The service's entrypoint (when the file sets one) and command, as one line."""
    parts = []
    for key in ("entrypoint", "command"):
        cmd = service.get(key) or ""
        parts.append(" ".join(str(c) for c in cmd) if isinstance(cmd, list) else str(cmd))
    return " ".join(p for p in parts if p)


def _url_host(url: str) -> str | None:
    """The host of ``scheme://[user[:password]@]host[:port]/...`` (None without one)."""
    if "://" not in url:
        return None
    rest = url.split("://", 1)[1].rsplit("@", 1)[-1]
    return re.split(r"[:/]", rest, maxsplit=1)[0] or None


def check(path: Path) -> list[str]:
    """Problems found in the compose file at ``path`` (empty: it is fine)."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return [f"{path}: cannot read it: {exc}"]
    except yaml.YAMLError as exc:
        return [f"{path}: not valid YAML: {exc}"]
    if not isinstance(doc, Mapping) or not isinstance(doc.get("services"), Mapping):
        return [f"{path}: no 'services' mapping at the top level"]
    services: Mapping[str, Any] = doc["services"]
    problems = [f"{path}: service {name!r} is missing" for name in REQUIRED if name not in services]
    for name, svc in services.items():
        where = f"{path}: service {name!r}"
        if not isinstance(svc, Mapping):
            problems.append(f"{where} is not a mapping")
            continue
        if "image" not in svc and "build" not in svc:
            problems.append(f"{where} has neither an image nor a build")
        build = svc.get("build")
        if build is not None:
            context = build if isinstance(build, str) else build.get("context", ".")
            dockerfile = (
                "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            )
            if not (path.parent / context / dockerfile).is_file():
                problems.append(f"{where} builds from {context}/{dockerfile}, which does not exist")
        deps = svc.get("depends_on") or []
        for dep in deps if isinstance(deps, list) else list(deps):
            if dep not in services:
                problems.append(f"{where} depends on {dep!r}, which is not a service")
        for key, value in _environment(svc).items():
            if _SECRET_NAME.search(key) and value and not _REFERENCE.match(value):
                problems.append(f"{where}: {key} is written in the file; use ${{{key}}} from .env")
            password = _URL_PASSWORD.search(value)
            if password and not _REFERENCE.match(password.group(1)):
                problems.append(
                    f"{where}: {key} holds a password in its URL; use a ${{VARIABLE}} reference"
                )
    if "api" in services and isinstance(services["api"], Mapping):
        cmd = _command(services["api"])
        if "serve" not in cmd or "0.0.0.0" not in cmd:
            problems.append(f"{path}: service 'api' must run 'alphaloop serve --host 0.0.0.0'")
        env = _environment(services["api"])
        if not _REFERENCE.match(env.get("ALPHALOOP_API_SECRET", "")):
            problems.append(
                f"{path}: service 'api' needs ALPHALOOP_API_SECRET as a ${{VARIABLE}} reference "
                "(the service refuses to start without a secret)"
            )
        if _url_host(env.get("ALPHALOOP_API_BUS_URL", "")) != "redis":
            problems.append(
                f"{path}: service 'api' needs ALPHALOOP_API_BUS_URL on the redis service"
            )
    worker = services.get("worker")
    if isinstance(worker, Mapping) and not re.search(
        r"ray start .*--address[= ]ray-head:\d+", _command(worker)
    ):
        problems.append(
            f"{path}: service 'worker' must be a Ray node: 'ray start --address=ray-head:PORT'"
        )
    research = services.get("research")
    if isinstance(research, Mapping):
        cmd = _command(research)
        if "research" not in cmd or not re.search(r"--executor\s+ray", cmd):
            problems.append(
                f"{path}: service 'research' must run 'alphaloop research --executor ray'"
            )
    for name in ALPHALOOP_SERVICES:
        svc = services.get(name)
        if not isinstance(svc, Mapping):
            continue
        env = _environment(svc)
        url = env.get("ALPHALOOP_DATABASE_URL", "")
        if not url.startswith("postgresql") or _url_host(url) != "postgres":
            problems.append(
                f"{path}: service {name!r} needs ALPHALOOP_DATABASE_URL on the postgres service"
            )
        if _url_host(env.get("ALPHALOOP_RAY_ADDRESS", "")) != "ray-head":
            problems.append(
                f"{path}: service {name!r} needs ALPHALOOP_RAY_ADDRESS on the ray-head service"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else Path(__file__).resolve().parents[1] / "docker-compose.yml"
    problems = check(path)
    for line in problems:
        print(line, file=sys.stderr)
    if not problems:
        print(f"{path}: ok ({', '.join(REQUIRED)})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
