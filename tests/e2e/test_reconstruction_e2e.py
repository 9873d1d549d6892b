"""The Reconstruction page in a real browser: grid, comparison, worst digits, codes."""

from tests.app_server import wait_for_app
from tests.e2e.conftest import no_exception, open_page, screenshot


def test_reconstruction_page_renders_every_tab(page, app_url):
    open_page(page, app_url, "Reconstruction")
    no_exception(page)
    main = page.locator('[data-testid="stMain"]')
    assert "Originals" in main.inner_text()
    images = main.locator('[data-testid="stImage"] img')
    images.nth(4).wait_for(timeout=30_000)  # originals + four models
    assert images.count() >= 5
    assert images.first.evaluate("img => img.naturalWidth") > 28  # drawn upscaled, not blurred
    screenshot(page, "reconstruction-grid")

    for tab, expected in [("Compare models", "Error per digit class"), ("Worst digits", "rebuilds worst"),
                          ("Codes", "turns each 784-pixel digit"), ("Layers", "parameters"),
                          ("BCE vs MSE", "binary cross-entropy")]:
        page.get_by_role("tab", name=tab).click()  # the page reruns to draw the tab picked
        main.get_by_text(expected).first.wait_for(timeout=30_000)
        wait_for_app(page)
        assert expected in main.inner_text(), tab
        no_exception(page)
        if tab in ("Compare models", "Codes"):
            assert main.locator(".js-plotly-plot").count() >= 1
        screenshot(page, f"reconstruction-{tab.lower().replace(' ', '-')}")


def test_new_random_digits_change_the_picture(page, app_url):
    open_page(page, app_url, "Reconstruction")
    first = page.locator('[data-testid="stMain"] [data-testid="stImage"] img').first.get_attribute("src")
    page.get_by_role("button", name="New random digits").click()
    wait_for_app(page)
    page.wait_for_function(
        "src => document.querySelector('[data-testid=\"stMain\"] [data-testid=\"stImage\"] img').src !== src",
        arg=first, timeout=15_000)
    no_exception(page)
