"""Browser tests: one Streamlit server per test session, Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
SCREENSHOTS = PROJECT / "screenshots"
CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1280, "height": 1600}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env_overrides: dict[str, str] | None = None, timeout: float = 90.0) -> tuple[subprocess.Popen, str]:
    """Start `streamlit run app.py` on a free loopback port; returns (process, base URL) once healthy."""
    port = free_port()
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", **(env_overrides or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited: {process.stdout.read().decode(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("streamlit did not become healthy in time")


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


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


def wait_for_app(page, timeout: float = 60_000) -> None:
    """Wait until Streamlit has rendered and finished running the script.

    The app reads "not running" for a moment before a run starts, so the state must hold for
    two checks 300 ms apart.
    """
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    idle = """() => {
        const app = document.querySelector('[data-testid="stApp"]');
        return app && app.getAttribute('data-test-script-state') === 'notRunning';
    }"""
    for _ in range(2):
        page.wait_for_function(idle, timeout=timeout)
        page.wait_for_timeout(300)
    page.wait_for_function(idle, timeout=timeout)


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
    canvas = page.locator("canvas.upper-canvas")
    canvas.wait_for(timeout=30_000)
    box = canvas.bounding_box()
    points = [(0.3, 0.25), (0.72, 0.25), (0.45, 0.85)]
    page.mouse.move(box["x"] + points[0][0] * box["width"], box["y"] + points[0][1] * box["height"])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=15)
    page.mouse.up()
