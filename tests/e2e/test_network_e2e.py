"""Inside the network in a real browser: a drawing goes through the diagram, a VAE's ellipse and loss bars
follow it, and on a phone the row of layers scrolls inside its box and a layer is picked by touch."""

from urllib.parse import parse_qs, urlparse

from tests.app_server import wait_for_app
from tests.e2e.conftest import draw_seven, no_exception, open_page, screenshot
from tests.e2e.test_touch_drawing_e2e import touch_seven

DIAGRAM_SHOWN = """() => {
    const pictures = [...document.querySelectorAll('.net-diagram img')];
    return pictures.length > 4 && pictures.every(p => p.complete && p.naturalWidth > 0);
}"""


def test_a_drawing_fills_the_diagram_the_ellipse_and_the_loss_bars(page, app_url):
    open_page(page, app_url, "Inside_the_network?net_model=vae2&net_source=Draw")
    draw_seven(page)
    page.wait_for_function(DIAGRAM_SHOWN, timeout=60_000)
    page.get_by_text("Negative ELBO", exact=True).wait_for(timeout=60_000)
    page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').wait_for(timeout=60_000)
    wait_for_app(page)
    no_exception(page)
    assert page.get_by_text("your drawing").first.is_visible()
    assert page.locator(".net-col.net-code").count() == 1
    screenshot(page, "network-vae2-1280")


def test_on_a_phone_the_layers_scroll_in_their_row_and_a_tap_picks_one(phone, app_url):
    open_page(phone, app_url, "Inside_the_network?net_model=conv&net_source=Draw")
    touch_seven(phone)
    phone.wait_for_function(DIAGRAM_SHOWN, timeout=60_000)
    wait_for_app(phone)
    no_exception(phone)
    row = phone.locator(".net-diagram")
    widths = row.evaluate("r => [r.scrollWidth, r.clientWidth, document.documentElement.scrollWidth]")
    assert widths[0] > widths[1] and widths[2] <= 390  # the row scrolls inside its box; the page does not
    row.evaluate("r => r.scrollBy(200, 0)")
    swiped = row.evaluate("r => r.scrollLeft")
    column = phone.locator('.net-col[data-layer="encoder.0"]')
    column.scroll_into_view_if_needed()
    column.tap()  # a tap on the layer itself picks it
    phone.get_by_text("Slides 16 learnt 3x3 filters").wait_for(timeout=30_000)
    wait_for_app(phone)
    no_exception(phone)
    assert phone.locator('[data-testid="stMetricValue"]').nth(1).inner_text() == "160"
    assert phone.locator('.net-col[data-layer="encoder.0"]').get_attribute("aria-pressed") == "true"
    assert parse_qs(urlparse(phone.url).query)["net_layer"][0].startswith("encoder.0 ")  # the picker followed
    assert swiped > 0
    phone.locator(".net-diagram").scroll_into_view_if_needed()
    screenshot(phone, "network-conv-390")


def test_a_layer_picked_inside_the_fragment_is_in_link_to_this_view(page, app_url):
    """The layer picker reruns only the page's fragment; the popover still gives the address with it."""
    open_page(page, app_url, "Inside_the_network?net_model=conv")
    page.wait_for_function(DIAGRAM_SHOWN, timeout=60_000)
    picker = page.locator(".st-key-net_layer")
    picker.locator("input").click()
    page.get_by_role("option", name="encoder.0 · Conv2d · 16 x 28 x 28").click()
    page.get_by_text("Slides 16 learnt 3x3 filters").wait_for(timeout=30_000)
    wait_for_app(page)
    page.wait_for_function("() => (new URLSearchParams(location.search).get('net_layer') || '').startsWith('encoder.0')",
                           timeout=15_000)
    page.get_by_role("button", name="Link to this view").click()
    field = page.get_by_label("The address of this view")
    field.wait_for(timeout=15_000)
    page.wait_for_function("f => f.value === location.href", arg=field.element_handle(), timeout=5_000)
    assert parse_qs(urlparse(field.input_value()).query)["net_layer"][0].startswith("encoder.0 ")
    page.get_by_role("button", name="Copy link").click()
    page.get_by_role("button", name="Copied").wait_for(timeout=5_000)  # the clipboard, or select-and-copy without it
    no_exception(page)
