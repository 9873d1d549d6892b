"""Drawing with a finger: each drawing canvas takes touch strokes on a phone-sized touch screen."""

import itertools

import pytest

from tests.app_server import CHROMIUM, wait_for_app
from tests.e2e.conftest import no_exception, screenshot


def touch_seven(page) -> None:
    """Draw a 7 with one finger on the page's canvas: touchstart, touchmoves, touchend, as a phone sends them."""
    canvas = page.locator("canvas.dc2-canvas")
    canvas.wait_for(timeout=30_000)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    corners = [(0.3, 0.25), (0.72, 0.25), (0.45, 0.85)]
    path = [corners[0]]
    for (x0, y0), (x1, y1) in itertools.pairwise(corners):
        path += [(x0 + (x1 - x0) * t / 15, y0 + (y1 - y0) * t / 15) for t in range(1, 16)]
    session = page.context.new_cdp_session(page)
    for i, (x, y) in enumerate(path):
        point = {"x": box["x"] + x * box["width"], "y": box["y"] + y * box["height"], "id": 1}
        session.send("Input.dispatchTouchEvent", {"type": "touchStart" if i == 0 else "touchMove", "touchPoints": [point]})
    session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    session.detach()


@pytest.mark.parametrize("path, tab, drawn", [
    ("Denoising?den_tab=Draw", None, "reconstructed by"),
    ("Anomaly", "Draw", "your drawing, as MNIST sees it"),
])
def test_a_finger_draws_a_digit_on_each_canvas(phone, app_url, path, tab, drawn):
    assert CHROMIUM  # the session's Chromium, started by the browser fixture
    phone.goto(f"{app_url}/{path}")
    wait_for_app(phone, timeout=120_000)
    if tab:
        phone.get_by_role("tab", name=tab).tap()
    touch_seven(phone)
    phone.get_by_text(drawn).first.wait_for(timeout=60_000)
    wait_for_app(phone)
    no_exception(phone)
    phone.get_by_text(drawn).first.scroll_into_view_if_needed()
    screenshot(phone, f"touch-{path.split('?')[0].lower()}")


def test_undo_and_clear_are_always_in_view_under_the_box_and_a_tap_anywhere_in_it_draws(phone, app_url):
    phone.goto(f"{app_url}/Denoising?den_tab=Draw")
    wait_for_app(phone, timeout=120_000)
    canvas = phone.locator("canvas.dc2-canvas")
    canvas.wait_for(timeout=30_000)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    undo, clear = phone.get_by_role("button", name="Undo"), phone.get_by_role("button", name="Clear")
    for button in (undo, clear):  # visible without hovering, and below the box, never over it
        assert button.is_visible() and button.bounding_box()["y"] >= box["y"] + box["height"]
    session = phone.context.new_cdp_session(phone)  # a tap in the box's top-right corner, where a hidden toolbar sat
    corner = {"x": box["x"] + box["width"] - 12, "y": box["y"] + 12, "id": 1}
    session.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [corner]})
    session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    session.detach()
    phone.wait_for_function("c => c.dataset.strokes === '1'", arg=canvas.element_handle(), timeout=10_000)
    touch_seven(phone)
    phone.get_by_text("reconstructed by").first.wait_for(timeout=60_000)
    assert canvas.get_attribute("data-strokes") == "2"
    undo.tap()
    clear.tap()
    phone.get_by_text("The result appears here as soon as you lift").wait_for(timeout=60_000)
    assert canvas.get_attribute("data-strokes") == "0"
    no_exception(phone)
