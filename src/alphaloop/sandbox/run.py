"""Run user- or LLM-written Python strategy code in a sandbox.

The contract
------------
The code defines, at top level::

    def signal(close, high=None, low=None, volume=None, open=None):
        ...
        return weights

Each input is a ``float64`` array of shape ``(n_times, n_assets)``: rows are
bars in time order (oldest first), columns are assets, missing values are
NaN. ``close`` is always given; the other fields only when the caller has
them, else ``None``. ``signal`` returns target weights or scores of the same
shape, where row ``t`` may use only rows ``<= t`` (a strategy built on it
trades at the next bar, as everywhere in alphaloop; the lookahead scan is the
caller's job). Inside, ``np`` (numpy) and ``math`` are available (importing
them with ``import numpy as np`` / ``import math`` is allowed too).

The output: anything numpy turns into a bool, integer or float array is cast
to ``float64``; another shape (a scalar included) or dtype, or any ``±inf``,
raises :class:`SandboxOutputError`. NaN is kept and means "no signal for
that asset at that bar".

Two lines of defence
--------------------
1. **Static**: :func:`~alphaloop.sandbox.allowlist.check_strategy_code`
   refuses anything outside an allowlist of syntax, names, imports and
   numpy functions, naming the construct and its line
   (:class:`SandboxViolation`), before anything runs.
2. **Dynamic**: the code runs in a separate process (``python -I -S``, an
   empty environment, its own process group, working directory ``/``) that
   receives the code and arrays on stdin and answers on stdout as ``.npy``
   bytes: no file is written. Before the code runs, the child sets
   ``RLIMIT_CPU``, ``RLIMIT_AS``, ``RLIMIT_FSIZE=0``, ``RLIMIT_NOFILE=3``
   (no new file or socket can be opened), ``RLIMIT_NPROC=0`` and no core
   files; gives it only the builtins in
   :data:`~alphaloop.sandbox.allowlist.SAFE_BUILTINS`; and installs an audit
   hook that ends the process on any audited event (file opens, imports,
   sockets, subprocesses, ``os.system``, ``exec*``, ``fork``, ``ctypes``,
   frame access). The parent kills the process group after
   ``wall_seconds``.

Linux only (resource limits and ``/proc``). Known limits: ``RLIMIT_NPROC``
does not bind a process running as root, and an audit hook cannot stop
native memory corruption; for hostile code, run the whole process in a
container without network as well.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal as signals
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np

from alphaloop.sandbox.allowlist import check_strategy_code
from alphaloop.sandbox.errors import (
    SandboxError,
    SandboxInputError,
    SandboxLimitExceeded,
    SandboxOutputError,
    SandboxViolation,
)

__all__ = [
    "INPUT_FIELDS",
    "SandboxError",
    "SandboxInputError",
    "SandboxLimitExceeded",
    "SandboxOutputError",
    "SandboxViolation",
    "check_strategy_code",
    "run_strategy_code",
]

INPUT_FIELDS = ("close", "high", "low", "volume", "open")
"""The panels ``signal`` accepts, by keyword; ``close`` is required."""

_CHILD = Path(__file__).with_name("child.py")
_CHILD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
_EXIT_REFUSED = 3


def run_strategy_code(
    code: str,
    inputs: dict[str, np.ndarray],
    *,
    cpu_seconds: float = 5,
    memory_mb: int = 512,
    wall_seconds: float = 10,
) -> np.ndarray:
    """Check strategy code, run its ``signal`` on ``inputs`` in a sandbox, return the result.

    Parameters
    ----------
    code : str
        Python source defining ``signal`` (see the module docstring for the contract).
    inputs : dict of str to numpy.ndarray
        ``close`` (required) and optionally ``high``, ``low``, ``volume``,
        ``open``: same-shape 2-D arrays (time, asset), cast to ``float64``.
    cpu_seconds : float, default=5
        CPU time the strategy may use, in seconds (rounded up to whole seconds).
    memory_mb : int, default=512
        Address space the strategy may add to the child's own, in MiB.
    wall_seconds : float, default=10
        Wall-clock time of the whole child process, start-up included, in seconds.

    Returns
    -------
    numpy.ndarray
        ``float64``, the shape of ``close``; NaN where ``signal`` gave none.

    Raises
    ------
    SandboxViolation
        The code is outside the allowlist (statically, or its child hit the audit hook).
    SandboxLimitExceeded
        The CPU (``limit="cpu"``), memory (``"memory"``) or wall-clock (``"wall"``) limit.
    SandboxOutputError
        ``signal`` returned a wrong shape or dtype, or infinite values.
    SandboxError
        The strategy code raised (``error_type`` and message, with its line).
        Also when the platform is not Linux.
    SandboxInputError
        ``inputs`` is not a valid panel.
    """
    if not sys.platform.startswith("linux"):
        raise SandboxError(
            f"the strategy-code sandbox needs Linux (this is {sys.platform})",
            hint="run strategy code on Linux, e.g. in a container",
        )
    check_strategy_code(code)
    arrays = _check_inputs(inputs)
    return _run_unchecked(
        code, arrays, cpu_seconds=cpu_seconds, memory_mb=memory_mb, wall_seconds=wall_seconds
    )


def _check_inputs(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    unknown = sorted(set(inputs) - set(INPUT_FIELDS))
    if unknown:
        raise SandboxInputError(f"unknown input fields {unknown}; allowed: {list(INPUT_FIELDS)}")
    if "close" not in inputs:
        raise SandboxInputError("inputs need a 'close' panel")
    arrays: dict[str, np.ndarray] = {}
    shape = np.shape(inputs["close"])
    for name in INPUT_FIELDS:
        if name not in inputs:
            continue
        try:
            array = np.ascontiguousarray(inputs[name], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise SandboxInputError(f"input '{name}' is not numeric: {exc}") from None
        if array.ndim != 2 or array.shape != shape:
            raise SandboxInputError(
                f"input '{name}' has shape {array.shape}; every input must be 2-D "
                f"(time, asset) with the shape of 'close' {shape}"
            )
        arrays[name] = array
    return arrays


def _run_unchecked(
    code: str,
    arrays: dict[str, np.ndarray],
    *,
    cpu_seconds: float,
    memory_mb: int,
    wall_seconds: float,
) -> np.ndarray:
    """Run ``code`` in the child process WITHOUT the static check.

    Only :func:`run_strategy_code` (after the check) and the tests of the
    second line of defence call this directly.
    """
    payloads = []
    for array in arrays.values():
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, array, allow_pickle=False)
        payloads.append(buffer.getvalue())
    header = {
        "code": code,
        "arrays": [[name, len(p)] for name, p in zip(arrays, payloads, strict=True)],
        "cpu_seconds": cpu_seconds,
        "memory_mb": memory_mb,
    }
    head = json.dumps(header).encode()
    request = struct.pack(">Q", len(head)) + head + b"".join(payloads)
    numpy_parent = str(Path(np.__file__).resolve().parent.parent)
    process = subprocess.Popen(
        [sys.executable, "-I", "-S", str(_CHILD), numpy_parent],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_CHILD_ENV,
        cwd="/",
        start_new_session=True,
    )
    try:
        out, err = process.communicate(request, timeout=wall_seconds)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.communicate()
        raise SandboxLimitExceeded(
            "wall",
            f"the strategy ran longer than the wall-clock limit of {wall_seconds} s",
            hint="look for a loop that never ends, or raise wall_seconds",
        ) from None
    finally:
        if process.poll() is None:
            _kill_group(process)
    reply, result = _parse_reply(out)
    if reply is None:
        raise _crash_error(process.returncode, err, cpu_seconds)
    return _interpret(reply, result, arrays["close"].shape, memory_mb)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signals.SIGKILL)
    process.wait()


def _parse_reply(out: bytes) -> tuple[dict | None, np.ndarray | None]:
    if len(out) < 8:
        return None, None
    (size,) = struct.unpack(">Q", out[:8])
    try:
        reply = json.loads(out[8 : 8 + size])
    except ValueError:
        return None, None
    if not isinstance(reply, dict) or reply.get("status") != "ok":
        return reply if isinstance(reply, dict) else None, None
    buffer = io.BytesIO(out[8 + size :])
    try:
        return reply, np.lib.format.read_array(buffer, allow_pickle=False)
    except ValueError:
        return None, None


def _crash_error(returncode: int, err: bytes, cpu_seconds: float) -> SandboxError:
    if returncode in (-signals.SIGXCPU, -signals.SIGKILL):
        return SandboxLimitExceeded(
            "cpu",
            f"the strategy used more than its CPU limit of {cpu_seconds} s",
            hint="look for a loop that never ends, vectorize with numpy, or raise cpu_seconds",
        )
    if returncode == -signals.SIGXFSZ:
        return SandboxViolation("writing a file")
    if b"MemoryError" in err:
        return SandboxLimitExceeded("memory", "the strategy ran out of its memory limit")
    tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
    return SandboxError(f"the strategy process ended with code {returncode}: {tail[0][:300]}")


def _interpret(
    reply: dict, result: np.ndarray | None, shape: tuple[int, ...], memory_mb: int
) -> np.ndarray:
    status = reply.get("status")
    if status == "violation":
        raise SandboxViolation(f"audit event '{reply.get('event')}' at run time")
    if status == "limit":
        raise SandboxLimitExceeded(
            "memory",
            f"the strategy needed more than its memory limit of {memory_mb} MiB",
            hint="avoid (time, time) or (asset, asset, time) intermediates, or raise memory_mb",
        )
    if status == "output":
        raise SandboxOutputError(str(reply.get("message")))
    if status == "error":
        kind, message, line = reply.get("type"), reply.get("message"), reply.get("line")
        where = f" at line {line}" if line else ""
        raise SandboxError(
            f"strategy code raised {kind}{where}: {message}", error_type=kind, line=line
        )
    if result is None:
        raise SandboxError(f"the strategy process sent an unreadable reply ({status!r})")
    if result.shape != shape:
        raise SandboxOutputError(
            f"signal returned shape {result.shape}; it must return the shape of close {shape}"
        )
    if np.isinf(result).any():
        raise SandboxOutputError(
            f"signal returned {int(np.isinf(result).sum())} infinite values",
            hint="return NaN for 'no signal' and keep every other value finite",
        )
    return result
