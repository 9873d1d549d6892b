"""How fast the Generate page's digit follows a drag, in headless Chromium, against a plain slider.

    python -m bench.bench_generate              # vae (16 sliders) and the vae2 pad
    python -m bench.bench_generate --moves 600 --releases 20

Starts the app on a free port (as the browser tests do), opens the "Live sliders" tab and prints:
- decode + draw: milliseconds per frame of the in-browser decoder, called in a loop in the page;
- drag, paced by animation frames: an input event (a pointer move on the pad, a new value on a
  slider) once per animation frame for two seconds, as a mouse on a 60 Hz screen gives, and the
  digit updates per second (the frame rate itself drops when the machine is busy);
- drag, driven: real mouse moves sent by Playwright one after another as fast as it can
  (each waits for a round trip to the browser, so this bounds the rate from below);
- slider release: seconds from an st.slider change (the fallback control) to the server's new
  image on screen, the rerun every peer app pays per release.
"""

from __future__ import annotations

import argparse
import statistics
import time

from playwright.sync_api import sync_playwright

from tests.app_server import CHROMIUM, VIEWPORT, start_server, stop_server, wait_for_app

PACED_MOVES = """
([target, seconds]) => new Promise((resolve) => {
  // One input per animation frame, as a mouse on a 60 Hz screen gives: pointer moves on the
  // pad, or new values on a range input (what dragging its thumb fires).
  const box = target.getBoundingClientRect();
  const canvas = target.getRootNode().querySelector("canvas.lp-digit");
  const slider = target.tagName === "INPUT";
  const first = Number(canvas.dataset.frames);
  const began = performance.now();
  let moves = 0;
  if (!slider) target.dispatchEvent(new PointerEvent("pointerdown", {clientX: box.left + 5, clientY: box.top + 5, pointerId: 1}));
  function step(now) {
    const t = (now - began) / 1000;
    if (t >= seconds) {
      if (!slider) target.dispatchEvent(new PointerEvent("pointerup", {pointerId: 1}));
      resolve({updates: (Number(canvas.dataset.frames) - first) / t, moves: moves / t});
      return;
    }
    if (slider) {
      target.value = String(2.5 * Math.sin(2 * t));
      target.dispatchEvent(new Event("input", {bubbles: true}));
    } else {
      const x = box.left + box.width * (0.5 + 0.45 * Math.sin(2 * t));
      const y = box.top + box.height * (0.5 + 0.45 * Math.cos(3 * t));
      target.dispatchEvent(new PointerEvent("pointermove", {clientX: x, clientY: y, pointerId: 1}));
    }
    moves += 1;
    requestAnimationFrame(step);
  }
  requestAnimationFrame(step);
})
"""

DECODE_LOOP = """
([canvas, n]) => {
  const api = canvas.latentPad;
  const size = api.latent().length;
  const began = performance.now();
  for (let i = 0; i < n; i++) api.setLatent(Array.from({length: size}, (_, k) => Math.sin(i + k)));
  return (performance.now() - began) / n;
}
"""


def driven_drag(page, canvas, target, moves: int) -> float:
    """Digit updates per second while Playwright moves the mouse across `target`, pressed."""
    box = target.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 3, y)
    page.mouse.down()
    first, began = int(canvas.get_attribute("data-frames")), time.perf_counter()
    for i in range(moves):
        t = (i % 100) / 100 if (i // 100) % 2 == 0 else 1 - (i % 100) / 100  # back and forth
        page.mouse.move(box["x"] + 3 + (box["width"] - 6) * t, y)
    rate = (int(canvas.get_attribute("data-frames")) - first) / (time.perf_counter() - began)
    page.mouse.up()
    return rate


def release_seconds(page, releases: int) -> list[float]:
    """Seconds from an st.slider keyboard step (it commits at once, like a release) to the new image."""
    page.get_by_text("Plain sliders").nth(1).click()
    image = page.locator('[data-testid="stExpanderDetails"] img').nth(1)
    thumb = page.locator(".st-key-gen_vae2_slider0 input[type='range']")
    times = []
    for i in range(releases):
        before = image.get_attribute("src")
        thumb.focus()
        began = time.perf_counter()
        thumb.press("ArrowLeft" if i % 2 else "ArrowRight")
        page.wait_for_function("([img, old]) => img.getAttribute('src') !== old", arg=[image.element_handle(), before])
        times.append(time.perf_counter() - began)
        wait_for_app(page)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=300, help="mouse moves per driven drag")
    parser.add_argument("--releases", type=int, default=10, help="st.slider steps to time")
    args = parser.parse_args(argv)

    process, url = start_server()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(f"{url}/Generate?gen_tab=Live+sliders")
            wait_for_app(page)
            for pad, label in [("gen_vae", "vae, 16 sliders"), ("gen_vae2", "vae2, 2-D pad")]:
                canvas = page.locator(f'[data-pad="{pad}"] canvas.lp-digit')
                canvas.wait_for()
                page.wait_for_function("c => Number(c.dataset.frames) > 0", arg=canvas.element_handle())
                ms = page.evaluate(DECODE_LOOP, [canvas.element_handle(), 500])
                print(f"{label}: decode + draw {ms:.2f} ms per frame (at most {1000 / ms:.0f} frames/s)")
                target = page.locator(f'[data-pad="{pad}"] ' + ("canvas.lp-pad" if pad == "gen_vae2" else 'input[data-index="0"]'))
                target.scroll_into_view_if_needed()
                paced = page.evaluate(PACED_MOVES, [target.element_handle(), 2.0])
                print(f"{label}: drag paced by animation frames: {paced['updates']:.0f} digit updates/s "
                      f"for {paced['moves']:.0f} inputs/s")
                rate = driven_drag(page, canvas, target, args.moves)
                print(f"{label}: drag driven by Playwright mouse moves: {rate:.0f} digit updates/s")
                wait_for_app(page)
            times = release_seconds(page, args.releases)
            print(f"st.slider fallback: release -> new server image {1000 * statistics.median(times):.0f} ms "
                  f"median ({1000 * min(times):.0f}-{1000 * max(times):.0f} ms over {len(times)} releases)")
            browser.close()
    finally:
        stop_server(process)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
