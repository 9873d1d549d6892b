"""The interactive latent map in a real browser: the digit under the cursor on hover, digits at high
zoom, a selection's panel, linked maps, your own digit placed, forged messages, and the plain chart."""

import re

import numpy as np

from core import data
from tests.app_server import wait_for_app
from tests.e2e.conftest import (
    digit_png,
    draw_seven,
    no_exception,
    open_page,
    screenshot,
)

MAIN = "canvas.lm-canvas"


def wait_for_maps(page, count: int = 4) -> None:
    page.locator(f'{MAIN}[data-drawn="10000"]').nth(count - 1).wait_for(timeout=120_000)


def test_hover_shows_the_digit_under_the_cursor(page, app_url):
    open_page(page, app_url, "Latent_Space")
    wait_for_maps(page)
    no_exception(page)
    main = page.locator(MAIN).first
    digits = data.load("mnist", "test")
    for wanted in (int(np.flatnonzero(digits.labels == 4)[0]), int(np.flatnonzero(digits.labels == 0)[3])):
        x, y = main.evaluate("(c, t) => c.latentMap.screenOf(t)", wanted)
        page.mouse.move(x, y)
        card = page.locator(".lm-card.lm-show").first
        card.wait_for(timeout=5_000)
        hovered = int(main.get_attribute("data-hovered"))
        hx, hy = main.evaluate("(c, t) => c.latentMap.screenOf(t)", hovered)
        assert (hx - x) ** 2 + (hy - y) ** 2 <= 10 ** 2  # the point under the cursor (it may hide `wanted`)
        assert card.get_attribute("data-index") == str(hovered)
        assert f"digit {digits.labels[hovered]} · test digit #{hovered}" in card.inner_text()
        shown = page.locator(".lm-card-original canvas").first.evaluate(
            "c => Array.from(c.getContext('2d').getImageData(0, 0, 28, 28).data.filter((_, i) => i % 4 === 0))")
        assert np.array_equal(np.array(shown, dtype=np.uint8).reshape(28, 28), digits.images[hovered])
        assert float(main.get_attribute("data-hover-ms")) < 50
        # linked: the small maps mark the same digit
        assert page.locator(MAIN).nth(1).evaluate("c => c.latentMap.linkedHover()") == hovered
    assert "rebuilt" in page.locator(".lm-card").first.inner_text()  # the model's own map shows its rebuild
    screenshot(page, "latent_map_hover")


def test_zooming_in_turns_dots_into_digits(page, app_url):
    open_page(page, app_url, "Latent_Space")
    wait_for_maps(page)
    main = page.locator(MAIN).first
    assert main.get_attribute("data-mode") == "dots"
    box = main.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -230)  # a plain wheel scrolls the page, as over any map widget, and says how to zoom
    page.locator(".lm-hint.lm-show", has_text="Ctrl").first.wait_for(timeout=5_000)
    assert main.get_attribute("data-mode") == "dots"
    page.keyboard.down("Control")
    for _ in range(4):  # e^(4 * 230 / 500) = 6.3x
        page.mouse.wheel(0, -230)
    page.keyboard.up("Control")
    page.wait_for_function("c => c.dataset.mode === 'sprites'", arg=main.element_handle(), timeout=10_000)
    assert 0 < int(main.get_attribute("data-sprites")) < 10_000  # only the digits in view are drawn
    page.wait_for_timeout(200)
    main.screenshot(path=str(screenshot(page, "latent_map_zoomed").with_name("latent_map_zoomed_map.png")))
    page.locator(".lm-action", has_text="Reset").first.click()
    page.wait_for_function("c => c.dataset.mode === 'dots'", arg=main.element_handle(), timeout=10_000)

    main.focus()  # the keyboard does the same: + zooms (1.5x a press), 0 shows the whole map
    for _ in range(4):
        page.keyboard.press("+")
    page.wait_for_function("c => c.dataset.mode === 'sprites'", arg=main.element_handle(), timeout=10_000)
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("0")
    page.wait_for_function("c => c.dataset.mode === 'dots'", arg=main.element_handle(), timeout=10_000)


def selected_counts(page) -> tuple[list[int], np.ndarray]:
    indices = page.locator(MAIN).first.evaluate("c => c.latentMap.selection()")
    return indices, np.bincount(data.load("mnist", "test").labels[indices], minlength=10)


def test_a_box_selection_fills_the_panel_with_its_digits_and_counts(page, app_url):
    open_page(page, app_url, "Latent_Space")
    wait_for_maps(page)
    main = page.locator(MAIN).first
    page.locator('.lm-tool[data-tool="box"]').first.click()
    zero = int(np.flatnonzero(data.load("mnist", "test").labels == 0)[0])
    x, y = main.evaluate("(c, t) => c.latentMap.screenOf(t)", zero)
    page.mouse.move(x - 40, y - 40)
    page.mouse.down()
    page.mouse.move(x + 40, y + 40, steps=10)
    page.mouse.up()
    page.get_by_text("digits selected").wait_for(timeout=30_000)
    wait_for_app(page)
    no_exception(page)
    indices, counts = selected_counts(page)
    assert zero in indices
    panel = page.locator('[data-testid="stMain"]').inner_text()
    assert f"{len(indices):,} digits selected" in panel
    assert "Selected of each digit: " + " · ".join(f"{d}: {c:,}" for d, c in enumerate(counts) if c) in panel
    assert "rebuilt by ae20" in panel
    # linked: the small maps fade what is not selected, the same set
    assert sorted(page.locator(MAIN).nth(2).evaluate("c => c.latentMap.selection()")) == sorted(indices)
    screenshot(page, "latent_map_selection")

    page.get_by_text("at random").click()  # the other fair sample, same counts
    wait_for_app(page)
    assert f"{len(indices):,} digits selected" in page.locator('[data-testid="stMain"]').inner_text()

    page.locator('.lm-tool[data-tool="lasso"]').first.click()  # a triangle around a 1
    one = int(np.flatnonzero(data.load("mnist", "test").labels == 1)[0])
    x, y = main.evaluate("(c, t) => c.latentMap.screenOf(t)", one)
    page.mouse.move(x, y - 30)
    page.mouse.down()
    for px, py in ((x + 30, y + 25), (x - 30, y + 25), (x, y - 30)):
        page.mouse.move(px, py, steps=6)
    page.mouse.up()
    page.wait_for_function("([c, t]) => c.latentMap.selection().includes(t)", arg=[main.element_handle(), one])
    wait_for_app(page)
    indices, _ = selected_counts(page)
    assert one in indices and 0 < len(indices) < 400
    panel = page.locator('[data-testid="stMain"]').inner_text()
    assert ("Test digit #" if len(indices) == 1 else f"{len(indices):,} digits selected") in panel


def test_a_forged_selection_gets_a_sentence_not_an_exception(page, app_url):
    open_page(page, app_url, "Latent_Space")
    wait_for_maps(page)
    main = page.locator(MAIN).first
    for forged in ({"indices": [10**12, -3]}, {"indices": "all"}, {"indices": [0.5]}):
        main.evaluate("(c, v) => c.latentMap.send(v)", forged)
        page.get_by_text("ignored").first.wait_for(timeout=30_000)
        wait_for_app(page)
        no_exception(page)


def test_your_digit_is_placed_on_every_map_with_its_neighbours(page, app_url):
    open_page(page, app_url, "Latent_Space")
    wait_for_maps(page)
    page.get_by_text("Your own digit on the maps").click()
    three = int(np.flatnonzero(data.load("mnist", "test").labels == 3)[5])
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        [{"name": "three.png", "mimeType": "image/png", "buffer": digit_png(three)}])
    page.get_by_text("Your digit is the black star").wait_for(timeout=60_000)
    wait_for_app(page)
    wait_for_maps(page)
    no_exception(page)
    for i in range(4):
        assert page.locator(MAIN).nth(i).evaluate("c => c.latentMap.own()") is not None
    shown = re.search(r"nearest test digits: ([\d ]+)", page.locator('[data-testid="stMain"]').inner_text())
    assert shown, "no nearest test digits under the map"
    labels = shown.group(1).split()
    assert labels[0] == "3" and labels.count("3") > len(labels) / 2, labels  # a 3 lands among threes
    screenshot(page, "latent_map_own_digit")

    page.get_by_role("tab", name="Draw").click()
    draw_seven(page)
    page.get_by_text("your drawing, as MNIST sees it").wait_for(timeout=60_000)
    wait_for_app(page)
    no_exception(page)
    assert page.locator(MAIN).first.evaluate("c => c.latentMap.own()") is not None


def test_the_plain_chart_stands_in_for_the_map(page, app_url):
    open_page(page, app_url, "Latent_Space")
    wait_for_maps(page)
    page.locator('[data-testid="stSidebar"]').get_by_text("Plain chart").click()
    page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').nth(3).wait_for(timeout=120_000)
    wait_for_app(page)
    no_exception(page)
    assert page.locator(MAIN).count() == 0
    assert page.get_by_text("Click a dot, or choose Box Select").is_visible()
    screenshot(page, "latent_map_plain_chart")


def test_the_map_fits_a_phone_screen(page, app_url):
    page.set_viewport_size({"width": 390, "height": 844})
    open_page(page, app_url, "Latent_Space")
    wait_for_maps(page)
    no_exception(page)
    main = page.locator(MAIN).first
    box = main.bounding_box()
    assert box["width"] <= 390 and box["width"] > 250
    main.scroll_into_view_if_needed()
    screenshot(page, "latent_map_390")


def touch(page, points: list[tuple[float, float]]) -> None:
    """One finger down at the first point, moved through the others, lifted: touch events as a phone sends them."""
    session = page.context.new_cdp_session(page)
    for i, (x, y) in enumerate(points):
        session.send("Input.dispatchTouchEvent", {"type": "touchStart" if i == 0 else "touchMove",
                                                  "touchPoints": [{"x": x, "y": y, "id": 1}]})
    session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    session.detach()


def test_on_a_phone_a_swipe_over_a_map_scrolls_the_page_and_a_tap_picks_a_digit(phone, app_url):
    page = phone
    page.goto(f"{app_url}/Latent_Space")
    wait_for_app(page, timeout=120_000)
    wait_for_maps(page)
    main = page.locator(MAIN).first
    main.scroll_into_view_if_needed()
    box = main.bounding_box()
    view = main.evaluate("c => c.latentMap.view()")
    x = box["x"] + box["width"] / 2
    touch(page, [(x, box["y"] + box["height"] * 0.8 - step * 25) for step in range(13)])  # a swipe up
    page.wait_for_timeout(600)
    assert main.bounding_box()["y"] < box["y"] - 100  # the page moved under the finger
    assert main.evaluate("c => c.latentMap.view()") == view  # the map did not
    digits = data.load("mnist", "test")
    wanted = int(np.flatnonzero(digits.labels == 3)[0])
    main.scroll_into_view_if_needed()
    tx, ty = main.evaluate("(c, t) => c.latentMap.screenOf(t)", wanted)
    touch(page, [(tx + 4, ty + 3)])  # a tap beside the dot: a fingertip is not a cursor
    card = page.locator(".lm-card.lm-show").first
    card.wait_for(timeout=5_000)
    picked = int(card.get_attribute("data-index"))
    px, py = main.evaluate("(c, t) => c.latentMap.screenOf(t)", picked)
    assert (px - tx) ** 2 + (py - ty) ** 2 <= 24 ** 2
    assert page.locator(".lm.lm-engaged").count() == 1  # the tapped map is in use; a drag now moves it
    page.get_by_text(f"Test digit #{picked}").first.wait_for(timeout=60_000)  # the page heard the selection
    no_exception(page)
    screenshot(page, "latent_map_tap_390")
