"""The Train page in a real browser: train dense for two epochs, watch it, save it, find it elsewhere."""

import shutil

import pytest

from tests.app_server import PROJECT, start_server, stop_server, wait_for_app
from tests.e2e.conftest import no_exception, open_page, screenshot


@pytest.fixture(scope="module")
def train_server(tmp_path_factory):
    """A server of its own whose checkpoint folder is a temporary copy, so saving never touches checkpoints/."""
    folder = tmp_path_factory.mktemp("checkpoints")
    for path in (PROJECT / "checkpoints").glob("*.safetensors"):
        shutil.copy(path, folder)
    process, url = start_server(env_overrides={"AE_CHECKPOINT_DIR": str(folder)})
    yield url, folder
    stop_server(process)


def test_train_dense_shows_progress_and_chart_then_saves(page, train_server):
    url, folder = train_server
    open_page(page, url, "Train")
    no_exception(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    epochs = sidebar.get_by_label("Epochs")
    epochs.fill("2")
    epochs.press("Enter")
    wait_for_app(page)
    # batch 128 -> 32: four times the batches, so an epoch lasts long enough to watch
    thumb = sidebar.get_by_role("slider", name="Batch size")
    thumb.focus()
    thumb.press("ArrowLeft")
    thumb.press("ArrowLeft")
    wait_for_app(page)
    screenshot(page, "train-settings")

    sidebar.get_by_role("button", name="Train", exact=True).click()
    progress = page.locator('[data-testid="stProgress"]')
    progress.wait_for(timeout=60_000)
    main = page.locator('[data-testid="stMain"]')
    assert "dense" in main.inner_text() and "2 epochs" in main.inner_text() and "batch 32" in main.inner_text()
    screenshot(page, "train-running")
    page.reload()  # a reloaded tab finds its run again through the URL
    wait_for_app(page)
    assert "batch 32" in main.inner_text()
    main.locator('[data-testid="stPlotlyChart"]').first.wait_for(timeout=120_000)  # the loss chart, live or final

    page.get_by_text("Trained 2 epochs").wait_for(timeout=120_000)
    wait_for_app(page)
    no_exception(page)
    assert main.locator('[data-testid="stPlotlyChart"]').count() == 2  # loss chart and animation
    assert "On the test split: BCE" in main.inner_text()
    screenshot(page, "train-done")
    animation = main.locator('[data-testid="stPlotlyChart"]').nth(1)
    last_epoch = animation.locator("image").get_attribute("href")
    animation.get_by_text("▶").click()  # replays from epoch 1: another picture
    page.wait_for_function("([chart, before]) => chart.querySelector('image').getAttribute('href') !== before",
                           arg=[animation.element_handle(), last_epoch], timeout=10_000)

    name = main.get_by_label("Model name", exact=True).and_(main.get_by_role("textbox"))
    name.fill("e2e-dense")
    main.get_by_role("button", name="Save").click()
    page.get_by_text("Saved as e2e-dense").wait_for(timeout=30_000)
    no_exception(page)
    screenshot(page, "train-saved")
    assert (folder / "visitors" / "e2e-dense.safetensors").is_file()  # beside the shipped ones, never among them

    open_page(page, url)  # the home page lists a user's models
    assert "e2e-dense" in page.locator('[data-testid="stMain"]').inner_text()


def test_tabs_of_one_browser_share_a_visitor_and_another_browser_is_another(browser, tmp_path):
    """Streamlit's XSRF cookie reaches the first run of every tab (the page fetches /_stcore/health,
    which sets it, before its websocket), the same in every tab of a browser, another in another."""
    probe = tmp_path / "probe.py"
    probe.write_text("import streamlit as st\nfrom ui import session\nst.code(session.visitor_id())\n")
    process, url = start_server(script=str(probe))
    try:
        seen = []
        for context in (browser.new_context(), browser.new_context()):  # two browsers
            for _ in range(2):  # two tabs each
                tab = context.new_page()
                tab.goto(url)
                wait_for_app(tab)
                seen.append(tab.locator('[data-testid="stCode"]').inner_text().strip())
            context.close()
        assert seen[0] == seen[1] != seen[2] == seen[3], seen
        assert all(v.startswith("browser-") for v in seen), seen
    finally:
        stop_server(process)


def test_the_train_button_is_above_the_fold_at_1280_by_900(browser, app_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{app_url}/Train")
        wait_for_app(page, timeout=120_000)
        button = page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Train", exact=True)
        box = button.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 900, box
    finally:
        context.close()
