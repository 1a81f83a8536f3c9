"""Settings: from PROCURE_* variables, safe defaults, no secret defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.core.config import Settings


def test_defaults_are_safe(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PROCURE_VAR", str(tmp_path))
    settings = Settings()
    assert settings.host == "127.0.0.1"
    assert settings.relayer_keystore is None
    assert settings.relayer_keystore_password is None
    assert settings.var_dir == tmp_path
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'ledger.db'}"
    assert settings.evidence_dir == tmp_path / "evidence"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PROCURE_VAR", str(tmp_path))
    monkeypatch.setenv("PROCURE_EVIDENCE_CONTENT_TYPES", "application/pdf, TEXT/PLAIN")
    monkeypatch.setenv("PROCURE_EVIDENCE_MAX_BYTES", "1024")
    monkeypatch.setenv("PROCURE_RELAYER_KEYSTORE_PASSWORD", "s3cret")
    settings = Settings()
    assert settings.evidence_content_types == ("application/pdf", "text/plain")
    assert settings.evidence_max_bytes == 1024
    assert settings.relayer_keystore_password is not None
    assert "s3cret" not in repr(settings)


def test_out_of_range_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCURE_PORT", "70000")
    with pytest.raises(ValueError, match="port"):
        Settings()
