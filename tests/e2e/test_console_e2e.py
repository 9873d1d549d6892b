"""The browser console stays clean: every page, opened by its own address, logs no error and no
failed request."""

import re
from urllib.parse import urlparse

import pytest

from tests.app_server import wait_for_app
from tests.e2e.conftest import no_exception
from ui.pages import PAGES

# Streamlit's own frontend, opened at /Denoising, first asks /Denoising/_stcore/health and
# /Denoising/_stcore/host-config in case the app is served under that path, then the root: two
# 404s per deep link that no app setting avoids (frontend's getPossibleBaseUris).
BASE_PATH_PROBE = re.compile(r"^/[^/]+/_stcore/(health|host-config)$")


@pytest.mark.parametrize("entry", PAGES, ids=lambda entry: entry.url_path)
def test_a_deep_linked_page_logs_no_error(page, app_url, entry):
    errors, failed = [], []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("response", lambda response: failed.append(f"{response.status} {urlparse(response.url).path}")
            if response.status >= 400 and not BASE_PATH_PROBE.match(urlparse(response.url).path) else None)
    page.on("requestfailed", lambda request: failed.append(f"failed {request.url}"))
    page.goto(f"{app_url}/{entry.url_path}")
    page.get_by_role("heading", level=1).first.wait_for(timeout=120_000)
    wait_for_app(page, timeout=120_000)
    page.wait_for_timeout(1_000)  # late image and component loads
    no_exception(page)
    # the probes' 404s are logged as console errors too ("Failed to load resource: ... 404")
    errors = [e for e in errors if "404" not in e or failed]
    assert failed == [] and errors == []
