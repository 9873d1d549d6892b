"""The Latent space page's plain (plotly) chart and the Anomaly page in a real browser: maps,
selections that show digits, the method switch, the anomaly charts, an upload and a drawing scored
against the threshold. The interactive map has its own tests (test_latent_map_e2e.py)."""

from core import data, latent
from tests.app_server import wait_for_app
from tests.e2e.conftest import digit_png, draw_seven, no_exception, open_page, screenshot

MAIN_MAP = '[data-testid="stPlotlyChart"] .js-plotly-plot'

# Where a point of the first map is on the screen: plotly's axes convert data to pixels.
POINT_ON_SCREEN = f"""([trace, index]) => {{
    const chart = document.querySelector('{MAIN_MAP}');
    const data = chart._fullData[trace], xa = chart._fullLayout.xaxis, ya = chart._fullLayout.yaxis;
    const rect = chart.getBoundingClientRect();
    return [rect.left + xa._offset + xa.d2p(data.x[index]), rect.top + ya._offset + ya.d2p(data.y[index])];
}}"""

MAP_TRACE_SIZES = f"""() => document.querySelector('{MAIN_MAP}')._fullData.map(t => t.x.length)"""


def wait_for_maps(page, count: int) -> None:
    page.wait_for_function(f"() => document.querySelectorAll('{MAIN_MAP}').length >= {count}", timeout=120_000)


def open_plain_chart(page, app_url) -> None:
    """The Latent space page with its plain charts, as a browser without the interactive map sees it."""
    open_page(page, app_url, "Latent_Space")
    page.locator('[data-testid="stSidebar"]').get_by_text("Plain chart").click()
    wait_for_app(page)


def test_map_selections_show_digits_and_reconstructions(page, app_url):
    open_plain_chart(page, app_url)
    wait_for_maps(page, 4)  # the main map and raw pixels vs ae2 vs ae20
    no_exception(page)
    assert sum(page.evaluate(MAP_TRACE_SIZES)) == 10_000
    assert page.get_by_text("Click a dot, or choose Box Select").is_visible()
    screenshot(page, "latent_default")
    page.get_by_text("Trustworthiness", exact=True).last.scroll_into_view_if_needed()
    screenshot(page, "latent_comparison")

    x, y = page.evaluate(POINT_ON_SCREEN, [4, 0])  # the first 4 on the map
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    page.get_by_text("Test digit #").wait_for(timeout=30_000)
    page.get_by_text("rebuilt by ae20").wait_for(timeout=30_000)
    wait_for_app(page)
    no_exception(page)
    screenshot(page, "latent_click")

    page.locator(MAIN_MAP).first.hover()
    page.locator('.modebar-btn[data-title="Box Select"]').first.click()
    x, y = page.evaluate(POINT_ON_SCREEN, [0, 0])  # a box around the first 0
    page.mouse.move(x - 40, y - 40)
    page.mouse.down()
    page.mouse.move(x + 40, y + 40, steps=10)
    page.mouse.up()
    page.get_by_text("digits selected").wait_for(timeout=30_000)
    page.get_by_text("rebuilt by ae20").wait_for(timeout=30_000)
    wait_for_app(page)
    no_exception(page)
    panel = page.locator('[data-testid="stMain"]').inner_text()
    assert "0s" in panel and "rebuilt by ae20" in panel
    screenshot(page, "latent_selection")


def test_switching_to_pca_redraws_the_map(page, app_url):
    open_plain_chart(page, app_url)
    wait_for_maps(page, 4)
    before = page.evaluate(POINT_ON_SCREEN, [0, 0])
    page.locator('[data-testid="stSidebar"]').get_by_text("PCA").click()
    page.get_by_role("heading", name="PCA of ae20").wait_for(timeout=60_000)
    wait_for_app(page)
    wait_for_maps(page, 4)
    no_exception(page)
    assert page.evaluate(POINT_ON_SCREEN, [0, 0]) != before
    assert "PC 1" in page.locator(MAIN_MAP).first.inner_text()
    screenshot(page, "latent_pca")


def test_recomputing_a_map_shows_progress_and_keeps_the_map(page, app_url):
    digits = data.load("mnist", "test")
    name = latent.map_file_name(latent.PIXELS, None, "tsne", 1_000, latent.DEFAULT_PERPLEXITY,
                                latent.digits_fingerprint(digits))
    (latent.map_cache_dir() / name).unlink(missing_ok=True)  # the server shares this cache folder
    open_plain_chart(page, app_url)
    wait_for_maps(page, 4)
    page.locator(".st-key-lat_space").click()
    page.get_by_role("option", name="raw pixels").click()
    page.get_by_role("heading", name="t-SNE of raw pixels").wait_for(timeout=60_000)
    wait_for_app(page)
    page.locator('.st-key-lat_points input[type="range"]').press("Home")  # 1,000 points
    page.get_by_text("Arranging points").wait_for(timeout=60_000)  # the progress bar's text
    screenshot(page, "latent_recompute_progress")
    wait_for_app(page, timeout=300_000)
    wait_for_maps(page, 4)
    no_exception(page)
    assert sum(page.evaluate(MAP_TRACE_SIZES)) == 1_000
    assert (latent.map_cache_dir() / name).is_file()


def test_anomaly_page_scores_uploads_and_drawings(page, app_url):
    open_page(page, app_url, "Anomaly")
    page.locator('[data-testid="stPlotlyChart"] .main-svg').nth(1).wait_for(timeout=60_000)
    wait_for_app(page)  # the charts can be drawn before the run has written everything else
    no_exception(page)
    main = page.locator('[data-testid="stMain"]')
    assert "ROC AUC" in main.inner_text() and "digit 7 (known)" in main.inner_text()
    screenshot(page, "anomaly")

    two = int((data.load("mnist", "test").labels == 2).argmax())
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        [{"name": "two.png", "mimeType": "image/png", "buffer": digit_png(two)}])
    page.get_by_text("Anomaly score", exact=True).wait_for(timeout=60_000)
    wait_for_app(page)
    no_exception(page)
    assert "two.png, as MNIST sees it" in main.inner_text()

    page.get_by_role("tab", name="Draw").click()
    draw_seven(page)
    page.get_by_text("your drawing, as MNIST sees it").wait_for(timeout=60_000)
    wait_for_app(page)
    no_exception(page)
    assert page.get_by_text("Anomaly score", exact=True).count() == 1  # the drawing's; the closed Upload tab does not run
    page.get_by_text("your drawing, as MNIST sees it").scroll_into_view_if_needed()
    screenshot(page, "anomaly_upload_and_drawing")
