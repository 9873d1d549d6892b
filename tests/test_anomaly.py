"""Anomaly scores of a one-digit VAE: the same AUC as core.evaluate, thresholds, precision and recall."""

import numpy as np
import pytest
import torch

from core import anomaly, checkpoints
from core import data as data_lib
from core.evaluate import evaluate_model
from core.inference import negative_elbo
from core.registry import create_model


def toy(scores, labels, digit=7) -> anomaly.AnomalyScores:
    scores = np.asarray(scores, dtype=np.float64)
    return anomaly.AnomalyScores(scores, scores, np.asarray(labels), digit)


@pytest.fixture(scope="module")
def vae_one():
    return checkpoints.load("vae_one")


def test_auc_equals_core_evaluate(vae_one):
    model, meta = vae_one
    result = anomaly.score_digits(model, data_lib.load("mnist", "test"), anomaly.known_digit(meta))
    assert result.digit == 7 and len(result.scores) == 10_000
    assert result.auc == evaluate_model("vae_one", model)["roc_auc"]


def test_known_digit_comes_from_the_recipe_and_all_digit_models_are_refused(vae_one):
    _, meta = vae_one
    assert anomaly.known_digit(meta) == meta["recipe"]["digit"]
    with pytest.raises(ValueError, match="every digit"):
        anomaly.known_digit({"name": "vae2", "recipe": {"digit": None}})
    with pytest.raises(ValueError, match="variational"):
        anomaly.score_digits(create_model("dense").eval(), data_lib.load("mnist", "test").subset(slice(0, 10)), 7)


def test_detection_counts_precision_recall_and_false_alarms():
    result = toy([1, 2, 3, 4], [7, 7, 1, 2])
    clean = anomaly.detect(result, 2.5)
    assert (clean.flagged, clean.precision, clean.recall, clean.false_alarm_rate) == (2, 1.0, 1.0, 0.0)
    loose = anomaly.detect(result, 1.5)
    assert loose.flagged == 3 and loose.precision == pytest.approx(2 / 3) and loose.false_alarm_rate == 0.5
    none = anomaly.detect(result, 10)
    assert (none.flagged, none.precision, none.recall) == (0, 1.0, 0.0)


def test_default_threshold_flags_five_percent_of_the_known_digit():
    rng = np.random.default_rng(0)
    labels = np.repeat([7, 1], 1000)
    result = toy(rng.normal(size=2000) + (labels != 7) * 3, labels)
    threshold = anomaly.default_threshold(result)
    assert anomaly.detect(result, threshold).false_alarm_rate == pytest.approx(anomaly.FALSE_ALARM_RATE, abs=0.002)


def test_roc_curve_runs_corner_to_corner_and_its_area_is_the_auc():
    rng = np.random.default_rng(1)
    labels = np.repeat([7, 3], 300)
    result = toy(rng.normal(size=600) + (labels != 7), labels)
    fpr, tpr, _ = result.roc_curve
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)
    assert np.trapezoid(tpr, fpr) == pytest.approx(result.auc)


def test_most_anomalous_are_the_highest_scores_first():
    result = toy([5, 1, 9, 3], [7, 7, 1, 2])
    assert list(anomaly.most_anomalous(result, 3)) == [2, 0, 3]


def test_one_image_is_scored_as_the_split_is(vae_one):
    model, _ = vae_one
    image = data_lib.load("mnist", "test").images[0] / 255.0
    expected = negative_elbo(model, torch.tensor(image, dtype=torch.float32).reshape(1, 1, 28, 28))["nelbo"][0]
    assert anomaly.score_image(model, image) == pytest.approx(float(expected))


def test_the_likelihood_ratio_subtracts_the_all_digit_vaes_elbo_and_tells_ones_from_sevens(vae_one):
    model, _ = vae_one
    background, _ = checkpoints.load(anomaly.BACKGROUND)
    digits = data_lib.load("mnist", "test")
    elbo, ratio = anomaly.score_digits(model, digits, 7), anomaly.score_digits(model, digits, 7, background)
    assert (elbo.score, ratio.score) == ("elbo", "ratio")
    expected = elbo.scores - negative_elbo(background, digits.floats())["nelbo"]
    assert np.allclose(ratio.scores, expected, atol=1e-3)
    image = digits.images[0] / 255.0
    x = torch.tensor(image, dtype=torch.float32).reshape(1, 1, 28, 28)
    one = float(negative_elbo(model, x)["nelbo"][0] - negative_elbo(background, x)["nelbo"][0])
    assert anomaly.score_image(model, image, background) == pytest.approx(one)
    assert anomaly.pair_auc(elbo, 1) < 0.5 and anomaly.pair_auc(ratio, 1) > 0.8  # ones: 0.356 -> 0.825
    assert ratio.auc > elbo.auc and ratio.auc >= 0.95
    with pytest.raises(ValueError, match="variational"):
        anomaly.score_digits(model, digits.subset(slice(0, 10)), 7, create_model("dense").eval())
