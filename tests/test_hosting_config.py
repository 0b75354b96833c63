"""The shipped server settings (.streamlit/config.toml) that hosting for strangers relies on."""
import tomllib

from apptest_helpers import ROOT
from ui.weights_io import MAX_FILE_BYTES

SETTINGS = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())


def test_errors_show_no_traceback_or_server_paths():
    assert SETTINGS["client"]["showErrorDetails"] in ("type", "none")


def test_uploads_are_capped_and_need_the_sessions_token():
    assert SETTINGS["server"]["maxUploadSize"] * 2**20 == MAX_FILE_BYTES
    assert SETTINGS["server"]["enableXsrfProtection"] is True
