"""The Timeline page's browser-drawn scrubber (components/timeline) in headless Chromium without a GPU,
and the timelines' files.

    python -m bench.bench_timeline                    # the browser figures, then the files
    python -m bench.bench_timeline --model vae2 --beside ae2
    python -m bench.bench_timeline --files            # the files only: sizes, frames, k-NN, projection steps

Starts the app on a free port (as the browser tests do) and prints:
- first view: a click on the sidebar's "Timeline" link to the 2,000 points drawn, on the browser's
  clock (first in the tab: its bundles arrive; then again: the browser has them);
- scrubbing: frames drawn per second while the slider moves every animation frame for three
  seconds, one model and two side by side, and the messages the browser sent the server meanwhile
  (none: scrubbing never reruns the page);
- bytes the server sent the browser over the websocket for the first view of a model;
- per file: bytes, frames, method, the k-NN accuracy of the 2-D positions before and after
  training, and for projected models the mean step of a point between consecutive frames as a share
  of the spread, aligned (what is stored) and with raw per-epoch PCA axes (what alignment avoids).
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np

from bench.bench_latent_map import Wire  # bytes and messages on the websocket
from tests.app_server import CHROMIUM, VIEWPORT, start_server, stop_server, wait_for_app

ROOT = "div.tl"

CLICK = """(name) => {
    const link = [...document.querySelectorAll('[data-testid="stSidebarNav"] a')]
        .find(a => a.innerText.trim().split('\\n').pop().trim() === name);
    window.__benchClick = performance.now();
    link.click();
}"""

# Move the slider one step every animation frame for `seconds`; frames drawn per second.
SCRUB = """async (root, seconds) => {
  const slider = root.querySelector('input.tl-slider');
  const max = parseFloat(slider.max);
  const drawsBefore = parseInt(root.dataset.draws || '0');
  const began = performance.now();
  let frames = 0;
  await new Promise((done) => {
    const step = (now) => {
      if (now - began > seconds * 1000) return done();
      slider.value = String((frames * 0.37) % max);
      slider.dispatchEvent(new Event('input', {bubbles: true}));
      frames += 1;
      requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
  });
  const elapsed = (performance.now() - began) / 1000;
  return {fps: (parseInt(root.dataset.draws) - drawsBefore) / elapsed, events: frames};
}"""


def wait_for_points(page, models: int | None = None, timeout: float = 120_000):
    count = f'[data-models="{models}"]' if models else ""
    page.locator(f"{ROOT}{count}[data-first-drawn-at]").first.wait_for(timeout=timeout)
    return page.locator(ROOT).first


def switch_to_timeline(page) -> float:
    page.evaluate(CLICK, "Timeline")
    root = wait_for_points(page)
    return (float(root.get_attribute("data-first-drawn-at")) - page.evaluate("window.__benchClick")) / 1000


def switch_home(page) -> None:
    page.evaluate(CLICK, "Home")
    page.get_by_role("heading", name="Autoencoder Lab").wait_for(timeout=60_000)
    wait_for_app(page)


def browser_figures(url: str, model: str, beside: str | None, switches: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        warm = browser.new_page(viewport=VIEWPORT)  # fills the server's caches
        warm.goto(f"{url}/Timeline?tl_model={model}&tl_compare={beside or '(none)'}")
        wait_for_points(warm, 2 if beside else 1, timeout=300_000)
        warm.close()

        page = browser.new_page(viewport=VIEWPORT)
        wire = Wire(page)
        page.goto(f"{url}/?tl_model={model}")
        page.get_by_role("heading", name="Autoencoder Lab").wait_for(timeout=60_000)
        wait_for_app(page)
        before = wire.received
        first = switch_to_timeline(page)
        first_bytes = wire.received - before
        again = []
        for _ in range(switches):
            switch_home(page)
            again.append(switch_to_timeline(page))
        shown = page.locator(ROOT).first.get_attribute("data-models")
        print(f"click -> {int(shown) * 2000:,} points drawn ({shown} model(s), as the page opens): {first:.2f} s the first time in a tab, {statistics.median(again):.2f} s "
              f"median after ({len(again)} switches; goal <= 1 s)", flush=True)
        opened = page.locator(f"{ROOT} .tl-panel").first.get_attribute("data-model")
        print(f"bytes to the browser for that first view ({opened}): {first_bytes / 1e6:.2f} MB "
              "(its timeline, the points' sprites, the page; goal <= 1.5 MB)", flush=True)
        fresh = browser.new_page(viewport=VIEWPORT)
        fresh_wire = Wire(fresh)
        fresh.goto(f"{url}/Timeline?tl_model={model}&tl_compare=(none)")
        wait_for_points(fresh, 1)
        wait_for_app(fresh)
        print(f"bytes to the browser for a first view of {model} by its link: {fresh_wire.received / 1e6:.2f} MB",
              flush=True)
        fresh.close()

        page.goto(f"{url}/Timeline?tl_model={model}&tl_compare=(none)")
        root = wait_for_points(page, 1)
        sent = wire.sent_messages
        one = root.evaluate(SCRUB, 3)
        print(f"scrubbing {model}: {one['fps']:.0f} frames/s ({one['events']} slider moves in 3 s; goal >= 50), "
              f"{wire.sent_messages - sent} messages to the server", flush=True)
        if beside is None:
            print("two models side by side: not measured (the second model has no timeline)", flush=True)
            browser.close()
            return
        page.goto(f"{url}/Timeline?tl_model={model}&tl_compare={beside}")
        root = wait_for_points(page, 2)
        sent = wire.sent_messages
        two = root.evaluate(SCRUB, 3)
        print(f"scrubbing {model} beside {beside} (4,000 points): {two['fps']:.0f} frames/s, "
              f"{wire.sent_messages - sent} messages to the server", flush=True)
        browser.close()


def step_share(positions: np.ndarray) -> float:
    """Mean distance a point moves between consecutive frames, as a share of the mean spread."""
    spread = np.mean([np.linalg.norm(p - p.mean(0), axis=1).mean() for p in positions])
    steps = np.linalg.norm(np.diff(positions, axis=0), axis=2).mean()
    return float(steps / spread)


def file_figures() -> None:
    from core import checkpoints, timeline

    for name in checkpoints.list_checkpoints():
        try:
            recorded = timeline.load(name)
        except (FileNotFoundError, ValueError) as exc:
            print(f"{name:>10}: {exc}", flush=True)
            continue
        size = timeline.timeline_file(name, recorded.sha256).stat().st_size
        line = (f"{name:>10}: {size / 1e3:6.0f} kB, {recorded.frames:3d} frames, {recorded.method:<14} "
                f"k-NN {100 * recorded.knn[0]:.0f}% -> {100 * recorded.knn[-1]:.0f}%")
        passed = timeline.first_epoch_above(recorded, 0.9)
        line += f", passes 90% at epoch {passed}" if passed is not None else ", never 90%"
        if recorded.method == timeline.PCA_PROCRUSTES:
            # each frame back on its own principal axes, signs as the SVD gives them: raw per-epoch PCA
            raw = np.stack([timeline.pca_2d(p.astype(np.float64)) for p in recorded.positions])
            line += (f"; step between frames {100 * step_share(recorded.positions):.1f}% of the spread aligned, "
                     f"{100 * step_share(raw):.1f}% with raw PCA axes")
        print(line, flush=True)


def projection_figure(name: str, path: str, panels: int = 6, side: int = 180) -> None:
    """A PNG: a projected model's frames around the step where raw PCA axes turn most beyond what the
    points did; top row as stored (each epoch turned onto the one before), bottom row on each
    epoch's own principal axes."""
    from PIL import Image, ImageDraw

    from core import timeline

    recorded = timeline.load(name)
    aligned = recorded.positions.astype(np.float64)
    raw = np.stack([timeline.pca_2d(p) for p in aligned])
    # where raw axes move most beyond what the points did (after the first step, which both take)
    ratio = (np.linalg.norm(np.diff(raw, axis=0), axis=2).mean(1)
             / np.maximum(np.linalg.norm(np.diff(aligned, axis=0), axis=2).mean(1), 1e-12))
    middle = int(np.argmax(ratio[1:])) + 2
    first = max(0, min(middle - panels // 2, len(aligned) - panels))
    frames = range(first, first + panels)
    colours = [tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in
               ("#636EFA", "#EF553B", "#00CC96", "#AB63FA", "#FFA15A", "#19D3F3", "#FF6692", "#B6E880",
                "#FF97FF", "#FECB52")]
    figure = Image.new("RGB", (panels * side, 2 * side + 40), "white")
    draw = ImageDraw.Draw(figure)
    for row, (label, stack) in enumerate((("stored: turned onto the epoch before", aligned),
                                          ("each epoch's own PCA axes", raw))):
        draw.text((4, row * (side + 20) + 2), label, fill="black")
        for column, f in enumerate(frames):
            p = stack[f]
            low, high = np.percentile(p, 0.5, axis=0), np.percentile(p, 99.5, axis=0)
            scale = (side - 16) / max(float((high - low).max()), 1e-9)
            centre = (low + high) / 2
            top = row * (side + 20) + 14
            draw.rectangle([column * side + 2, top, column * side + side - 2, top + side - 4], outline="#cccccc")
            draw.text((column * side + 6, top + 2), f"epoch {recorded.epochs[f]}", fill="black")
            for (x, y), digit in zip(p, recorded.labels):
                px = column * side + side / 2 + (x - centre[0]) * scale
                py = top + side / 2 - (y - centre[1]) * scale
                draw.rectangle([px - 1, py - 1, px + 1, py + 1], fill=colours[digit])
    figure.save(path)
    print(f"{path}: {name} epochs {recorded.epochs[first]}-{recorded.epochs[first + panels - 1]}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ae2")
    parser.add_argument("--beside", default="vae2")
    parser.add_argument("--switches", type=int, default=3)
    parser.add_argument("--files", action="store_true", help="the files only, no browser")
    parser.add_argument("--figure", nargs=2, metavar=("MODEL", "PNG"),
                        help="draw a projected model's frames as stored and on raw PCA axes, then stop")
    args = parser.parse_args()
    if args.figure:
        projection_figure(*args.figure)
        return
    if not args.files:
        from core import timeline

        if not timeline.has_timeline(args.model):
            raise SystemExit(f"{args.model} has no timeline: `python -m core.train --timeline {args.model}` records one.")
        beside = args.beside if timeline.has_timeline(args.beside) else None
        process, url = start_server()
        try:
            browser_figures(url, args.model, beside, args.switches)
        finally:
            stop_server(process)
    file_figures()


if __name__ == "__main__":
    main()
