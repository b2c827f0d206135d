"""The bytes of a CSV file: its beginning in memory, the rest read from disk when needed."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa

from alphaloop.errors import DataReadError

__all__ = ["BOM", "CsvText", "count_newlines", "skip_whitespace"]

# a byte that bytes.strip() keeps
_NOT_WHITESPACE = re.compile(rb"[^ \t\n\r\x0b\x0c]")
BOM = b"\xef\xbb\xbf"
_NUL_WINDOW = 1 << 16  # bytes after the BOM looked at for NUL bytes (binary files)
_HEAD_BYTES = 1 << 17  # first read of a CSV file, enough for the header in practice
_COUNT_BLOCK = 1 << 22  # bytes per block when counting line breaks


class CsvText:
    """The bytes of a CSV file: its beginning in memory, the rest read when needed.

    Arrow reads the rows from the file itself, block by block, so a large
    file is not held in memory whole (reading it into one ``bytes`` costs as
    much as parsing it) except to locate an error. A gzip file is
    decompressed in memory.

    Attributes
    ----------
    path : Path
    head : bytes
        The first bytes of the text: all of them when ``complete``, else at
        least the byte order mark and 64 KiB, the header line and the first
        byte after it that is not whitespace.
    complete : bool
    """

    def __init__(self, path: Path, head: bytes, complete: bool) -> None:
        self.path = path
        self.head = head
        self.complete = complete

    @classmethod
    def read(cls, p: Path) -> CsvText:
        try:
            if p.suffix.lower() == ".gz":
                return cls(p, _gunzip(p, p.read_bytes()), True)
            with p.open("rb") as fh:
                head = fh.read(_HEAD_BYTES)
                more = len(head) == _HEAD_BYTES
                while more and not _head_is_enough(head):
                    chunk = fh.read(max(len(head), _HEAD_BYTES))
                    head += chunk
                    more = bool(chunk)
                complete = not more or not fh.peek(1)
        except OSError as exc:
            raise DataReadError(f"{p}: cannot be read ({exc.strerror or exc})") from exc
        return cls(p, head, complete)

    def whole(self) -> bytes:
        """The whole text (read now if only its beginning was)."""
        if not self.complete:
            try:
                self.head = self.path.read_bytes()
            except OSError as exc:
                raise DataReadError(f"{self.path}: cannot be read ({exc.strerror or exc})") from exc
            self.complete = True
        return self.head

    def rows(self, begin: int) -> pa.NativeFile:
        """The text from offset ``begin`` on, for Arrow's CSV reader."""
        if self.complete:
            return pa.BufferReader(pa.py_buffer(self.head).slice(begin))
        try:
            stream = pa.OSFile(str(self.path))
        except OSError as exc:
            raise DataReadError(f"{self.path}: cannot be read ({exc})") from exc
        stream.seek(begin)
        return stream

    def count_newlines(self, begin: int) -> int:
        """Line breaks from offset ``begin`` to the end."""
        if self.complete:
            return count_newlines(self.head, begin)
        buf = np.empty(_COUNT_BLOCK, dtype=np.uint8)
        n = 0
        with self.path.open("rb", buffering=0) as fh:
            fh.seek(begin)
            while k := fh.readinto(buf):  # type: ignore[attr-defined]
                n += int(np.count_nonzero(buf[:k] == ord("\n")))
        return n

    def ends_with_newline(self) -> bool:
        if self.complete:
            return self.head.endswith(b"\n")
        with self.path.open("rb") as fh:
            fh.seek(0, 2)
            if not fh.tell():
                return False
            fh.seek(-1, 2)
            return fh.read(1) == b"\n"


def _gunzip(p: Path, data: bytes) -> bytes:
    import gzip

    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataReadError(f"{p}: not a valid gzip file ({exc})") from exc


def _head_is_enough(head: bytes) -> bool:
    """True when ``head`` holds everything the checks before parsing look at."""
    start = 3 if head.startswith(BOM) else 0
    if len(head) < start + _NUL_WINDOW:
        return False
    first = skip_whitespace(head, start)
    newline = head.find(b"\n", first)
    if first == len(head) or newline < 0:
        return False
    return skip_whitespace(head, newline + 1) < len(head)


def skip_whitespace(raw: bytes, pos: int) -> int:
    """Offset of the first byte at or after ``pos`` that is not whitespace (or ``len(raw)``)."""
    m = _NOT_WHITESPACE.search(raw, pos)
    return len(raw) if m is None else m.start()


def count_newlines(raw: bytes, begin: int, block: int = _COUNT_BLOCK) -> int:
    """``raw.count(b"\\n", begin)``, faster: numpy over blocks of ``block`` bytes."""
    buf = np.frombuffer(raw, dtype=np.uint8, offset=begin)
    return sum(
        int(np.count_nonzero(buf[i : i + block] == ord("\n"))) for i in range(0, len(buf), block)
    )
