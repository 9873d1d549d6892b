"""Two replicas behind nginx with a Ray cluster (deploy/run_loopback.sh), in a real browser: the
replica serving a visitor is killed while their run trains, the browser reconnects through nginx
to the other one, and the run (found by its link) still trains and is saved by its owner. Runs in
the Ray tests' network namespace (tests/test_ray_network.py)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.app_server import PROJECT, healthy, wait_for_app
from tests.e2e.conftest import no_exception
from tests.ray_cluster import in_own_network, wait_until

pytestmark = pytest.mark.skipif(not in_own_network(), reason="runs in its own network namespace: test_ray_network.py")

NGINX_PORT, REPLICA_PORTS = 8600, (8601, 8602)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """The loopback deployment, its checkpoint folder a copy of the shipped one; (url, run folder, replica pids)."""
    checkpoints = tmp_path_factory.mktemp("checkpoints")
    for path in (PROJECT / "checkpoints").glob("*.safetensors"):
        shutil.copy(path, checkpoints)
    run = Path(tempfile.mkdtemp(prefix="aedeploy", dir="/tmp"))
    with open(run / "deploy.log", "wb") as output:  # the child keeps its own copy of the file
        process = subprocess.Popen(
            ["bash", "deploy/run_loopback.sh", str(run)], cwd=PROJECT, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "AE_CHECKPOINT_DIR": str(checkpoints), "AE_NGINX_PORT": str(NGINX_PORT),
                 "AE_REPLICA_PORTS": " ".join(map(str, REPLICA_PORTS)), "OMP_WAIT_POLICY": "PASSIVE"})
    url = f"http://127.0.0.1:{NGINX_PORT}"
    try:
        for port in REPLICA_PORTS:
            wait_until(lambda port=port: healthy(f"http://127.0.0.1:{port}"), 240, f"replica {port} is up")
        wait_until(lambda: healthy(url), 60, "nginx is up")
        log = (run / "deploy.log").read_text()
        replicas = {int(port): int(pid) for pid, port in re.findall(r"replica (\d+) on 127\.0\.0\.1:(\d+)", log)}
        yield url, run, replicas, checkpoints
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        for pid in replicas.values() if "replicas" in locals() else ():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def serving_replica(run: Path) -> int:
    """The replica port nginx sent this browser's last health check to (its access log names it); the
    browser checks health before it opens its websocket. (A websocket is logged when it closes.)"""
    lines = [line for line in (run / "nginx" / "access.log").read_text().splitlines() if "/_stcore/health" in line]
    return int(re.findall(r"127\.0\.0\.1:(\d+)", lines[-1].split("upstream=")[1])[-1])  # the last one tried


def test_a_replica_killed_mid_run_leaves_the_run_training_on_the_other_and_its_owner_saves_it(page, deployment):
    url, run, replicas, checkpoints = deployment

    def train_page_ready() -> bool:  # the replicas connect to the head as soon as it answers
        page.goto(f"{url}/Train")
        wait_for_app(page)
        return "Training is unavailable" not in page.locator('[data-testid="stMain"]').inner_text()

    wait_until(train_page_ready, 300, "the Train page can train", every=3)
    sidebar = page.locator('[data-testid="stSidebar"]')
    epochs = sidebar.get_by_label("Epochs")
    epochs.fill("12")
    epochs.press("Enter")
    wait_for_app(page)
    sidebar.get_by_role("button", name="Train", exact=True).click()
    page.locator('[data-testid="stProgress"]').wait_for(timeout=120_000)
    page.get_by_text("Epoch 1 of 12").wait_for(timeout=180_000)
    link = page.url
    assert "job=" in link

    port = serving_replica(run)
    progress = page.locator('[data-testid="stProgress"]')
    before = progress.inner_text()
    os.kill(replicas[port], signal.SIGKILL)
    # the browser reconnects by itself; through nginx it reaches the other replica, which finds the run by its link
    console = []
    page.on("console", lambda message: console.append(message.text[:200]))

    def reconnected() -> bool:
        page.wait_for_timeout(1000)  # the browser's events are heard while Playwright is called
        return serving_replica(run) != port

    try:
        wait_until(reconnected, 180, "the browser reconnects to the other replica", every=0)
    except AssertionError:
        raise AssertionError("no reconnection; the browser said:\n" + "\n".join(console[-30:])) from None
    main = page.locator('[data-testid="stMain"]')

    def moving_or_done() -> bool:  # a quick run may end while the browser reconnects: then its result shows
        try:
            if main.get_by_text("Trained 12 epochs").count():
                return True
            return progress.count() == 1 and "of 12" in (now := progress.inner_text(timeout=2000)) and now != before
        except PlaywrightTimeoutError:  # the page redrew meanwhile
            return False

    wait_until(moving_or_done, 300, "the run's progress moves again, or its end shows", every=1)
    assert page.url == link
    page.get_by_text("Trained 12 epochs").wait_for(timeout=600_000)
    wait_for_app(page)
    no_exception(page)
    name = main.get_by_label("Model name", exact=True).and_(main.get_by_role("textbox"))
    name.fill("after-failover")
    main.get_by_role("button", name="Save").click()
    page.get_by_text("Saved as after-failover").wait_for(timeout=60_000)
    assert (checkpoints / "visitors" / "after-failover.safetensors").is_file()
