"""The Latent space page's browser-drawn map (components/latent_map), in headless Chromium without
a GPU, and where a new digit lands on a t-SNE map.

    python -m bench.bench_latent_map                 # everything (a t-SNE of 9,700 digits: ~30-60 s)
    python -m bench.bench_latent_map --no-placement  # the browser figures only
    python -m bench.bench_latent_map --switches 5 --held-out 500

Starts the app on a free port (as the browser tests do) and prints:
- page switch: a click on the sidebar link to the main 10,000-point map drawn, on the browser's
  clock; first in this tab (its bundles arrive), then again (the browser has them); and the same
  switch to the plain plotly chart for comparison;
- pan and zoom: frames drawn per second while a drag moves the map, one pointer event per
  animation frame for two seconds, at 1x (dots) and at 6x (digits), and the cost of one frame;
- hover: from a pointer move over a point to the next frame with its digit on the card, over many
  points, and the messages the browser sent the server meanwhile (none: no server run);
- bytes the server sent the browser over the websocket for the first view and for a rerun;
- placement: a t-SNE map of all test digits but a few hundred held out, in ae20's code; each
  held-out digit placed by the median of its 10 nearest map digits (what the page does) and by
  openTSNE's `transform` (optimised placement, which needs the fitted embedding kept), with the
  time per digit and how often its 5 nearest map digits share its label.
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import time

import numpy as np
from playwright.sync_api import sync_playwright

from tests.app_server import CHROMIUM, VIEWPORT, start_server, stop_server, wait_for_app

MAIN = "canvas.lm-canvas"

# Click a sidebar link on the browser's clock (the main map's canvas records when it first drew all its points).
CLICK = """(name) => {
    const link = [...document.querySelectorAll('[data-testid="stSidebarNav"] a')]
        .find(a => a.innerText.trim().split('\\n').pop().trim() === name);  // after an icon's name, if any
    window.__benchClick = performance.now();
    link.click();
}"""

# The plain chart's page is drawn when the run is over and every plotly chart has its SVG.
PLOTLY_DRAWN = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (app.getAttribute('data-test-script-state') !== 'notRunning') return false;
    const charts = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stPlotlyChart"]')];
    return charts.length >= 4 && charts.every(c => c.querySelector('.main-svg')) && performance.now();
}"""

# Record the app's run states as they change: a short run would slip between two polls.
WATCH_RUNS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    window.__benchRuns = [];
    new MutationObserver(() => window.__benchRuns.push(app.getAttribute('data-test-script-state')))
        .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""

# One pointer event per animation frame for `seconds`: a drag across the map (pan tool).
PACED_DRAG = """
(canvas, seconds) => new Promise((resolve) => {
  const box = canvas.getBoundingClientRect();
  const first = canvas.latentMap.frames();
  const at = (t) => ({clientX: box.left + box.width * (0.5 + 0.3 * Math.sin(2 * t)),
                      clientY: box.top + box.height * (0.5 + 0.3 * Math.cos(3 * t)), pointerId: 1, button: 0});
  canvas.dispatchEvent(new PointerEvent("pointerdown", at(0)));
  const began = performance.now();
  let moves = 0;
  function step(now) {
    const t = (now - began) / 1000;
    if (t >= seconds) {
      canvas.dispatchEvent(new PointerEvent("pointerup", at(t)));
      resolve({frames: (canvas.latentMap.frames() - first) / t, moves: moves / t});
      return;
    }
    canvas.dispatchEvent(new PointerEvent("pointermove", at(t)));
    moves += 1;
    requestAnimationFrame(step);
  }
  requestAnimationFrame(step);
})
"""

RENDER_LOOP = """(canvas, n) => {
    const began = performance.now();
    for (let i = 0; i < n; i++) canvas.latentMap.render();
    return (performance.now() - began) / n;
}"""

# Move the pointer onto each test digit in turn; time from the move to the next frame, with the card drawn.
HOVERS = """
async (canvas, targets) => {
  const times = [];
  let shown = 0;
  for (const t of targets) {
    const [x, y] = canvas.latentMap.screenOf(t);
    const began = performance.now();
    canvas.dispatchEvent(new PointerEvent("pointermove", {clientX: x, clientY: y, pointerId: 1}));
    await new Promise((r) => requestAnimationFrame(() => r()));
    times.push(performance.now() - began);
    if (canvas.dataset.hovered !== "") shown += 1;
    canvas.dispatchEvent(new PointerEvent("pointerleave", {pointerId: 1}));
  }
  return {times, shown};
}
"""


def wait_for_map(page, timeout: float = 120_000):
    main = page.locator(f"{MAIN}[data-first-drawn-at]").first
    main.wait_for(timeout=timeout)
    return page.locator(MAIN).first


def switch_to_map(page) -> float:
    """Seconds from clicking "Latent space" in the sidebar to the main map drawn with all its points."""
    page.evaluate(CLICK, "Latent space")
    main = wait_for_map(page)
    seconds = (float(main.get_attribute("data-first-drawn-at")) - page.evaluate("window.__benchClick")) / 1000
    wait_for_app(page)
    return seconds


def switch_home(page) -> None:
    page.evaluate(CLICK, "Home")
    page.get_by_role("heading", name="Autoencoder Lab").wait_for(timeout=60_000)
    wait_for_app(page)


class Wire:
    """Bytes and messages on the page's websocket, both ways."""

    def __init__(self, page):
        self.received = self.sent = self.sent_messages = 0
        page.on("websocket", self.attach)

    def attach(self, socket) -> None:
        socket.on("framereceived", lambda payload: self.add("received", payload))
        socket.on("framesent", lambda payload: self.add("sent", payload))

    def add(self, way: str, payload) -> None:
        size = len(payload) if isinstance(payload, (bytes, bytearray)) else len(payload.encode())
        setattr(self, way, getattr(self, way) + size)
        if way == "sent":
            self.sent_messages += 1


def browser_figures(url: str, switches: int, hovers: int) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        warm = browser.new_page(viewport=VIEWPORT)  # fills the server's caches (sprite sheets, maps)
        warm.goto(f"{url}/Latent_Space")
        wait_for_map(warm, timeout=300_000)
        warm.close()

        page = browser.new_page(viewport=VIEWPORT)
        wire = Wire(page)
        page.goto(url)
        page.get_by_role("heading", name="Autoencoder Lab").wait_for(timeout=60_000)
        wait_for_app(page)
        before = wire.received
        first = switch_to_map(page)
        first_view = wire.received - before
        again = []
        for _ in range(switches):
            switch_home(page)
            again.append(switch_to_map(page))
        print(f"page switch -> 10,000-point map drawn: {first:.2f} s the first time in a tab, "
              f"{statistics.median(again):.2f} s median after ({min(again):.2f}-{max(again):.2f} s over {len(again)}; "
              "goal <= 0.5 s)", flush=True)

        before = wire.received
        page.evaluate(WATCH_RUNS)
        page.evaluate("() => document.activeElement && document.activeElement.blur()")  # no input has the key
        page.keyboard.press("r")  # Streamlit's rerun shortcut
        page.wait_for_function("() => window.__benchRuns.length > 0", timeout=30_000)
        wait_for_app(page)
        print(f"bytes to the browser: first view {first_view / 1e6:.2f} MB (map, sprite sheets, page), "
              f"rerun {(wire.received - before) / 1e3:.1f} kB", flush=True)

        main = page.locator(MAIN).first
        main.scroll_into_view_if_needed()
        for label, zoom in (("1x, dots", 1), ("6x, digits", 6)):
            # centred on test digit #0, so at 6x the view is full of digits
            main.evaluate("(c, z) => c.latentMap.setView(z, ...c.latentMap.positionOf(0))", zoom)
            mode = main.get_attribute("data-mode")
            ms = main.evaluate(RENDER_LOOP, 30)
            drag = main.evaluate(PACED_DRAG, 2.0)
            print(f"pan, {label}: {drag['frames']:.0f} frames/s while dragging ({drag['moves']:.0f} pointer "
                  f"events/s; one frame of {mode} {ms:.1f} ms; goal >= 30)", flush=True)
        page.locator(".lm-action", has_text="Reset").first.click()

        targets = main.evaluate("(c, n) => { const m = []; for (let t = 0; t < 10000 && m.length < n; t += 97) "
                                "if (c.latentMap.screenOf(t)) m.push(t); return m; }", hovers)
        sent_before = wire.sent_messages
        result = main.evaluate(HOVERS, targets)
        times = sorted(result["times"])
        print(f"hover -> digit on the card by the next frame: {statistics.median(times):.1f} ms median, "
              f"{times[int(0.95 * (len(times) - 1))]:.1f} ms p95 over {len(times)} points ({result['shown']} shown); "
              f"{wire.sent_messages - sent_before} messages to the server (goal < 50 ms, none)", flush=True)

        # The plotly fallback: its toggle is forgotten on a page switch, so the clock runs from the toggle.
        plain = []
        for _ in range(max(1, switches // 2)):
            toggle = page.locator('[data-testid="stSidebar"]').get_by_text("Plain chart")
            page.evaluate("() => { window.__benchClick = performance.now(); }")
            toggle.click()
            drawn = page.wait_for_function(PLOTLY_DRAWN, timeout=120_000, polling=50).json_value()
            plain.append((drawn - page.evaluate("window.__benchClick")) / 1000)
            toggle.click()  # back to the interactive map
            wait_for_map(page)
            wait_for_app(page)
        print(f"for comparison, 'Plain chart' toggled -> plotly's 4 maps drawn: {statistics.median(plain):.2f} s "
              f"median ({min(plain):.2f}-{max(plain):.2f} s over {len(plain)})", flush=True)
        browser.close()


def placement_figures(held_out: int, space: str = "ae20") -> None:
    from openTSNE import TSNE

    from core import checkpoints, data, inference, latent, latent_view

    digits = data.load("mnist", "test")
    model, _ = checkpoints.load(space)
    features = inference.encode(model, digits.images)
    rng = np.random.default_rng(0)
    held = np.sort(rng.choice(len(digits), held_out, replace=False))
    kept = np.setdiff1d(np.arange(len(digits)), held)
    settings = latent.TSNESettings()
    started = time.perf_counter()
    embedding = TSNE(perplexity=latent.DEFAULT_PERPLEXITY, initialization="pca", random_state=latent.MAP_SEED,
                     early_exaggeration_iter=settings.early_exaggeration_iter, n_iter=settings.n_iter,
                     ints_in_interval=settings.ints_in_interval, neighbors=settings.neighbors, n_jobs=settings.n_jobs,
                     negative_gradient_method=settings.negative_gradient_method,
                     ).fit(latent.pca_2d(features[kept], latent.TSNE_INPUT_DIMS))
    map_seconds = time.perf_counter() - started
    coords = np.asarray(embedding)
    labels = digits.labels

    def agreement(positions: np.ndarray) -> tuple[float, float]:
        """(mean share of the 5 nearest map digits with the digit's label, majority-vote accuracy)."""
        rows = latent_view.nearest(coords, positions, latent.QUALITY_NEIGHBOURS)
        same = labels[kept][rows] == labels[held][:, None]
        votes = np.array([np.bincount(labels[kept][r], minlength=10).argmax() for r in rows])
        return float(same.mean()), float((votes == labels[held]).mean())

    def one_at_a_time_ms(place_one) -> float:
        """Median ms to place one digit on its own, as the page does with yours."""
        times = []
        for i in held[:7]:
            started = time.perf_counter()
            place_one(features[[i]])
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    started = time.perf_counter()
    placed, _ = latent_view.place("tsne", features[kept], coords, features[held])
    neighbour_ms = (time.perf_counter() - started) * 1000 / held_out
    share, vote = agreement(placed)
    single = one_at_a_time_ms(lambda x: latent_view.place("tsne", features[kept], coords, x))
    print(f"t-SNE placement by the median of {latent_view.PLACE_NEIGHBOURS} neighbours: {neighbour_ms:.2f} ms per "
          f"digit, 5-NN label agreement {share:.1%} (majority {vote:.1%}); one digit alone {single:.1f} ms; "
          f"{space}, {held_out} held-out test digits on a map of the other {len(kept):,} "
          f"(made in {map_seconds:.0f} s)", flush=True)
    started = time.perf_counter()
    transformed = np.asarray(embedding.transform(features[held]))
    transform_ms = (time.perf_counter() - started) * 1000 / held_out
    share_t, vote_t = agreement(transformed)
    single_t = one_at_a_time_ms(embedding.transform)
    kept_bytes = len(pickle.dumps(embedding))
    print(f"t-SNE placement by openTSNE transform: {transform_ms:.2f} ms per digit, 5-NN label agreement "
          f"{share_t:.1%} (majority {vote_t:.1%}); one digit alone {single_t:.1f} ms; needs the fitted "
          f"embedding kept per map, {kept_bytes / 1e6:.1f} MB pickled", flush=True)
    rows = latent_view.nearest(coords, coords, latent.QUALITY_NEIGHBOURS + 1)[:, 1:]
    print(f"for reference, the map's own digits: 5-NN label agreement "
          f"{(labels[kept][rows] == labels[kept][:, None]).mean():.1%}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--switches", type=int, default=3, help="page switches to time after the first")
    parser.add_argument("--hovers", type=int, default=60, help="points to hover")
    parser.add_argument("--held-out", type=int, default=300, help="test digits placed on a t-SNE map without them")
    parser.add_argument("--no-placement", action="store_true", help="skip the t-SNE placement figures")
    parser.add_argument("--no-browser", action="store_true", help="skip the browser figures")
    args = parser.parse_args(argv)

    if not args.no_browser:
        process, url = start_server()
        try:
            browser_figures(url, args.switches, args.hovers)
        finally:
            stop_server(process)
    if not args.no_placement:
        placement_figures(args.held_out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
