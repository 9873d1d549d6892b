"""The one vocabulary for running models on numpy batches, and the tasks core assembles from it."""

import numpy as np
import pytest

from core import anomaly, checkpoints, data, denoise, inference
from core.registry import create_model


@pytest.fixture(scope="module")
def test_digits():
    return data.load("mnist", "test").subset(np.arange(12))


@pytest.mark.parametrize("name", ["dense", "conv", "vae", "cvae"])
def test_encode_decode_and_reconstruct_agree_on_shapes_and_inputs(name, test_digits):
    model = create_model(name).eval()
    labels = test_digits.labels if model.is_conditional else None
    codes = inference.encode(model, test_digits.images, labels)
    assert codes.shape == (12, int(np.prod(model.code_shape)))
    from_floats = inference.encode(model, test_digits.images / 255.0, labels)
    np.testing.assert_allclose(codes, from_floats, atol=1e-5)  # uint8 and [0, 1] floats are the same digits
    decoded = inference.decode(model, codes.reshape(12, *model.code_shape), labels)
    assert decoded.shape == (12, 28, 28) and decoded.min() >= 0 and decoded.max() <= 1
    rebuilt = inference.reconstruct(model, test_digits.images, labels)
    assert rebuilt.shape == (12, 28, 28)
    one = inference.reconstruct(model, test_digits.images[0], None if labels is None else labels[:1])
    assert one.shape == (28, 28)
    np.testing.assert_allclose(one, rebuilt[0], atol=1e-5)


def test_classify_and_read_digits_give_probabilities_and_the_digit():
    classifier = checkpoints.load("classifier")[0]
    test = data.load("mnist", "test").subset(np.arange(50))
    probabilities = inference.classify(classifier, test.images)
    assert probabilities.shape == (50, 10) and np.allclose(probabilities.sum(1), 1, atol=1e-5)
    digit, probability = inference.read_digits(classifier, test.images)
    assert (digit == test.labels).mean() >= 0.95 and np.all(probability == probabilities.max(1))


def test_clean_up_reads_every_stage_and_flags_an_output_that_keeps_nothing():
    denoiser, classifier = checkpoints.load("denoising")[0], checkpoints.load("classifier")[0]
    test = data.load("mnist", "test").subset(np.arange(5))
    results = denoise.clean_up(denoiser, test.images / 255.0, classifier, ("gaussian", 0.5))
    assert len(results) == 5
    for result, label in zip(results, test.labels):
        assert not np.array_equal(result.model_input, result.prepared)  # the noise went in
        assert set(result.readings) == {"prepared", "model_input", "output"}
        assert result.readings["output"][0] == label and result.verdict is None
    blank = denoise.clean_up(denoiser, np.zeros((1, 28, 28), np.float32), classifier)[0]
    assert blank.verdict is not None and "out of its depth" in blank.verdict
    without = denoise.clean_up(denoiser, test.images[:1] / 255.0)[0]
    assert without.readings is None and np.array_equal(without.model_input, without.prepared)


def test_the_anomaly_gallery_pairs_digits_with_rebuilds_and_scores():
    model = checkpoints.load("vae_one")[0]
    digits = data.load("mnist", "test")
    result = anomaly.score_digits(model, digits.subset(np.arange(300)), 7)
    positions = anomaly.most_anomalous(result, 6)
    shown = anomaly.gallery(model, result, digits, positions)
    assert shown.originals.shape == shown.rebuilt.shape == (6, 28, 28)
    assert list(shown.scores) == sorted(shown.scores, reverse=True) and np.all(shown.labels == result.labels[positions])
