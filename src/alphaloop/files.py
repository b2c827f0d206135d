"""Files and directories written atomically, with the permissions of any new file.

:func:`tempfile.mkstemp` creates files with mode 0o600 and
:func:`tempfile.mkdtemp` directories with 0o700; renamed into place, they
would leave reports, exported factor values and model directories readable by
their owner only. These helpers create the temporary file or directory with
0o666 / 0o777, so the process umask decides, as for a file written with
``open(path, "w")`` (0o644 and 0o755 with the usual umask 022).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["create_temp_dir", "create_temp_file", "write_atomic"]


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}{suffix}")


def create_temp_file(path: Path, suffix: str = ".tmp") -> tuple[int, Path]:
    """A new, empty file next to ``path`` (hidden, unique), opened for writing.

    Returns the file descriptor and the path; rename it onto ``path`` when
    it is complete. Created with 0o666 less the umask.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = _sibling(path, suffix)
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue


def create_temp_dir(path: Path, suffix: str = ".tmp") -> Path:
    """A new, empty directory next to ``path`` (hidden, unique); 0o777 less the umask."""
    while True:
        tmp = _sibling(path, suffix)
        try:
            tmp.mkdir(0o777)
            return tmp
        except FileExistsError:
            continue


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` through a temporary file renamed into place.

    Readers see the old file or the new one, never a part. The directory is
    created if needed. The file gets the permissions of any new file (0o666
    less the process umask). On any failure the old file is left as it was
    and the temporary file is removed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = create_temp_file(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
