"""Inside the network, in headless Chromium: how soon a stroke shows in the diagram, the ellipse and the
loss bars, and how long the page takes to load.

    python -m bench.bench_explain                 # 10 strokes on vae2, 5 page loads
    python -m bench.bench_explain --strokes 20 --model vae2 --loads 10

Starts the app on a free port (as the browser tests do). Stroke: the time from the mouse's release at the
end of a stroke on the drawing box to every picture of the diagram showing the new drawing's activations,
and, for a 2-D VAE, the loss bars showing its negative ELBO and the plane's mean marker moved (a stroke
is timed only once all three changed). Load, two ways: a click on the page's sidebar link from the home
page to the page (its default model, a test digit) finished and drawn, timed as `bench.bench_pages` times
every page's first load (the first click on a server that has drawn only the home page, then warm
clicks); and a fresh tab's time from navigating to the page's address to its diagram on screen, which
includes Streamlit's own start in the browser, measured beside a bare page (one title) the same way.
Goals: <= 0.3 s a stroke, <= 1.5 s a load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.bench_pages import BARE_PAGE, switch_seconds
from tests.app_server import CHROMIUM, VIEWPORT, start_server, stop_server, wait_for_app

# What is on screen now: the diagram's pictures, every diagram picture decoded, the bars' total, the plane's mean.
SHOWN = """() => {
    const pictures = [...document.querySelectorAll('.net-diagram img')];
    const bars = document.querySelector('.net-loss');
    const plot = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
    const data = plot && plot._fullData;
    return {code: pictures.map(p => p.src).join(' '),
            decoded: pictures.length > 0 && pictures.every(p => p.complete && p.naturalWidth > 0),
            nats: bars ? bars.dataset.nats : null,
            mean: data && data.length ? JSON.stringify([data[data.length - 1].x, data[data.length - 1].y]) : null};
}"""
CHANGED = f"""(before) => {{
    const now = ({SHOWN})();
    return now.decoded && now.code !== before.code
        && (before.nats === null || now.nats !== before.nats) && (before.mean === null || now.mean !== before.mean);
}}"""
# Strokes across the box, each a little lower: every one changes the drawing.
STROKES = [((0.25, 0.15 + 0.06 * i), (0.75, 0.2 + 0.06 * i), (0.4, 0.85)) for i in range(12)]


def stroke_seconds(page, corners) -> float:
    canvas = page.locator("canvas.dc2-canvas")
    box = canvas.bounding_box()
    at = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in corners]
    before = page.evaluate(SHOWN)
    page.mouse.move(*at[0])
    page.mouse.down()
    for x, y in at[1:]:
        page.mouse.move(x, y, steps=10)
    page.mouse.up()
    began = time.perf_counter()
    page.wait_for_function(CHANGED, arg=before, timeout=60_000, polling="raf")
    return time.perf_counter() - began


def load_seconds(browser, url: str, model: str) -> float:
    """A fresh tab: navigating to the page's address -> its diagram on screen."""
    page = browser.new_page(viewport=VIEWPORT)
    began = time.perf_counter()
    page.goto(f"{url}/Inside_the_network?net_model={model}")
    page.wait_for_function(f"() => ({SHOWN})().decoded", timeout=60_000, polling="raf")
    seconds = time.perf_counter() - began
    page.close()
    return seconds


def bare_page_seconds(browser, count: int) -> list[float]:
    """A fresh tab on a server of a bare page (`bench.bench_pages.BARE_PAGE`, one title), each time:
    navigating to it -> its title on screen."""
    seconds = []
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "bare.py"
        script.write_text(BARE_PAGE)
        process, url = start_server(script=str(script))
        try:
            for _ in range(1 + count):  # the first warms the server
                page = browser.new_page(viewport=VIEWPORT)
                began = time.perf_counter()
                page.goto(url)
                page.locator('[data-testid="stMain"] h1').first.wait_for(timeout=60_000)
                seconds.append(time.perf_counter() - began)
                page.close()
        finally:
            stop_server(process)
    return seconds[1:]


def switch_loads(browser, url: str, count: int, read: float) -> list[float]:
    """Clicks on the sidebar's "Inside the network" from the home page, each from a fresh home page: the
    first on a server that has drawn only the home page, after `read` seconds there (as bench_pages)."""
    seconds = []
    page = browser.new_page(viewport=VIEWPORT)
    for i in range(count):
        page.goto(url)
        wait_for_app(page)
        if i == 0:
            time.sleep(read)
        seconds.append(switch_seconds(page, "Inside the network", title="Inside the network"))
    page.close()
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=10, help="timed strokes (the first, untimed, warms up)")
    parser.add_argument("--loads", type=int, default=5, help="timed page loads, each a fresh session")
    parser.add_argument("--read", type=float, default=3.0,
                        help="seconds on the home page before the first click (models load meanwhile)")
    parser.add_argument("--model", default="vae2", help="the model the strokes go through")
    args = parser.parse_args(argv)

    process, url = start_server()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            switches = switch_loads(browser, url, 1 + args.loads, args.read)
            cold = load_seconds(browser, url, args.model)
            loads = [load_seconds(browser, url, args.model) for _ in range(args.loads)]
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(f"{url}/Inside_the_network?net_model={args.model}&net_source=Draw")
            wait_for_app(page)
            page.locator("canvas.dc2-canvas").wait_for(timeout=30_000)
            stroke_seconds(page, STROKES[0])  # the first drawing brings the VAE's parts onto the page
            wait_for_app(page)
            strokes = []
            for i in range(args.strokes):
                strokes.append(stroke_seconds(page, STROKES[1 + i % (len(STROKES) - 1)]))
                wait_for_app(page)
            browser.close()
    finally:
        stop_server(process)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        bare = bare_page_seconds(browser, args.loads)
        browser.close()

    print(f"machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; model {args.model}")
    print(f"page load, a click from the home page (as bench_pages): first {switches[0]:.2f} s "
          f"(after {args.read:.0f} s on the home page), then "
          f"{statistics.median(switches[1:]):.2f} s median, {min(switches[1:]):.2f}-{max(switches[1:]):.2f} s "
          f"over {len(switches) - 1} clicks (goal <= 1.5 s)")
    print(f"page load, a fresh tab at the address ({args.model}): first {cold:.2f} s (its model loads), then "
          f"{statistics.median(loads):.2f} s median, {min(loads):.2f}-{max(loads):.2f} s over {len(loads)} loads; "
          f"a bare page (one title) {statistics.median(bare):.2f} s the same way")
    print(f"stroke end -> activations, ellipse and loss bars on screen: {statistics.median(strokes):.3f} s median, "
          f"{min(strokes):.3f}-{max(strokes):.3f} s over {len(strokes)} strokes (goal <= 0.3 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
