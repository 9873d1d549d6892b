"""Cold start and page switches as a visitor sees them, in headless Chromium.

    python -m bench.bench_pages                 # cold home, cold first digit, 3 rounds of page switches
    python -m bench.bench_pages --rounds 1

- Cold home: from launching `streamlit run app.py` to the home page's title, and to its model
  cards, on screen (goal: within 5 s). Each cold figure has a server of its own, so nothing is cached.
- Cold first digit: the same to the first reconstructed digit on the Reconstruction page.
- Warm page switch: a click on a sidebar link to the new page finished, per page. The clock
  runs in the browser (`performance.now()`): from the click to the moment the script is no
  longer running and every chart and image of the page is drawn. The first round loads each
  page's models, so only the later rounds count.
"""

from __future__ import annotations

import argparse
import statistics
import time

from playwright.sync_api import sync_playwright

from tests.app_server import CHROMIUM, VIEWPORT, start_server, stop_server, wait_for_app

HOME_TITLE = """() => [...document.querySelectorAll('[data-testid="stMain"] h1')]
    .some(h => h.innerText.includes('Autoencoder Lab'))"""
HOME_ON_SCREEN = """() => [...document.querySelectorAll('[data-testid="stMain"] p')]
    .some(p => p.innerText.includes('parameters'))"""
FIRST_DIGIT = """() => {
    const img = document.querySelector('[data-testid="stMain"] [data-testid="stImage"] img');
    return img !== null && img.complete && img.naturalWidth > 0;
}"""
SWITCHES = {"Generate": "Generate", "Anomaly": "Anomaly detection", "Latent Space": "Latent space",
            "Train": "Train a model", "Reconstruction": "Reconstruction"}  # sidebar link -> page title

# Record every change of the app's run state, then click the link; both on the browser's clock.
CLICK = """(name) => {
    const app = document.querySelector('[data-testid="stApp"]');
    window.__benchStates = [];
    if (window.__benchObserver) window.__benchObserver.disconnect();
    window.__benchObserver = new MutationObserver(() => window.__benchStates.push(
        [performance.now(), app.getAttribute('data-test-script-state')]));
    window.__benchObserver.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
    const link = [...document.querySelectorAll('[data-testid="stSidebarNav"] a')]
        .find(a => a.innerText.trim() === name);
    window.__benchClick = performance.now();
    link.click();
}"""
# The run is over and the page is drawn: every plotly chart has its SVG, every image is decoded.
DRAWN = """() => {
    const states = window.__benchStates;
    const ran = states.some(([, s]) => s === 'running');
    const app = document.querySelector('[data-testid="stApp"]');
    if (!ran || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
    const main = document.querySelector('[data-testid="stMain"]');
    const charts = [...main.querySelectorAll('[data-testid="stPlotlyChart"]')];
    const images = [...main.querySelectorAll('img')];
    if (!charts.every(c => c.querySelector('.main-svg')) || !images.every(i => i.complete)) return false;
    return performance.now();
}"""


def cold_seconds(playwright, path: str, ready: list[str], server_env: dict[str, str]) -> list[float]:
    """Seconds to healthy, then to each condition in `ready` (in turn), from launching a fresh server and opening `path`."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
    page = browser.new_page(viewport=VIEWPORT)
    started = time.perf_counter()
    process, url = start_server(server_env)
    try:
        seconds = [time.perf_counter() - started]
        page.goto(f"{url}/{path}")
        for condition in ready:
            page.wait_for_function(condition, timeout=300_000, polling=50)
            seconds.append(time.perf_counter() - started)
        return seconds
    finally:
        stop_server(process)
        browser.close()


def switch_seconds(page, name: str) -> float:
    """Seconds from clicking the sidebar link `name` to its page finished and drawn (browser clock)."""
    page.evaluate(CLICK, name)
    page.get_by_role("heading", name=SWITCHES[name], level=1).wait_for(timeout=120_000)
    drawn = page.wait_for_function(DRAWN, timeout=120_000).json_value()
    wait_for_app(page, timeout=120_000)  # the page stays finished: no second run follows
    last_finish = max(t for t, state in page.evaluate("window.__benchStates") if state == "notRunning")
    return (max(drawn, last_finish) - page.evaluate("window.__benchClick")) / 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds through the pages; the first is not counted")
    args = parser.parse_args(argv)
    server_env: dict[str, str] = {}

    with sync_playwright() as playwright:
        healthy, title, home = cold_seconds(playwright, "", [HOME_TITLE, HOME_ON_SCREEN], server_env)
        print(f"cold home: server launch -> model cards on screen {home:.1f} s (server healthy after {healthy:.1f} s, "
              f"title and introduction on screen after {title:.1f} s)")
        healthy, digit = cold_seconds(playwright, "Reconstruction", [FIRST_DIGIT], server_env)
        print(f"cold first digit: server launch -> first reconstruction on screen {digit:.1f} s "
              f"(server healthy after {healthy:.1f} s)")

        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport=VIEWPORT)
        process, url = start_server()
        try:
            page.goto(f"{url}/Reconstruction")
            wait_for_app(page, timeout=300_000)
            times: dict[str, list[float]] = {name: [] for name in SWITCHES}
            for round_number in range(max(args.rounds, 2)):
                for name in SWITCHES:
                    seconds = switch_seconds(page, name)
                    if round_number:  # the first round loads models
                        times[name].append(seconds)
        finally:
            stop_server(process)
            browser.close()

    for name, values in times.items():
        print(f"  switch to {name}: {statistics.median(values):.2f} s median "
              f"({', '.join(f'{v:.2f}' for v in values)})")
    every = [v for values in times.values() for v in values]
    print(f"warm page switch: {statistics.median(every):.2f} s median, {max(every):.2f} s slowest over {len(every)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
