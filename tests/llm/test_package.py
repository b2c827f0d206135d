"""The package's face: a cheap import, and no path from model text to code execution."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import alphaloop.llm

PACKAGE = Path(alphaloop.llm.__file__).parent
FORBIDDEN = re.compile(
    r"\b(eval|exec|compile|__import__)\s*\(|\bos\.system\b|\bsubprocess\b|shell\s*=\s*True|\bpickle\b"
)


def test_import_is_cheap():
    heavy = "('httpx', 'sqlite3', 'pydantic_settings')"
    code = f"import sys, alphaloop.llm; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_names_resolve():
    for name in alphaloop.llm.__all__:
        assert getattr(alphaloop.llm, name) is not None


def test_no_code_execution_in_the_client_modules():
    """Model text never reaches eval/exec/a shell: none of them appear in these modules.

    The sandbox modules (``sandbox*.py``) run user code in a separate process on
    purpose and are checked by their own tests; ``local.py`` starts the local
    model server with a fixed argv (checked in ``test_local_config.py``).
    """
    modules = [
        p for p in PACKAGE.glob("*.py") if not p.name.startswith("sandbox") and p.name != "local.py"
    ]
    assert len(modules) >= 8
    offenders = [
        f"{p.name}:{i}: {line.strip()}"
        for p in modules
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if FORBIDDEN.search(line)
    ]
    assert offenders == []


def test_forbidden_pattern_catches_what_it_should():
    for line in [
        "eval(text)",
        "exec (code)",
        "os.system('x')",
        "run(x, shell=True)",
        "import subprocess",
    ]:
        assert FORBIDDEN.search(line)
    assert not FORBIDDEN.search("evaluate(text)")
