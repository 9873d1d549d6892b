""""Link to this view" keeps its promise: a view's URL, opened in a fresh browser, draws the same view."""

import difflib
from urllib.parse import parse_qs, urlparse

import pytest

from tests.app_server import wait_for_app
from tests.e2e.conftest import no_exception, open_page

MAIN = '[data-testid="stMain"]'
CHARTS_DRAWN = "[data-testid=stMain] .js-plotly-plot .main-svg"


def drawn(page) -> tuple[str, list[str]]:
    """What the main pane shows: its text and the sources of its pictures, in order."""
    main = page.locator(MAIN)
    sources = main.locator('[data-testid="stImage"] img').evaluate_all("imgs => imgs.map(i => i.src.split('/').pop())")
    return main.inner_text(), sources


def nudge_slider(page, label: str, presses: int) -> None:
    """Move a slider by keyboard, as a visitor can, and wait for the page's rerun."""
    slider = page.get_by_role("slider").and_(page.locator(f'[aria-label="{label}"]'))
    slider.focus()
    for _ in range(presses):
        page.keyboard.press("ArrowRight")
    slider.blur()  # a focused slider shows its range's ends, which a fresh page does not
    wait_for_app(page)


@pytest.mark.parametrize("path, setup, key", [
    ("Reconstruction?rec_tab=Worst+digits&rec_worst_model=conv", lambda p: nudge_slider(p, "How many", 4), "rec_worst_n"),
    ("Anomaly", lambda p: p.get_by_text("Other digits it finds most like a 7").click(), "an_gallery"),
    ("Denoising?den_pick=One+class&den_class=4",
     lambda p: p.get_by_role("button", name="New digits and noise").click(), "den_seed"),
])
def test_a_changed_view_reopens_the_same_in_a_fresh_browser(browser, page, app_url, path, setup, key):
    open_page(page, app_url, path)
    setup(page)
    wait_for_app(page)
    no_exception(page)
    page.wait_for_function(f"() => new URLSearchParams(location.search).has('{key}')", timeout=15_000)
    url = page.url
    shown = drawn(page)

    fresh = browser.new_context()  # no cookies, no session: as whoever the link is sent to
    try:
        other = fresh.new_page()
        other.goto(url)
        wait_for_app(other)
        other.wait_for_function("n => document.querySelectorAll('[data-testid=stMain] [data-testid=stImage] img').length >= n",
                                arg=len(shown[1]), timeout=30_000)
        other.wait_for_function(f"n => document.querySelectorAll('{CHARTS_DRAWN}').length >= n",
                                arg=page.locator(CHARTS_DRAWN).count(), timeout=30_000)  # their axes are text too
        no_exception(other)
        again = drawn(other)
        assert again[1] == shown[1]
        assert again[0] == shown[0], "\n".join(difflib.unified_diff(shown[0].splitlines(), again[0].splitlines()))
        assert parse_qs(urlparse(other.url).query) == parse_qs(urlparse(url).query)  # nothing dropped
        assert "which this page cannot show" not in other.locator(MAIN).inner_text()
    finally:
        fresh.close()


def test_a_map_selection_in_a_link_is_selected_in_a_fresh_browser(page, app_url):
    from pathlib import Path

    from core import latent, latent_view

    shipped = latent.load_map(next(Path("checkpoints/embeddings").glob("ae20-tsne-10000-p30-*.npz")))
    token = latent_view.selection_token(shipped.indices[:25], shipped.indices)
    open_page(page, app_url, f"Latent_Space?lat_sel={token}")
    page.get_by_text("25 digits selected").wait_for(timeout=60_000)
    no_exception(page)
    assert parse_qs(urlparse(page.url).query)["lat_sel"] == [token]  # kept for the next link
