"""The bus package's face: every public name resolves; redis loads only for a RedisBus."""

from __future__ import annotations

import subprocess
import sys

from alphaloop.live import bus


def test_all_names_resolve_to_their_home_module() -> None:
    assert sorted(bus.__all__) == sorted(bus._HOME)
    for name in bus.__all__:
        assert getattr(bus, name) is getattr(sys.modules[bus._HOME[name]], name), name


def test_redis_is_imported_only_when_a_redis_bus_is_made() -> None:
    code = (
        "import sys\n"
        "from alphaloop.live.bus import *\n"
        "bus = InProcessBus()\n"
        "print('redis' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "False"
