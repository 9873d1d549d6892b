"""AppTest: the Denoising page's noise lab responds to its controls; uploads good, bad and mixed."""

import io
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

import core
from core import checkpoints, data, denoise
from core.classical import METHODS
from core.denoise import NOISE_RANGES
from tests.pages import open_app_page

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(autouse=True)
def small_sweep(monkeypatch, tmp_path):
    """Measure over 100 digits instead of 1,000: the page's code path is the same, ten times faster.
    The curves it measures are kept in a temporary folder, never beside the shipped checkpoints."""
    monkeypatch.setattr(denoise, "SWEEP_DIGITS", 100)
    monkeypatch.setattr(denoise, "curves_dir", lambda: tmp_path / "curves")


def open_page(tab: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.switch_page("views/denoising.py")
    if tab:
        at.session_state["den_tab"] = tab
    at.run()
    assert not at.exception
    return at


def of_type(node, kind: str) -> list:
    return [e for e in node if e.type == kind]


def image_urls(node) -> list[str]:
    return [e.proto.imgs[0].url for e in of_type(node, "image")]


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def png_of_digit(index: int, size=(200, 160)) -> bytes:
    """A test digit drawn dark on light and enlarged, as someone would scan it."""
    digit = data.load("mnist", "test").images[index]
    page = Image.fromarray(255 - digit).resize(size)
    buffer = io.BytesIO()
    page.save(buffer, "PNG")
    return buffer.getvalue()


def animated_gif() -> bytes:
    frames = [Image.open(io.BytesIO(png_of_digit(i))) for i in (0, 1)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    return buffer.getvalue()


def result_box(at, number: int):
    return block(at, f"den_result_{number}")


def block(at, key: str):
    boxes = [b for b in at.main if getattr(b, "key", None) == key]
    return boxes[0] if boxes else None


def with_checkpoints(folder: Path, names: tuple[str, ...], untrained: tuple[str, ...] = ()) -> None:
    """Shipped checkpoints copied into a test's folder, and registry models saved untrained (seeded)."""
    import torch

    from core.registry import create_model, get_spec

    for name in names:
        shutil.copy2(core.PROJECT_DIR / "checkpoints" / f"{name}.safetensors", folder)
    for name in untrained:
        torch.manual_seed(0)
        checkpoints.save(name, create_model(name), get_spec(name).recipe)


# --- noise lab ------------------------------------------------------------------------------

def test_noise_lab_shows_digits_scores_and_measurements():
    at = open_page()
    assert len(image_urls(block(at, "den_lab_digits"))) == 8  # one column (clean, noisy, denoised) per digit
    assert sum(c.value.count("→") == 2 and "dB" in c.value for c in at.caption) == 8  # PSNR and SSIM per digit
    shown = metrics(at)
    assert "Mean PSNR of these 8 denoised digits" in shown
    denoiser = at.selectbox(key="den_model").value
    assert "Accuracy on noisy digits" in shown and f"Accuracy on digits denoised by {denoiser}" in shown
    assert len(at.get("plotly_chart")) == 3  # PSNR, SSIM, accuracy
    assert any(s.value == "Measured over 100 test digits" for s in at.subheader)


def test_every_method_is_shown_on_the_chosen_digit_and_measured_in_every_chart():
    at = open_page()
    row = block(at, "den_methods")
    labels = [c.value.split("  \n")[0].strip("*") for c in of_type(row, "caption")]
    assert labels[:2] == ["clean", "noisy"] and labels[-len(METHODS):] == [m.label for m in METHODS.values()]
    assert {"denoising", "conv"} <= set(labels) and len(image_urls(row)) == len(labels)
    assert all(" dB · " in c.value for c in of_type(row, "caption")[1:])  # PSNR and SSIM under each output
    for chart in at.get("plotly_chart"):
        names = {trace["name"] for trace in json.loads(chart.proto.spec)["data"]}
        assert {"noisy input", "denoising", "conv", *(m.label for m in METHODS.values())} <= names
    before = image_urls(row)
    at.get("button_group")[1].set_value(3).run()  # the fourth digit
    assert not at.exception and image_urls(block(at, "den_methods")) != before
    assert any(" best classical filter is " in c.value for c in at.caption)
    at = open_app_page("views/denoising.py", timeout=180, query_params={"den_focus": "4"})  # digits count from 1
    assert at.get("button_group")[1].value == 3 and not at.info


def test_changing_the_noise_changes_the_output():
    at = open_page()
    before_images, before = image_urls(at.main), metrics(at)
    at.slider(key="den_strength_gaussian").set_value(0.9).run()
    assert not at.exception
    after_images, after = image_urls(at.main), metrics(at)
    assert after_images != before_images
    assert after["Accuracy on noisy digits"] != before["Accuracy on noisy digits"]
    assert "strength 0.9" in " ".join(m.value for m in at.markdown)

    at.selectbox(key="den_kind").set_value("salt_pepper").run()
    assert not at.exception
    assert image_urls(at.main) != after_images
    assert "salt and pepper noise" in " ".join(m.value for m in at.markdown)


def test_new_digits_button_and_one_class():
    at = open_page()
    first = image_urls(at.main)
    at.button(key="den_shuffle").click().run()
    assert image_urls(at.main) != first
    at.get("button_group")[0].set_value("One class").run()
    at.selectbox(key="den_class").set_value(3).run()
    assert not at.exception and len(image_urls(block(at, "den_lab_digits"))) == 8


# --- uploads --------------------------------------------------------------------------------

def test_a_good_upload_shows_the_digit_denoised_with_a_download():
    at = open_page("Upload")
    at.get("file_uploader")[0].set_value(("seven.png", png_of_digit(0), "image/png")).run()
    assert not at.exception and not at.error
    box = result_box(at, 0)
    assert box is not None
    captions = [e.proto.imgs[0].caption for e in of_type(box, "image")]
    assert all(url.startswith("data:image/png;base64,") for url in image_urls(box))  # sharp pixels, no JPEG
    assert captions[0] == "your image"
    assert captions[1].startswith("as MNIST sees it, reads as")
    assert captions[2].startswith(f"denoised by {at.selectbox(key='den_model').value}, reads as")
    assert of_type(box, "download_button")[0].key == "den_download_0"
    assert any("PNG 200x160" in c.value and "centre of mass" in c.value for c in of_type(box, "caption"))


def test_adding_noise_to_an_upload_shows_the_noisy_input():
    at = open_page("Upload")
    at.get("file_uploader")[0].set_value(("seven.png", png_of_digit(0), "image/png")).run()
    at.toggle(key="den_upload_noise").set_value(True).run()
    captions = [e.proto.imgs[0].caption for e in of_type(result_box(at, 0), "image")]
    assert len(captions) == 5 and captions[2].startswith("with noise")


def test_the_chosen_classical_filter_is_shown_beside_the_model_and_kept_in_the_link():
    at = open_page("Upload")
    at.get("file_uploader")[0].set_value(("seven.png", png_of_digit(0), "image/png")).run()
    captions = [e.proto.imgs[0].caption for e in of_type(result_box(at, 0), "image")]
    assert captions[3].startswith(f"{METHODS['median'].label} (classical), reads as")
    before = image_urls(result_box(at, 0))
    at.selectbox(key="den_upload_filter").set_value("tv_chambolle").run()
    assert not at.exception
    captions = [e.proto.imgs[0].caption for e in of_type(result_box(at, 0), "image")]
    assert captions[3].startswith(f"{METHODS['tv_chambolle'].label} (classical), reads as")
    assert image_urls(result_box(at, 0))[3] != before[3]
    at = open_app_page("views/denoising.py", timeout=180,
                       query_params={"den_tab": "Draw", "den_draw_filter": METHODS["bm3d"].label})
    assert at.selectbox(key="den_draw_filter").value == "bm3d"
    assert not any("den_draw_filter" in i.value for i in at.info)


# --- the two autoencoders side by side --------------------------------------------------------

def test_the_two_autoencoders_are_compared_with_numbers_and_a_measured_case(checkpoint_dir):
    shipped = tuple(n for n in ("classifier", "denoising", "conv", "unet")
                    if (core.PROJECT_DIR / "checkpoints" / f"{n}.safetensors").is_file())
    with_checkpoints(checkpoint_dir, shipped, untrained=() if "unet" in shipped else ("unet",))
    at = open_page("Skips or bottleneck")
    assert not at.exception and not at.error
    text = " ".join(m.value for m in at.markdown)
    assert "**unet** passes each level's features" in text and "times as far from their class's average" in text
    shown = metrics(at)
    for name in ("unet", "denoising"):
        assert shown[f"PSNR, {name}"].endswith(" dB") and float(shown[f"SSIM, {name}"]) <= 1
        assert float(shown[f"Typicality, {name}"]) > 0
    case = block(at, "den_case")
    labels = [c.value.split("  \n")[0].strip("*") for c in of_type(case, "caption")]
    assert labels[:4] == ["clean", "noisy", "unet", "denoising"] and labels[4].startswith("average ")
    assert len(image_urls(case)) == 5
    assert any(s.value.startswith("A case: test digit ") for s in at.subheader)
    assert any("read right" in c.value and "unet" in c.value for c in at.caption)  # at the chosen noise too


def test_without_the_u_net_the_page_says_so_in_a_sentence_and_uses_the_bottleneck(checkpoint_dir):
    with_checkpoints(checkpoint_dir, ("classifier", "denoising", "conv"))
    at = open_page("Skips or bottleneck")
    assert not at.exception and not at.error
    assert at.selectbox(key="den_model").value == "denoising"
    assert [i.value for i in at.info] == [
        "The comparison needs both unet and denoising. " + checkpoints.status("unet").message]
    assert any(c.value.startswith("Without unet, the page starts on denoising: ") for c in at.caption)


def test_a_bad_upload_gets_one_sentence_and_no_traceback():
    at = open_page("Upload")
    at.get("file_uploader")[0].set_value(("notes.png", b"not an image at all", "image/png")).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["**notes.png**: This file is not a PNG, JPEG, BMP, GIF or WebP image."]
    assert result_box(at, 0) is None


def test_a_mixed_batch_explains_the_bad_files_and_denoises_the_rest():
    at = open_page("Upload")
    at.get("file_uploader")[0].set_value([
        ("seven.png", png_of_digit(0), "image/png"),
        ("empty.png", b"", "image/png"),
        ("cut.png", png_of_digit(1)[:300], "image/png"),
        ("wave.gif", animated_gif(), "image/gif"),
    ]).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert errors == ["**empty.png**: The file is empty (0 bytes).",
                      "**cut.png**: The image data is damaged or incomplete (the file may have been cut off); "
                      "upload the complete file."]
    assert result_box(at, 0) is not None and result_box(at, 3) is not None
    assert result_box(at, 1) is None and result_box(at, 2) is None
    assert [w.value for w in of_type(result_box(at, 3), "warning")] == [
        "This is an animation of 2 frames; only the first frame is used."]


# --- drawing and missing models ------------------------------------------------------------

def test_the_draw_tab_waits_for_a_drawing():
    at = open_page("Draw")
    assert not at.exception
    assert any("as soon as you lift your finger or the mouse" in i.value for i in at.info)


def test_the_page_works_without_a_classifier(checkpoint_dir):
    for name in ("denoising", "conv"):
        shutil.copy2(core.PROJECT_DIR / "checkpoints" / f"{name}.safetensors", checkpoint_dir)
    at = open_page()
    assert len(image_urls(block(at, "den_lab_digits"))) == 8
    notes = " ".join(c.value for c in at.caption)
    assert "No accuracy without the classifier" in notes and "classifier" in notes
    at.session_state["den_tab"] = "Upload"
    at.run()
    at.get("file_uploader")[0].set_value(("seven.png", png_of_digit(0), "image/png")).run()
    assert not at.exception
    captions = [e.proto.imgs[0].caption for e in of_type(result_box(at, 0), "image")]
    assert captions[1] == "as MNIST sees it"


def test_a_link_sets_the_noise_and_the_denoiser_and_a_bad_value_falls_back_with_a_note():
    at = open_app_page("views/denoising.py", timeout=180,
                       query_params={"den_kind": NOISE_RANGES["masking"].label, "den_strength_masking": "0.3",
                                     "den_model": "conv"})
    assert at.selectbox(key="den_kind").value == "masking"
    assert at.slider(key="den_strength_masking").value == 0.3
    assert at.selectbox(key="den_model").value == "conv" and not at.info
    at = open_app_page("views/denoising.py", timeout=180, query_params={"den_kind": "fire"})
    assert at.selectbox(key="den_kind").value == "gaussian"
    assert "`den_kind=fire`" in at.info[0].value


def test_an_out_of_depth_result_is_said_in_a_sentence_not_shown_as_a_result(checkpoint_dir):
    """A denoiser that returns the same grey square for everything: the page must not present it."""
    from core.registry import create_model, get_spec

    for name in ("classifier", "conv"):
        shutil.copy2(core.PROJECT_DIR / "checkpoints" / f"{name}.safetensors", checkpoint_dir)
    flat = create_model("denoising")
    for parameter in flat.parameters():
        parameter.data.zero_()  # every output pixel sigmoid(0) = 0.5
    checkpoints.save("denoising", flat, get_spec("denoising").recipe)
    at = open_page("Upload")
    at.get("file_uploader")[0].set_value(("seven.png", png_of_digit(0), "image/png")).run()
    assert not at.exception and not at.error
    box = result_box(at, 0)
    warnings = [w.value for w in of_type(box, "warning")]
    assert len(warnings) == 1 and "out of its depth" in warnings[0]
    captions = [e.proto.imgs[0].caption for e in of_type(box, "image")]
    assert captions[2].startswith("denoising's output, not a result")
    assert not of_type(box, "download_button")


def test_a_good_upload_gets_no_out_of_depth_warning():
    at = open_page("Upload")
    at.get("file_uploader")[0].set_value(("seven.png", png_of_digit(0), "image/png")).run()
    assert not of_type(result_box(at, 0), "warning")
