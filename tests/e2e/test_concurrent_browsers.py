"""Several people at once in real browsers: separate sessions on different pages all render, and
what one person does never shows up in another's tab."""

import pytest

from tests.app_server import VIEWPORT, wait_for_app
from tests.e2e.conftest import no_exception, screenshot

# URL path -> a text the page's main area shows once it has rendered
VISITS = {
    "Reconstruction": "Originals",
    "Generate": "latent space",
    "Latent_Space": "Raw pixels vs a 2-D code",
    "Anomaly": "anomaly score",
}


@pytest.fixture
def tabs(browser):
    """Four browser contexts (four people: own cookies, own Streamlit session), closed afterwards."""
    contexts = [browser.new_context(viewport=VIEWPORT) for _ in VISITS]
    yield [context.new_page() for context in contexts]
    for context in contexts:
        context.close()


def open_all_at_once(tabs, app_url: str, paths) -> None:
    """Send every tab to its page before waiting for any, so the server runs them side by side."""
    for tab, path in zip(tabs, paths):
        tab.goto(f"{app_url}/{path}", wait_until="commit")
    for tab in tabs:
        wait_for_app(tab, timeout=180_000)


def test_four_people_on_four_pages_at_once(tabs, app_url):
    for wave in ("first visit", "reload"):
        open_all_at_once(tabs, app_url, VISITS)
        for tab, (path, text) in zip(tabs, VISITS.items()):
            no_exception(tab)
            main = tab.locator('[data-testid="stMain"]')
            assert text in main.inner_text(), f"{path} ({wave})"
            assert not main.locator('[data-testid="stAlertContentError"]').count(), f"{path} ({wave})"
    for tab, path in zip(tabs, VISITS):
        screenshot(tab, f"concurrent-{path.lower()}")


def test_one_persons_controls_never_move_anothers_page(tabs, app_url):
    first, second = tabs[:2]
    open_all_at_once([first, second], app_url, ["Reconstruction", "Reconstruction"])
    image = '[data-testid="stMain"] [data-testid="stImage"] img'
    before = second.locator(image).first.get_attribute("src")
    assert first.locator(image).first.get_attribute("src") == before  # same seed, same digits
    first.get_by_role("button", name="New random digits").click()
    first.wait_for_function(f"src => document.querySelector('{image}').src !== src", arg=before, timeout=30_000)
    second.reload()
    wait_for_app(second)
    assert second.locator(image).first.get_attribute("src") == before
    no_exception(first)
    no_exception(second)
