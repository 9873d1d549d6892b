"""The home page in a real browser: it renders, lists every model, and links to the pages."""

from core.registry import list_models
from tests.e2e.conftest import no_exception, open_page, screenshot


def test_home_lists_models_and_links(page, app_url):
    open_page(page, app_url)
    no_exception(page)
    assert page.get_by_role("heading", name="Autoencoder Lab").is_visible()
    text = page.locator('[data-testid="stMain"]').inner_text()
    for name in list_models():
        assert name in text
    assert "10,000 test digits" in text
    screenshot(page, "home")
