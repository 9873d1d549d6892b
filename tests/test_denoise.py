"""core.denoise: denoising one or many digits, per-digit scores, and sweeps over noise strength."""

import numpy as np
import pytest
import torch
from torch import nn

import core
from core import checkpoints, data, denoise, inference, metrics
from core.registry import create_model


class Identity(nn.Module):
    """A "denoiser" that returns its input: its scores must equal the noisy input's."""

    def forward(self, x, y=None):
        return {"recon": x}


class AlwaysReads(nn.Module):
    """A classifier that reads every image as the same digit."""

    def __init__(self, digit: int):
        super().__init__()
        self.digit = digit

    def forward(self, x, y=None):
        return {"logits": nn.functional.one_hot(torch.full((len(x),), self.digit), 10).float() * 5}


@pytest.fixture(scope="module")
def digits():
    test = data.load("mnist", "test")
    return test.images[:200] / 255.0, test.labels[:200]


def test_denoise_keeps_the_shape_of_one_digit_or_many(digits):
    model = create_model("conv").eval()
    clean, _ = digits
    one, many = inference.reconstruct(model, clean[0]), inference.reconstruct(model, clean[:5])
    assert one.shape == (28, 28) and many.shape == (5, 28, 28)
    assert one.dtype == np.float32 and many.min() >= 0 and many.max() <= 1
    np.testing.assert_allclose(one, many[0], atol=1e-6)


def test_psnr_is_capped_for_untouched_digits(digits):
    clean, _ = digits
    assert np.all(denoise.psnr_db(clean[:3], clean[:3]) == denoise.PSNR_CAP_DB)
    noisy = data.add_noise(clean[:3], "gaussian", 0.3)
    np.testing.assert_allclose(denoise.psnr_db(noisy, clean[:3]), metrics.psnr(noisy, clean[:3]))


def test_noise_and_denoise_scores_each_digit(digits):
    clean, _ = digits
    result = denoise.noise_and_denoise(Identity(), clean[:8], "salt_pepper", 0.2, seed=1)
    assert result.noisy.shape == result.denoised.shape == (8, 28, 28)
    assert not np.allclose(result.noisy, result.clean)
    np.testing.assert_allclose(result.denoised, result.noisy)
    np.testing.assert_allclose(result.psnr_denoised, result.psnr_noisy)
    np.testing.assert_allclose(result.ssim_noisy, metrics.ssim(result.noisy, clean[:8]), rtol=1e-5)
    again = denoise.noise_and_denoise(Identity(), clean[:8], "salt_pepper", 0.2, seed=1)
    np.testing.assert_array_equal(again.noisy, result.noisy)  # seeded


def test_classify_and_accuracy(digits):
    clean, labels = digits
    digit, probability = inference.read_digits(AlwaysReads(3), clean[:10])
    assert (digit == 3).all() and np.all((probability > 0.5) & (probability <= 1))
    assert denoise.accuracy(AlwaysReads(3), clean, labels) == pytest.approx((labels == 3).mean())


@pytest.mark.parametrize("kind", list(denoise.NOISE_RANGES))
def test_strength_grid_matches_the_slider(kind):
    noise = denoise.NOISE_RANGES[kind]
    grid = noise.grid()
    assert grid[0] == pytest.approx(noise.step) and grid[-1] == pytest.approx(noise.high)
    assert np.allclose(np.diff(grid), noise.step)
    assert np.isclose(grid, noise.default).any()


def test_sweep_line_of_the_noisy_input_falls_with_strength(digits):
    clean, labels = digits
    seen = []
    line = denoise.sweep_line(None, AlwaysReads(1), clean, labels, "gaussian", on_progress=seen.append)
    assert line.psnr.shape == line.accuracy.shape == line.strengths.shape == line.ssim.shape == (10,)
    assert np.all(np.diff(line.psnr) < 0) and np.all(np.diff(line.ssim) < 0) and np.all(line.ssim <= 1)
    assert np.allclose(line.accuracy, (labels == 1).mean())
    assert seen == pytest.approx(list(np.arange(1, 11) / 10))
    identity = denoise.sweep_line(Identity(), AlwaysReads(1), clean, labels, "gaussian")
    np.testing.assert_allclose(identity.psnr, line.psnr)  # the same seeded noise for every model


def test_shipped_denoiser_beats_the_noisy_input_and_the_plain_autoencoder(digits):
    clean, labels = digits
    models = {name: checkpoints.load(name)[0] for name in ("denoising", "conv", "classifier")}
    strengths = np.array([0.5])  # the noise the denoising model trained on
    noisy = denoise.sweep_line(None, models["classifier"], clean, labels, "gaussian", strengths)
    denoised = denoise.sweep_line(models["denoising"], models["classifier"], clean, labels, "gaussian", strengths)
    plain = denoise.sweep_line(models["conv"], models["classifier"], clean, labels, "gaussian", strengths)
    assert denoised.psnr[0] > noisy.psnr[0] + 3
    assert denoised.psnr[0] > plain.psnr[0]
    assert denoised.accuracy[0] > noisy.accuracy[0]


def test_sweep_lines_are_kept_on_disk_by_weights_hash(checkpoint_dir):
    import shutil

    for name in ("classifier", "conv"):
        shutil.copy(core.PROJECT_DIR / "checkpoints" / f"{name}.safetensors", checkpoint_dir)
    test = data.load("mnist", "test")
    clean, labels = test.images[:50] / 255.0, test.labels[:50]
    calls = []
    measured = denoise.stored_sweep_line("conv", "masking", clean, labels, on_progress=calls.append)
    assert calls and calls[-1] == 1.0
    files = list((checkpoint_dir / "curves").glob("masking-conv-*.json"))
    assert len(files) == 1 and checkpoints.load("conv")[1]["sha256"][:12] in files[0].name
    calls.clear()
    again = denoise.stored_sweep_line("conv", "masking", clean, labels, on_progress=calls.append)
    assert calls == []  # read from disk, not measured
    assert np.allclose(again.psnr, measured.psnr, atol=1e-4) and np.allclose(again.accuracy, measured.accuracy)


def test_a_classical_filter_is_swept_like_a_model(digits):
    clean, labels = digits
    noisy = denoise.sweep_line(None, AlwaysReads(1), clean, labels, "salt_pepper", np.array([0.2]))
    median = denoise.sweep_line("median", AlwaysReads(1), clean, labels, "salt_pepper", np.array([0.2]))
    assert median.psnr[0] > noisy.psnr[0] + 3 and median.ssim[0] > noisy.ssim[0]


class Blur(nn.Module):
    """A "denoiser" that returns a blurred input: its outputs sit nearer the class averages than sharp digits."""

    def forward(self, x, y=None):
        return {"recon": nn.functional.avg_pool2d(x, 5, stride=1, padding=2)}


def test_comparing_two_denoisers_measures_both_and_picks_a_case_by_its_measure(digits):
    clean, labels = digits
    train = data.load("mnist", "train")
    averages = denoise.class_averages(train.images[:5000], train.labels[:5000])
    assert averages.shape == (10, 28, 28) and averages.min() >= 0 and averages.max() <= 1
    classifier = checkpoints.load("classifier")[0]
    compared = denoise.compare_models(Identity(), Blur(), ("same", "blur"), classifier, clean, labels, averages)
    assert compared.digits == len(clean) and compared.names == ("same", "blur")
    assert compared.psnr["same"] == pytest.approx(compared.psnr["noisy"])  # Identity gives the noisy input back
    assert compared.typicality["blur"] < compared.typicality["same"]
    noisy = data.add_noise(clean, *denoise.COMPARE_NOISE, seed=0)
    typical = averages[labels]
    outputs = {"same": noisy, "blur": inference.reconstruct(Blur(), noisy)}
    right = {n: inference.read_digits(classifier, x)[0] == labels for n, x in outputs.items()}
    gap = denoise.rms_distance(outputs["same"], typical) - denoise.rms_distance(outputs["blur"], typical)
    both = right["same"] & right["blur"]
    assert both[compared.case] and gap[compared.case] == pytest.approx(gap[both].max())
    assert compared.case_distance["clean"] == pytest.approx(denoise.rms_distance(clean, typical)[compared.case])
    assert denoise.ModelsCompared.from_json(compared.to_json().decode()) == compared


def test_a_comparison_is_kept_named_by_both_models_and_the_classifier(checkpoint_dir, digits):
    import shutil

    for name in ("classifier", "denoising", "conv"):
        shutil.copy(core.PROJECT_DIR / "checkpoints" / f"{name}.safetensors", checkpoint_dir)
    clean, labels = digits
    averaged = []

    def averages():
        averaged.append(1)
        return denoise.class_averages(clean, labels)

    first = denoise.stored_comparison(("conv", "denoising"), clean[:40], labels[:40], averages)
    files = list((checkpoint_dir / "curves").glob("compare-*.json"))
    metas = [checkpoints.load(n)[1]["sha256"][:12] for n in ("conv", "denoising", "classifier")]
    assert len(files) == 1 and all(sha in files[0].name for sha in metas)
    again = denoise.stored_comparison(("conv", "denoising"), clean[:40], labels[:40], averages)
    assert again == first and averaged == [1]  # read from disk the second time


def test_out_of_depth_says_so_for_a_blank_output_or_an_unsure_reading(digits):
    clean, _ = digits
    noisy = data.add_noise(clean[:1], "gaussian", 0.5, seed=0)[0]
    for blank in (np.zeros((28, 28), np.float32), np.full((28, 28), 0.5, np.float32)):
        assert denoise.agreement(noisy, blank) == 0.0
        sentence = denoise.out_of_depth(noisy, blank, 0.99)
        assert sentence is not None and "out of its depth" in sentence and sentence.endswith(".")
    unsure = denoise.out_of_depth(clean[0], clean[0], 0.31)
    assert unsure is not None and "only 31% sure" in unsure
    assert denoise.out_of_depth(clean[0], clean[0], 0.99) is None
    assert denoise.out_of_depth(clean[0], clean[0], None) is None  # no classifier: shape alone
    assert denoise.agreement(noisy, clean[0]) > denoise.LOW_AGREEMENT  # noise alone is not a disagreement


def test_the_shipped_denoiser_knows_a_page_of_noise_is_no_digit(digits):
    clean, _labels = digits
    models = {name: checkpoints.load(name)[0] for name in ("denoising", "classifier")}
    noisy = data.add_noise(clean, "gaussian", 0.5, seed=2)
    denoised = inference.reconstruct(models["denoising"], noisy)
    confidence = inference.read_digits(models["classifier"], denoised)[1]
    flagged = [denoise.out_of_depth(a, b, c) is not None for a, b, c in zip(noisy, denoised, confidence)]
    assert np.mean(flagged) <= 0.10  # noise it knows: a result for nine in ten (the rest, half misread)
    nothing = data.add_noise(np.zeros((3, 28, 28), np.float32), "gaussian", 1.0, seed=2)  # noise, no digit
    output = inference.reconstruct(models["denoising"], nothing)
    confidence = inference.read_digits(models["classifier"], output)[1]
    assert all(denoise.out_of_depth(a, b, c) is not None for a, b, c in zip(nothing, output, confidence))
