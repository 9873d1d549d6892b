"""The Timeline page in a real browser: scrubbing and playing without a server run, hover and tap show
the digit, two models on one slider, at 1280 px and on a 390 px touch screen."""

import dataclasses
import os

import pytest

from core import pipeline
from core.registry import get_spec
from tests.app_server import start_server, stop_server, wait_for_app
from tests.e2e.conftest import PHONE, no_exception, screenshot

ROOT = "div.tl"


@pytest.fixture(scope="module")
def timeline_url(tmp_path_factory):
    """A server whose checkpoint folder holds short runs of ae2 and vae2, each with its timeline."""
    folder = tmp_path_factory.mktemp("checkpoints")
    before = os.environ.get("AE_CHECKPOINT_DIR")
    os.environ["AE_CHECKPOINT_DIR"] = str(folder)
    try:
        for name in ("ae2", "vae2"):
            recipe = dataclasses.replace(get_spec(name).recipe, epochs=4, train_digits=1024)
            pipeline.save(pipeline.train_and_evaluate(name, recipe))
    finally:
        if before is None:
            del os.environ["AE_CHECKPOINT_DIR"]
        else:
            os.environ["AE_CHECKPOINT_DIR"] = before
    process, url = start_server({"AE_CHECKPOINT_DIR": str(folder)})
    yield url
    stop_server(process)


def messages_sent(page) -> list:
    sent = []
    page.on("websocket", lambda socket: socket.on("framesent", lambda payload: sent.append(payload)))
    return sent


def open_timeline(page, url: str, query: str, models: int):
    page.goto(f"{url}/Timeline?{query}")
    wait_for_app(page)
    page.locator(f'{ROOT}[data-models="{models}"][data-first-drawn-at]').first.wait_for(timeout=60_000)
    no_exception(page)
    return page.locator(ROOT).first


def test_scrubbing_moves_the_points_without_a_server_run(page, timeline_url):
    sent = messages_sent(page)
    root = open_timeline(page, timeline_url, "tl_model=ae2&tl_compare=vae2", 2)
    assert root.locator(".tl-panel").count() == 2
    assert root.get_attribute("data-epoch") == "4.00"  # it opens on the last epoch
    slider = root.locator("input.tl-slider")
    before = len(sent)
    box = slider.bounding_box()
    page.mouse.move(box["x"] + 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(box["x"] + box["width"] * step / 20, box["y"] + box["height"] / 2)
    page.mouse.up()
    epoch = float(root.get_attribute("data-epoch"))
    assert 0.5 < epoch < 3.5, epoch  # dragged to about the middle
    assert "epoch" in root.locator(".tl-status").first.inner_text()
    page.wait_for_timeout(500)
    assert len(sent) == before  # nothing reached the server while dragging
    screenshot(page, "timeline_two_models_1280")


def test_play_runs_from_the_start_and_hover_shows_a_digit(page, timeline_url):
    root = open_timeline(page, timeline_url, "tl_model=ae2&tl_compare=(none)", 1)
    root.locator("button.tl-play").click()
    page.wait_for_function("r => parseFloat(r.dataset.epoch) < 4 && parseFloat(r.dataset.epoch) > 0",
                           arg=root.element_handle(), timeout=5_000)
    page.wait_for_function("r => r.dataset.epoch === '4.00'", arg=root.element_handle(), timeout=15_000)
    assert "Play" in root.locator("button.tl-play").inner_text()  # it stops at the end
    canvas = root.locator("canvas.tl-points")
    box = canvas.bounding_box()
    panel = root.locator(".tl-panel").first
    for fx in [i / 12 for i in range(2, 11)]:  # sweep the pointer until it meets a point
        for fy in [i / 12 for i in range(2, 11)]:
            page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
            if panel.get_attribute("data-hovered"):
                break
        if panel.get_attribute("data-hovered"):
            break
    assert panel.get_attribute("data-hovered")
    card = root.locator(".tl-card").first
    assert card.is_visible() and "digit" in card.inner_text() and "test #" in card.inner_text()
    screenshot(page, "timeline_hover_1280")


def test_touch_scrubbing_and_tapping_at_390_px(phone, timeline_url):
    page = phone
    root = open_timeline(page, timeline_url, "tl_model=ae2&tl_compare=vae2", 2)
    assert page.viewport_size["width"] == PHONE["width"]
    panels = root.locator(".tl-panel")
    first, second = panels.nth(0).bounding_box(), panels.nth(1).bounding_box()
    assert second["y"] > first["y"] + first["height"] - 1  # stacked, not squeezed side by side
    assert first["width"] <= PHONE["width"]
    slider = root.locator("input.tl-slider")
    box = slider.bounding_box()
    page.touchscreen.tap(box["x"] + box["width"] * 0.25, box["y"] + box["height"] / 2)
    page.wait_for_function("r => parseFloat(r.dataset.epoch) < 3", arg=root.element_handle(), timeout=5_000)
    canvas = root.locator("canvas.tl-points").first
    cbox = canvas.bounding_box()
    panel = panels.first
    for fx in [i / 8 for i in range(1, 8)]:
        for fy in [i / 8 for i in range(1, 8)]:
            page.touchscreen.tap(cbox["x"] + fx * cbox["width"], cbox["y"] + fy * cbox["height"])
            if panel.get_attribute("data-hovered"):
                break
        if panel.get_attribute("data-hovered"):
            break
    assert panel.get_attribute("data-hovered")
    screenshot(page, "timeline_phone_390")


def test_a_run_on_the_train_page_is_watched_live_then_scrubbed(page, timeline_url):
    page.goto(f"{timeline_url}/Train")
    wait_for_app(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_role("combobox").first.click()
    page.get_by_role("option", name="ae2", exact=True).click()
    wait_for_app(page)
    sidebar.get_by_text("20,000", exact=True).click()  # a run of a few seconds: long enough to be watched live
    wait_for_app(page)
    epochs = sidebar.get_by_label("Epochs")
    epochs.fill("8")
    epochs.press("Enter")
    wait_for_app(page)
    sidebar.get_by_role("button", name="Train", exact=True).click()
    live = page.locator(f"{ROOT}[data-first-drawn-at]").first
    live.wait_for(timeout=120_000)
    assert page.locator('[data-testid="stProgress"]').count() == 1  # drawn while it trains
    # each finished epoch's points glide in: the view moves on from epoch 0 toward the newest one
    page.wait_for_function("r => parseFloat(r.dataset.epoch) >= 1", arg=live.element_handle(), timeout=5_000)
    page.get_by_text("Trained 8 epochs").first.wait_for(timeout=300_000)
    done = page.locator(f"{ROOT}[data-first-drawn-at]").first
    done.wait_for(timeout=60_000)
    no_exception(page)
    assert done.get_attribute("data-epoch") == "8.00"
    assert done.locator("canvas.tl-recon").is_visible()  # the finished run has its reconstructions per epoch
    slider = done.locator("input.tl-slider")
    box = slider.bounding_box()
    page.mouse.click(box["x"] + 4, box["y"] + box["height"] / 2)
    page.wait_for_function("r => parseFloat(r.dataset.epoch) < 0.5", arg=done.element_handle(), timeout=5_000)
    screenshot(page, "timeline_train_page_1280")
