"""The Generate page in Chromium: the browser's decoder gives PyTorch's pixels, a drag morphs the
digit before the mouse is released, and Python and the browser agree on the code afterwards."""

import math
import re
import time

import numpy as np
import pytest
from playwright.sync_api import expect

from core import checkpoints, inference
from tests.app_server import wait_for_app
from tests.e2e.conftest import no_exception, open_page, screenshot

PARITY_TOLERANCE = 1e-4


def open_tab(page, app_url, tab: str) -> None:
    open_page(page, app_url, f"Generate?gen_tab={tab.replace(' ', '+')}")
    no_exception(page)


def digit_canvas(page, pad: str):
    """The digit of a live pad, once its decoder has arrived and drawn a first frame."""
    canvas = page.locator(f'[data-pad="{pad}"] canvas.lp-digit')  # CSS locators pierce the shadow root
    expect(canvas).not_to_have_attribute("data-frames", "0", timeout=30_000)
    return canvas


def pixels(canvas) -> np.ndarray:
    return np.array(canvas.evaluate("c => c.latentPad.pixels()"))


def frames(canvas) -> int:
    return int(canvas.get_attribute("data-frames"))


def wait_for_new_code(page, canvas, old: list[float], timeout: float = 15.0) -> list[float]:
    """The pad's code once it differs from `old` (Python sets it in a rerun, then the pad applies it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        z = canvas.evaluate("c => c.latentPad.latent()")
        if z != old:
            return z
        page.wait_for_timeout(50)
    raise AssertionError(f"the pad kept the code {old}")


def plain_slider_values(page, key: str, size: int) -> list[float]:
    return [float(page.locator(f".st-key-{key}_slider{i} [data-testid='stSliderThumbValue']").inner_text())
            for i in range(size)]


@pytest.mark.parametrize("tab, pad, name, label", [
    ("Live sliders", "gen_vae", "vae", None),
    ("Live sliders", "gen_vae2", "vae2", None),
    ("Pick a digit", "gen_cvae", "cvae", 7),
])
def test_browser_decoder_matches_pytorch(page, app_url, tab, pad, name, label):
    open_tab(page, app_url, tab)
    canvas = digit_canvas(page, pad)
    model, _ = checkpoints.load(name)
    size = model.code_shape[0]
    rng = np.random.default_rng(0)
    codes = [np.zeros(size), np.full(size, 2.5), np.full(size, -2.5), *rng.normal(scale=1.5, size=(4, size))]
    for z in codes:
        decoded = np.array(canvas.evaluate("(c, z) => c.latentPad.setLatent(z)", z.tolist()))
        expected = inference.decode(model, z, label).ravel()
        assert np.abs(decoded - expected).max() < PARITY_TOLERANCE, z


def test_slider_input_events_decode_the_code_they_set(page, app_url):
    open_tab(page, app_url, "Live sliders")
    canvas = digit_canvas(page, "gen_vae")
    model, _ = checkpoints.load("vae")
    for index, value in [(3, "1.5"), (0, "-2.25"), (15, "2.8")]:
        page.locator(f'[data-pad="gen_vae"] input[data-index="{index}"]').evaluate(
            "(s, v) => { s.value = v; s.dispatchEvent(new Event('input', {bubbles: true})); }", value)
    z = np.array(canvas.evaluate("c => c.latentPad.latent()"))
    assert (z[3], z[0], z[15]) == (1.5, -2.25, 2.8)
    assert np.abs(pixels(canvas) - inference.decode(model, z).ravel()).max() < PARITY_TOLERANCE


def drag(page, canvas, start, end, steps: int) -> tuple[np.ndarray, float]:
    """Press at start, move to end in steps and stay pressed; returns (pixels mid-drag, decodes per second)."""
    page.mouse.move(*start)
    page.mouse.down()
    first = frames(canvas)
    began = time.perf_counter()
    for i in range(1, steps + 1):
        t = i / steps
        page.mouse.move(start[0] + (end[0] - start[0]) * t, start[1] + (end[1] - start[1]) * t)
    rate = (frames(canvas) - first) / (time.perf_counter() - began)
    return pixels(canvas), rate


def test_dragging_the_pad_morphs_the_digit_before_release(page, app_url):
    open_tab(page, app_url, "Live sliders")
    canvas = digit_canvas(page, "gen_vae2")
    pad = page.locator('[data-pad="gen_vae2"] canvas.lp-pad')
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.move(*centre)
    page.mouse.down()
    at_centre = pixels(canvas)
    page.mouse.up()
    wait_for_app(page)

    corner = (box["x"] + box["width"] * 0.85, box["y"] + box["height"] * 0.8)
    during, rate = drag(page, canvas, centre, corner, steps=60)
    print(f"\n2-D pad drag: {rate:.0f} decoded frames per second")
    assert np.abs(during - at_centre).max() > 0.1, "the digit did not change while dragging"
    z = canvas.evaluate("c => c.latentPad.latent()")
    assert z[0] > 1.5 and z[1] < -1.0  # lower right of the pad: high z0, low z1
    page.mouse.up()

    # On release Python receives the code: the plain sliders show it after the fragment reruns.
    page.get_by_text("Plain sliders").nth(1).click()
    for i, value in enumerate(z):
        reported = math.floor(value * 100 + 0.5) / 100  # the pad reports Math.round(v * 100) / 100
        expect(page.locator(f".st-key-gen_vae2_slider{i} [data-testid='stSliderThumbValue']")).to_have_text(
            f"{reported:.2f}", timeout=15_000)
    no_exception(page)
    screenshot(page, "generate-pad-drag")


def test_dragging_a_slider_morphs_the_digit_before_release(page, app_url):
    open_tab(page, app_url, "Live sliders")
    canvas = digit_canvas(page, "gen_vae")
    before = pixels(canvas)
    slider = page.locator('[data-pad="gen_vae"] input[data-index="0"]')
    box = slider.bounding_box()
    middle = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # the thumb sits at 0
    during, rate = drag(page, canvas, middle, (box["x"] + box["width"] - 2, middle[1]), steps=40)
    print(f"\n16-D slider drag: {rate:.0f} decoded frames per second")
    assert float(slider.input_value()) > 2.0
    assert np.abs(during - before).max() > 0.05, "the digit did not change while dragging"
    page.mouse.up()
    expect(page.locator(".st-key-gen_vae_slider0 [data-testid='stSliderThumbValue']")).to_have_text(
        re.compile(r"^2\.\d\d$|^3\.00$"), timeout=15_000)


def test_python_buttons_move_the_browser_pad(page, app_url):
    open_tab(page, app_url, "Live sliders")
    canvas = digit_canvas(page, "gen_vae")
    start = canvas.evaluate("c => c.latentPad.latent()")  # the preselected digit's centroid
    page.get_by_role("button", name="Randomise").first.click()
    z = wait_for_new_code(page, canvas, old=start)
    wait_for_app(page)
    page.get_by_text("Plain sliders").first.click()
    assert plain_slider_values(page, "gen_vae", 16) == pytest.approx(z, abs=1e-9)
    model, _ = checkpoints.load("vae")
    assert np.abs(pixels(canvas) - inference.decode(model, np.array(z)).ravel()).max() < PARITY_TOLERANCE
    screenshot(page, "generate-live")


@pytest.mark.parametrize("tab, charts, images", [("Latent grid", 2, 0), ("Pick a digit", 0, 2),
                                                 ("Interpolate", 1, 3), ("Sample", 0, 1)])
def test_other_tabs_render(page, app_url, tab, charts, images):
    open_tab(page, app_url, tab)
    main = page.locator('[data-testid="stMain"]')
    expect(main.locator('[data-testid="stPlotlyChart"]')).to_have_count(charts, timeout=30_000)
    expect(main.locator('[data-testid="stImage"]')).to_have_count(images, timeout=30_000)
    if tab == "Pick a digit":
        digit_canvas(page, "gen_cvae")
        expect(main.locator('[data-testid="stProgress"]')).to_contain_text("sure this is a 7")
    assert main.locator('[data-testid="stAlert"]').count() == 0
    page.wait_for_timeout(500)  # let lazily loaded widgets finish drawing for the screenshot
    screenshot(page, f"generate-{tab.lower().replace(' ', '-')}")


@pytest.mark.parametrize("width", [390, 1280])
def test_the_latent_grid_and_scatter_leave_no_empty_band_below_them(page, app_url, width):
    """Their charts take their height from their width: on a phone's narrow column a fixed height
    left a band of white under each square chart."""
    page.set_viewport_size({"width": width, "height": 1600})
    open_tab(page, app_url, "Latent grid")
    for key in ("gen_grid", "gen_scatter"):
        chart = page.locator(f".st-key-{key}")
        expect(chart.locator(".xtitle")).to_be_visible(timeout=30_000)
        box, axis_title = chart.bounding_box(), chart.locator(".xtitle").bounding_box()
        plot = chart.locator(".nsewdrag").first.bounding_box()
        below = box["y"] + box["height"] - (axis_title["y"] + axis_title["height"])
        assert 0 <= below < 40, f"{key} at {width} px: {below:.0f} px empty under the chart"
        assert plot["width"] > 0.6 * box["width"], f"{key} at {width} px: the square is {plot['width']:.0f} px wide"
    screenshot(page, f"generate-grid-{width}")
