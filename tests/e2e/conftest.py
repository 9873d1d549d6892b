"""Browser tests: one Streamlit server per test session, Debian's Chromium driven by Playwright."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from core import data
from tests.app_server import CHROMIUM, PROJECT, VIEWPORT, start_server, stop_server, wait_for_app

SCREENSHOTS = PROJECT / "screenshots"


PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser):
    """A page in a touch-screen, phone-sized browser context (touch events, no mouse)."""
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=2)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def app_url():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (bash scripts/setup.sh --dev).")
    process, url = start_server()
    yield url
    stop_server(process)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        # no background connections: this machine's network is closed and refuses them
        "args": ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": VIEWPORT}


def open_page(page, app_url: str, path: str = "") -> None:
    """Go to a page of the app (path as in the URL, e.g. "Reconstruction") and wait for it."""
    page.goto(f"{app_url}/{path}")
    wait_for_app(page)


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot to screenshots/NAME.png and return its path."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def no_exception(page) -> None:
    """Fail when the page shows a Python exception box."""
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, errors.first.inner_text()


def draw_seven(page) -> None:
    """Draw a 7 with the mouse on the page's drawing canvas: a bar across the top, a stroke down-left."""
    canvas = page.locator("canvas.dc2-canvas")
    canvas.wait_for(timeout=30_000)
    box = canvas.bounding_box()
    points = [(0.3, 0.25), (0.72, 0.25), (0.45, 0.85)]
    page.mouse.move(box["x"] + points[0][0] * box["width"], box["y"] + points[0][1] * box["height"])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=15)
    page.mouse.up()


def digit_png(index: int) -> bytes:
    """Test digit `index` as a 200-px PNG upload, dark ink on white as people write."""
    digit = data.load("mnist", "test").images[index]
    buffer = io.BytesIO()
    Image.fromarray(255 - digit).resize((200, 200)).save(buffer, "PNG")
    return buffer.getvalue()
