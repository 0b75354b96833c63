"""tests/e2e/conftest.py picks the browser: a named binary, else the system's, else Playwright's."""
import os
import stat

import pytest

from tests.e2e import conftest as e2e


@pytest.fixture
def no_system_chromium(monkeypatch, tmp_path):
    monkeypatch.setattr(e2e, "CHROMIUM", str(tmp_path / "absent"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(e2e.CHROMIUM_ENV, raising=False)
    return tmp_path


def test_without_a_system_chromium_playwrights_own_is_used(no_system_chromium):
    assert e2e.chromium_executable() is None


def test_an_environment_variable_names_the_binary(no_system_chromium, monkeypatch):
    binary = no_system_chromium / "my-chromium"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv(e2e.CHROMIUM_ENV, str(binary))
    assert e2e.chromium_executable() == str(binary)
    monkeypatch.setenv(e2e.CHROMIUM_ENV, str(no_system_chromium / "missing"))
    with pytest.raises(pytest.UsageError, match="not an executable"):
        e2e.chromium_executable()


@pytest.mark.skipif(not os.access("/usr/bin/chromium", os.X_OK), reason="no Debian Chromium here")
def test_the_system_chromium_is_used_when_it_exists(monkeypatch):
    monkeypatch.delenv(e2e.CHROMIUM_ENV, raising=False)
    assert e2e.chromium_executable() == "/usr/bin/chromium"
