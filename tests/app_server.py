"""A Streamlit server of the app on a free loopback port, and waiting for a page to finish:
shared by the browser tests (tests/e2e) and the benchmarks (bench/)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1280, "height": 1600}


def free_port() -> int:
    """A free loopback port: the first free one from `AE_E2E_PORT` on when set (a machine shared by
    several people, each with a few ports of their own), else any."""
    first = int(os.environ.get("AE_E2E_PORT", "0"))
    for port in range(first, first + 5) if first else [0]:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is no obstacle
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError(f"No free port from AE_E2E_PORT={first} to {first + 4}.")


def healthy(url: str) -> bool:
    """Whether a Streamlit server (or nginx in front of some) answers its health check at `url`."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def start_server(env_overrides: dict[str, str] | None = None, timeout: float = 90.0,
                 script: str = "app.py") -> tuple[subprocess.Popen, str]:
    """Start `streamlit run SCRIPT` (the app by default) on a free loopback port; returns (process, base URL)
    once healthy."""
    port = free_port()
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", **(env_overrides or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited: {process.stdout.read().decode(errors='replace')[-2000:]}")
        if healthy(url):
            return process, url
        time.sleep(0.05)  # often: the cold-start benchmarks time the server from launch to healthy
    process.kill()
    raise RuntimeError("streamlit did not become healthy in time")


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


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
