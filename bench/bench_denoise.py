"""How long an upload takes to come back denoised on the Denoising page, in headless Chromium.

    python -m bench.bench_denoise               # 10 warm uploads of a 240x200 PNG
    python -m bench.bench_denoise --uploads 20 --size 3000

Starts the app on a free port (as the browser tests do), opens the Upload tab, uploads one image
to warm the server (models loaded), then for each timed upload opens a fresh session and measures
seconds from `set_input_files` to the denoised digit on screen (every image of its result decoded
by the browser): browser upload, rerun, preprocessing, denoising, classifying and image transfer.
Also prints `core.images.prepare_upload` alone, to show what the server's share is. Goal: <= 0.5 s.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time

from PIL import Image
from playwright.sync_api import sync_playwright

from core import data, images
from tests.app_server import CHROMIUM, VIEWPORT, start_server, stop_server, wait_for_app

RESULT_ON_SCREEN = """(name) => {
    const box = [...document.querySelectorAll('[class*="st-key-den_result_"]')].find(b => b.innerText.includes(name));
    const pictures = box ? [...box.querySelectorAll('img')] : [];
    return pictures.length >= 3 && pictures.every(p => p.complete && p.naturalWidth > 0);
}"""


def scanned_digit(index: int, size: int) -> bytes:
    """A test digit, dark on light, enlarged to `size` px wide: what someone would upload."""
    digit = data.load("mnist", "test").images[index]
    buffer = io.BytesIO()
    Image.fromarray(255 - digit).resize((size, size * 5 // 6)).save(buffer, "PNG")
    return buffer.getvalue()


def upload_seconds(page, url: str, name: str, content: bytes) -> float:
    page.goto(f"{url}/Denoising?den_tab=Upload")
    wait_for_app(page)
    field = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    began = time.perf_counter()
    field.set_input_files([{"name": name, "mimeType": "image/png", "buffer": content}])
    page.wait_for_function(RESULT_ON_SCREEN, arg=name, timeout=60_000)
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=10, help="timed uploads, each in a fresh session")
    parser.add_argument("--size", type=int, default=240, help="width in pixels of the uploaded image")
    args = parser.parse_args(argv)

    files = [scanned_digit(i, args.size) for i in range(args.uploads + 1)]
    prepare = []
    for content in files:
        began = time.perf_counter()
        images.prepare_upload(content)
        prepare.append(time.perf_counter() - began)

    process, url = start_server()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport=VIEWPORT)
            cold = upload_seconds(page, url, "warm-up.png", files[0])
            times = [upload_seconds(page, url, f"digit-{i}.png", content) for i, content in enumerate(files[1:])]
            browser.close()
    finally:
        stop_server(process)

    print(f"image: {args.size}x{args.size * 5 // 6} PNG, {len(files[1]) / 1000:.1f} kB; "
          f"machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"prepare_upload alone: {1000 * statistics.median(prepare):.0f} ms median")
    print(f"first upload (cold: models load): {cold:.2f} s")
    print(f"upload -> denoised digit on screen, warm: {statistics.median(times):.2f} s median, "
          f"{min(times):.2f}-{max(times):.2f} s over {len(times)} uploads (goal <= 0.5 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
