"""``python -m alphaloop.cli``."""

from alphaloop.cli import run

run()
