"""The Denoising page in a real browser: uploads (good, bad, animated), drawing on the canvas, the noise lab."""

import io

import numpy as np
from PIL import Image

from core import data
from tests.app_server import wait_for_app
from tests.e2e.conftest import draw_seven, no_exception, open_page, screenshot

RESULTS_LOADED = """(name) => {
    const boxes = [...document.querySelectorAll('[class*="st-key-den_result_"]')];
    const box = boxes.find(b => b.innerText.includes(name));
    if (!box) return false;
    const pictures = [...box.querySelectorAll('img')];
    return pictures.length >= 3 && pictures.every(p => p.complete && p.naturalWidth > 0);
}"""


def digit_file(index: int, fmt: str = "PNG", frames: int = 1) -> bytes:
    """A test digit enlarged on light paper, as a scan would be; several digits for an animation."""
    pages = [Image.fromarray(255 - d).resize((240, 200)) for d in data.load("mnist", "test").images[index:index + frames]]
    buffer = io.BytesIO()
    pages[0].save(buffer, fmt, save_all=frames > 1, append_images=pages[1:])
    return buffer.getvalue()


def upload(page, files: list[tuple[str, bytes, str]]) -> None:
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        [{"name": name, "mimeType": mime, "buffer": content} for name, content, mime in files])


def test_uploads_are_denoised_and_bad_files_explained(page, app_url):
    open_page(page, app_url, "Denoising?den_tab=Upload")
    no_exception(page)
    upload(page, [("scan.png", digit_file(0), "image/png"),
                  ("notes.png", b"shopping list: milk, eggs", "image/png"),
                  ("flip.gif", digit_file(1, "GIF", frames=3), "image/gif")])
    page.wait_for_function(RESULTS_LOADED, arg="scan.png", timeout=60_000)
    page.wait_for_function(RESULTS_LOADED, arg="flip.gif", timeout=60_000)
    wait_for_app(page)
    no_exception(page)
    main = page.locator('[data-testid="stMain"]')
    error = page.locator('[data-testid="stAlertContentError"]')
    assert error.count() == 1
    assert "notes.png: This file is not a PNG, JPEG, BMP, GIF or WebP image." in error.inner_text()
    assert "only the first frame is used" in main.inner_text()
    assert page.get_by_text("Download the denoised digit (PNG)").count() == 2
    screenshot(page, "denoising_upload")


def test_drawing_on_the_canvas_gives_a_denoised_digit(page, app_url):
    open_page(page, app_url, "Denoising?den_tab=Draw")
    no_exception(page)
    draw_seven(page)
    result = page.locator('[data-testid="stImage"]', has_text="denoised by")
    result.first.wait_for(timeout=60_000)
    wait_for_app(page)
    no_exception(page)
    captions = page.locator('[data-testid="stMain"]').inner_text()
    assert "as MNIST sees it" in captions and "reconstructed by conv" in captions
    assert "reads as" in captions
    screenshot(page, "denoising_draw")


def test_noise_lab_measures_the_denoiser(page, app_url):
    page.goto(f"{app_url}/Denoising")
    wait_for_app(page, timeout=900_000)  # curves not kept on disk are measured here, under a progress bar
    page.locator('[data-testid="stPlotlyChart"] .main-svg').nth(1).wait_for(timeout=30_000)
    no_exception(page)
    text = page.locator('[data-testid="stMain"]').inner_text()
    assert "Measured over 1,000 test digits" in text
    assert "Accuracy on digits denoised by" in text and "best classical filter is" in text
    pictures = page.locator(".st-key-den_lab_digits img")
    assert pictures.count() == 8
    assert np.all([pictures.nth(i).evaluate("p => p.naturalWidth") > 0 for i in range(8)])
    row = page.locator(".st-key-den_methods img")
    assert row.count() >= 10  # clean, noisy, the autoencoders, six classical filters
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 3
    screenshot(page, "denoising_lab")


def test_on_a_phone_the_noise_lab_keeps_its_controls_in_view_and_its_digits_compact(phone, app_url):
    page = phone
    page.goto(f"{app_url}/Denoising")
    wait_for_app(page, timeout=900_000)
    no_exception(page)
    strength = page.locator('[data-testid="stMain"]').get_by_text("Strength: noise factor")
    strength.wait_for(state="visible", timeout=60_000)  # in the main pane, not in the closed sidebar
    digits = page.locator(".st-key-den_lab_digits")
    digits.locator("img").nth(7).wait_for(timeout=60_000)
    assert digits.bounding_box()["height"] < 1000  # two rows of four, not eight stacked (~5,200 px)
    methods = page.locator(".st-key-den_methods")
    methods.locator("img").nth(9).wait_for(timeout=60_000)
    assert methods.bounding_box()["height"] < 1000  # three rows of four, not eleven stacked
    screenshot(page, "denoising_lab_390")


def test_the_two_autoencoders_side_by_side(page, app_url):
    open_page(page, app_url, "Denoising?den_tab=Skips+or+bottleneck")
    no_exception(page)
    text = page.locator('[data-testid="stMain"]').inner_text()
    if "The comparison needs both" in text:  # a checkout without the U-Net's checkpoint says so in a sentence
        assert "unet" in text
    else:
        page.locator(".st-key-den_case img").nth(4).wait_for(timeout=60_000)
        assert "times as far from their class's average" in text and "A case: test digit" in text
    screenshot(page, "denoising_pair")
