"""Fixtures for the command-line tests: a workspace with something in every table."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alphaloop.cli import main

MODEL_SPEC = """
name: tiny
data: sp500-stocks
end: "1999-12-31"
features:
  mom20: $close / Ref($close, 20) - 1
  rev5: Ref($close, 5) / $close - 1
label: {horizon: 5}
model: {family: ridge}
training: {n_splits: 3}
"""


def cli(capsys: pytest.CaptureFixture[str], ws: Path, *args: str) -> tuple[int, str, str]:
    """Run ``alphaloop --workspace WS ARGS`` in process: (exit code, stdout, stderr)."""
    code = main(["--workspace", str(ws), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def cli_process(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m alphaloop.cli ARGS`` as a subprocess (stdout and stderr are pipes)."""
    return subprocess.run(
        [sys.executable, "-m", "alphaloop.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="session")
def research_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with the bundled data, two versions of a small trained model (and
    their runs, with data hashes), and a holdout configured on ``vix``.

    Tests may add to it, never remove; they do not depend on each other's additions.
    """
    root = tmp_path_factory.mktemp("research") / "ws"
    spec = root.parent / "tiny.yaml"
    spec.write_text(MODEL_SPEC)
    assert main(["--workspace", str(root), "init"]) == 0
    assert main(["--workspace", str(root), "model", "train", str(spec)]) == 0
    again = root.parent / "tiny2.yaml"
    again.write_text(MODEL_SPEC + "seed: 1\nsupersedes: tiny/v1\n")
    assert main(["--workspace", str(root), "model", "train", str(again)]) == 0
    assert main(["--workspace", str(root), "holdout", "set", "vix", "--fraction", "0.2"]) == 0
    return root


def unshare_available() -> bool:
    """Whether this process can make a directory read-only for a child (a user namespace)."""
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "true"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def cli_on_read_only(
    ws: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI on ``ws`` made read-only for the child only.

    With a user namespace, ``ws`` is bind-mounted read-only (a read-only file
    system: even root cannot write). Otherwise, for a user other than root,
    the directory and its database lose their write permission for the run.
    """
    command = [sys.executable, "-m", "alphaloop.cli", "--workspace", str(ws), *args]
    full_env = {**os.environ, **(env or {})}
    if unshare_available():
        script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
        wrapped = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, str(ws)]
        return subprocess.run(
            [*wrapped, *command],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env=full_env,
        )
    if os.geteuid() == 0:
        pytest.skip("cannot make a directory read-only for root without a user namespace")
    db = ws / "alphaloop.db"
    ws.chmod(0o555)
    db.chmod(0o444)
    try:
        return subprocess.run(
            command, capture_output=True, text=True, timeout=300, check=False, env=full_env
        )
    finally:
        ws.chmod(0o755)
        db.chmod(0o644)


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


#: ``python -m alphaloop.cli``, with Ctrl-C turned back on first. A child inherits an
#: ignored SIGINT, and Python then installs no KeyboardInterrupt handler at all; a
#: library used earlier in the test process may have left SIGINT ignored there.
CLI_COMMAND = (
    sys.executable,
    "-c",
    "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from alphaloop.cli import run; run()",
)


class Terminal:
    """The CLI run in a pseudo-terminal (stdout and stderr are a terminal), as a person sees it."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        import pty

        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [*CLI_COMMAND, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            close_fds=True,
            env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", **(env or {})},
        )
        os.close(slave)
        self.raw = b""

    def _read(self, wait_s: float) -> bool:
        """Read what is there within ``wait_s``; False once the terminal is closed."""
        import select

        ready, _, _ = select.select([self.master], [], [], wait_s)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # the child closed the terminal
            return False
        self.raw += chunk
        return bool(chunk)

    def wait_for(self, text: str, timeout_s: float = 240) -> None:
        """Read until ``text`` has been shown (escape sequences aside)."""
        deadline = time.monotonic() + timeout_s
        while text not in self.text:
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"never shown: {text!r}; shown: {self.text[-2000:]!r}")
            if not self._read(0.1) and self.proc.poll() is not None:
                raise AssertionError(f"ended before showing {text!r}: {self.text[-2000:]!r}")

    def finish(self, timeout_s: float = 240) -> int:
        """Read everything until the command ends; its exit code."""
        deadline = time.monotonic() + timeout_s
        while self._read(0.1) or self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError("the command did not end")
        os.close(self.master)
        return self.proc.wait()

    @property
    def text(self) -> str:
        return ANSI.sub("", self.raw.decode("utf-8", "replace"))
