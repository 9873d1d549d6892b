"""Generation helpers: class centroids, prior samples with a temperature, classifier probabilities."""

import numpy as np
import pytest
import torch

from core.generate import class_centroids, prior_samples
from core.inference import classify
from core.registry import create_model


def test_centroids_are_the_mean_code_of_each_class():
    labels = np.array([0, 0, 1, 2, 2, 2])
    codes = np.array([[0.0, 2.0], [2.0, 0.0], [5.0, 5.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    np.testing.assert_allclose(class_centroids(codes, labels, classes=3), [[1, 1], [5, 5], [2, 2]])


def test_a_class_without_codes_has_no_centroid():
    with pytest.raises(ValueError, match="class 2"):
        class_centroids(np.zeros((2, 4)), np.array([0, 1]), classes=3)


def test_prior_samples_are_seeded_and_scaled_by_temperature():
    a = prior_samples(16, 4000, temperature=1.0, seed=3)
    assert a.shape == (4000, 16) and a.dtype == np.float32
    np.testing.assert_array_equal(a, prior_samples(16, 4000, temperature=1.0, seed=3))
    assert not np.array_equal(a, prior_samples(16, 4000, temperature=1.0, seed=4))
    np.testing.assert_allclose(prior_samples(16, 4000, temperature=0.5, seed=3), 0.5 * a, rtol=1e-6)
    assert abs(a.std() - 1.0) < 0.03


def test_temperature_must_be_positive():
    with pytest.raises(ValueError, match="above 0"):
        prior_samples(2, 1, temperature=0.0)


def test_classify_gives_probabilities_per_image():
    torch.manual_seed(0)
    classifier = create_model("classifier").eval()
    images = np.random.default_rng(0).random((5, 28, 28))
    probabilities = classify(classifier, images)
    assert probabilities.shape == (5, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    single = classify(classifier, images[0])  # one image (28, 28) works too
    np.testing.assert_allclose(single[0], probabilities[0], rtol=1e-5)
