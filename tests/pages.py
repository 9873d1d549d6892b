"""Opening a page of the app in AppTest, as a visitor would: the home page first, then the page."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def open_app_page(page: str, session_state: dict | None = None, query_params: dict | None = None,
                  timeout: float = 60) -> AppTest:
    """A fresh session on `page` (a file under pages/) after its first run, with widget values set
    in `session_state` or arriving through a link's `query_params`; fails on an exception."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.run()
    at.switch_page(page)
    for key, value in (session_state or {}).items():
        at.session_state[key] = value
    for key, value in (query_params or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception[0].value
    return at
