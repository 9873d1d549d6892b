"""core.classical: each filter cleans noisy digits and keeps their shape; tuned values; curves named by their inputs."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from core import classical, data, denoise, metrics
from core.classical import METHODS, TUNED


class AlwaysReads(nn.Module):
    """A classifier that reads every image as the same digit."""

    def forward(self, x, y=None):
        return {"logits": nn.functional.one_hot(torch.full((len(x),), 7), 10).float() * 5}


@pytest.fixture(scope="module")
def digits():
    test = data.load("mnist", "test")
    return (test.images[:24] / 255.0).astype(np.float32), test.labels[:24]


@pytest.mark.parametrize("method", list(METHODS))
def test_each_filter_reduces_gaussian_noise_and_keeps_the_shape(method, digits):
    clean, _ = digits
    noisy = data.add_noise(clean, "gaussian", 0.5, seed=3)
    out = classical.denoise(method, noisy)
    assert out.shape == clean.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1 and np.isfinite(out).all()
    assert metrics.psnr(out, clean).mean() > metrics.psnr(noisy, clean).mean() + 1.0  # at least 1 dB cleaner
    assert metrics.ssim(out, clean).mean() > metrics.ssim(noisy, clean).mean()


@pytest.mark.parametrize("method", list(METHODS))
def test_one_digit_is_filtered_as_a_batch_of_one(method, digits):
    clean, _ = digits
    noisy = data.add_noise(clean[:3], "salt_pepper", 0.2, seed=1)
    one = classical.denoise(method, noisy[0])
    assert one.shape == (28, 28)
    np.testing.assert_allclose(one, classical.denoise(method, noisy[:1])[0], atol=1e-6)


def test_a_stronger_setting_smooths_more(digits):
    clean, _ = digits
    noisy = data.add_noise(clean, "gaussian", 0.5, seed=3)
    grid = METHODS["gaussian_blur"].grid
    light, heavy = classical.denoise("gaussian_blur", noisy, grid[0]), classical.denoise("gaussian_blur", noisy, grid[-1])
    assert heavy.std() < light.std() < noisy.std()


def test_bad_requests_get_a_sentence():
    with pytest.raises(ValueError, match="no classical filter called 'sharpen'; the filters are gaussian_blur"):
        classical.denoise("sharpen", np.zeros((1, 28, 28)))
    with pytest.raises(ValueError, match="28x28 pixels, not an array of shape \\(2, 32, 32\\)"):
        classical.denoise("median", np.zeros((2, 32, 32)))
    assert classical.denoise("median", np.zeros((0, 28, 28))).shape == (0, 28, 28)


@pytest.mark.parametrize("method", list(METHODS))
def test_tuned_values_are_in_the_tuning_grid_and_inside_it(method):
    grid = METHODS[method].grid
    assert TUNED[method] in grid
    assert min(grid) <= TUNED[method] <= max(grid) and len(grid) >= 3
    assert METHODS[method].describe(TUNED[method]).startswith(METHODS[method].parameter)


def test_tuning_scores_every_grid_value_and_a_good_value_beats_no_filtering(digits):
    clean, _ = digits
    scores = classical.tune(clean, "tv_chambolle", "gaussian", 0.5)
    assert list(scores) == list(METHODS["tv_chambolle"].grid)
    noisy = data.add_noise(clean, "gaussian", 0.5, 0)
    assert max(scores.values()) > metrics.psnr(noisy, clean).mean()


# --- curves kept on disk --------------------------------------------------------------------------

def test_a_classical_curve_file_is_named_by_kind_method_tuned_value_and_classifier(monkeypatch, tmp_path):
    monkeypatch.setattr(denoise, "curves_dir", lambda: tmp_path)
    meta = {"name": "classifier", "sha256": "a" * 64}
    path = denoise.classical_sweep_file("masking", "median", meta)
    assert path.parent == tmp_path and "masking" in path.name and "median" in path.name
    assert f"{TUNED['median']:g}" in path.name and "a" * 12 in path.name
    assert denoise.classical_sweep_file("masking", "median", {"sha256": "b" * 64}) != path  # another classifier
    assert denoise.classical_sweep_file("gaussian", "median", meta) != path
    monkeypatch.setitem(TUNED, "median", 5)
    assert denoise.classical_sweep_file("masking", "median", meta) != path  # retuned: a new file


def test_a_classical_line_is_measured_once_then_read_and_an_older_file_without_ssim_is_remeasured(
        monkeypatch, tmp_path, digits):
    monkeypatch.setattr(denoise, "curves_dir", lambda: tmp_path)
    clean, labels = digits
    classifier = (AlwaysReads(), {"name": "classifier", "sha256": "c" * 64})
    calls = []
    line = denoise.stored_classical_line("gaussian_blur", "gaussian", clean, labels, classifier, calls.append)
    assert calls and len(line.ssim) == len(line.psnr) == len(denoise.NOISE_RANGES["gaussian"].grid())
    assert np.all(np.diff(line.ssim) < 0.05)  # more noise never cleans a digit up much
    path = denoise.classical_sweep_file("gaussian", "gaussian_blur", classifier[1])
    assert path.is_file()
    calls.clear()
    again = denoise.stored_classical_line("gaussian_blur", "gaussian", clean, labels, classifier, calls.append)
    assert not calls
    np.testing.assert_allclose(again.psnr, line.psnr, atol=1e-4)
    np.testing.assert_allclose(again.accuracy, (labels == 7).mean(), atol=1e-4)  # kept to 5 decimals
    values = json.loads(path.read_text())
    del values["ssim"]
    path.write_text(json.dumps(values))
    denoise.stored_classical_line("gaussian_blur", "gaussian", clean, labels, classifier, calls.append)
    assert calls and "ssim" in json.loads(path.read_text())
