"""What the benchmark scripts share: facts about the machine and writing their docs section."""

from __future__ import annotations

import platform
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        m = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
    except OSError:
        m = None
    return m.group(1).strip() if m else (platform.processor() or platform.machine())


def memory_total() -> str:
    """Installed memory in GiB (from /proc/meminfo), or "unknown"."""
    try:
        m = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
    except OSError:
        m = None
    return f"{int(m.group(1)) / 2**20:.1f} GiB" if m else "unknown"


def write_docs_section(text: str, start: str, end: str) -> None:
    """Replace the section between ``start`` and ``end`` of docs/benchmarks.md (append it)."""
    current = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(current):
        updated = pattern.sub(lambda _: text, current)
    else:
        updated = current.rstrip("\n") + "\n\n" + text + "\n"
    DOCS.write_text(updated)
    print(f"wrote {DOCS.relative_to(ROOT)}", file=sys.stderr)
