"""The service refuses to start without a strong secret, and with half a TLS pair."""

from __future__ import annotations

from pathlib import Path

import pytest

from alphaloop.api.errors import ServiceConfigError
from alphaloop.api.server import check_tls
from alphaloop.api.settings import MIN_SECRET_CHARS, load_settings
from tests.api.conftest import STRONG_SECRET


def test_no_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALPHALOOP_API_SECRET", raising=False)
    with pytest.raises(ServiceConfigError, match=r"ALPHALOOP_API_SECRET.*no secret"):
        load_settings()


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        ("short-but-random-9f3K", f"at least {MIN_SECRET_CHARS}"),
        ("changeme" * 4, "distinct characters|well-known"),
        ("a" * 64, "distinct characters"),
        ("secret" * 6, "distinct characters|well-known"),
    ],
)
def test_weak_secrets_are_refused(secret: str, why: str) -> None:
    with pytest.raises(ServiceConfigError, match=why):
        load_settings(secret=secret)


def test_the_secret_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPHALOOP_API_SECRET", STRONG_SECRET)
    settings = load_settings()
    assert settings.secret.get_secret_value() == STRONG_SECRET
    assert STRONG_SECRET not in repr(settings)  # never printed
    assert settings.cors_origins == []  # CORS closed by default


def test_bad_values_name_the_variable() -> None:
    with pytest.raises(ServiceConfigError, match="ALPHALOOP_API_RATE_PER_S"):
        load_settings(secret=STRONG_SECRET, rate_per_s=-1)


def test_tls_needs_both_files_and_real_ones(tmp_path: Path) -> None:
    assert check_tls(None, None) is None
    with pytest.raises(ServiceConfigError, match="both"):
        check_tls(tmp_path / "c.pem", None)
    with pytest.raises(ServiceConfigError, match="does not exist"):
        check_tls(tmp_path / "c.pem", tmp_path / "k.pem")
    (tmp_path / "c.pem").write_text("not a certificate")
    (tmp_path / "k.pem").write_text("not a key")
    with pytest.raises(ServiceConfigError, match="cannot load"):
        check_tls(tmp_path / "c.pem", tmp_path / "k.pem")
