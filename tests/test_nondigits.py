"""Things that are not digits on the Denoising page: pure noise is said to be no digit, a blank page
gets one plain sentence, and real digits are not refused for it."""

import numpy as np
import pytest

from bench.bench_nondigits import corpus, png
from core import checkpoints, data, denoise
from tests.test_page_denoising import of_type, open_page, png_of_digit, result_box


@pytest.fixture(scope="module")
def models():
    return {name: checkpoints.load(name)[0] for name in ("denoising", "classifier", "vae")}


def test_the_vae_judge_refuses_noise_and_keeps_noisy_digits(models):
    from core import images

    noise = np.stack([images.prepare_upload(f).image for f in corpus(12, seed=3)["noise"]])
    refused = [r.verdict for r in denoise.clean_up(models["denoising"], noise, models["classifier"], judge=models["vae"])]
    assert sum(v is not None and "does not look like a digit" in v for v in refused) >= 10
    test = data.load("mnist", "test")
    digits = denoise.clean_up(models["denoising"], test.images[:300] / 255.0, models["classifier"],
                              ("gaussian", 0.5), judge=models["vae"])
    assert not any(r.verdict and "does not look like a digit" in r.verdict for r in digits)


def test_a_square_of_noise_uploaded_is_no_digit_and_gets_no_download():
    from PIL import Image

    rng = np.random.default_rng(0)
    square = png(Image.fromarray((rng.random((28, 28)) * 255).astype(np.uint8)))
    at = open_page("Upload")
    at.get("file_uploader")[0].set_value([("noise.png", square, "image/png"),
                                          ("seven.png", png_of_digit(0), "image/png")]).run()
    assert not at.exception
    warnings = [w.value for w in of_type(result_box(at, 0), "warning")]
    assert len(warnings) == 1 and "does not look like a digit" in warnings[0]
    assert not of_type(result_box(at, 0), "download_button")
    assert of_type(result_box(at, 1), "download_button")  # the digit beside it is denoised as ever


def test_a_blank_page_gets_one_plain_sentence():
    from PIL import Image

    at = open_page("Upload")
    at.get("file_uploader")[0].set_value([("white.png", png(Image.new("L", (120, 120), 255)), "image/png")]).run()
    assert not at.exception
    said = [w.value for w in of_type(result_box(at, 0), "warning")]
    assert len(said) == 1 and "agreement" not in said[0] and "nats" not in said[0]
    assert not of_type(result_box(at, 0), "image")
