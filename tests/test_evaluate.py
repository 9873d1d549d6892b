"""Evaluation: metric definitions and the CLI's JSON."""

import json

import numpy as np
import pytest
import torch

from core import evaluate, inference, metrics
from core.registry import list_models


def test_metric_definitions():
    x = np.zeros((2, 28, 28), dtype=np.float32)
    y = x.copy()
    y[0, 0, :4] = 1.0
    assert np.allclose(metrics.mse_per_pixel(y, x), [4 / 784, 0])
    assert np.allclose(metrics.euclidean_error(y, x), [2.0, 0.0])
    assert np.isclose(metrics.psnr(y, x)[0], 10 * np.log10(784 / 4))
    assert np.isinf(metrics.psnr(y, x)[1])
    assert np.isclose(metrics.ssim(x, x)[0], 1.0) and metrics.ssim(y, x)[0] < 1.0
    assert metrics.active_units(np.c_[np.random.default_rng(0).normal(size=100), np.zeros(100)]) == 1
    assert metrics.roc_auc([0.1, 0.2, 0.9, 0.8], [0, 0, 1, 1]) == 1.0


def test_roc_auc_and_curve_agree_with_scikit_learn_ties_included():
    from sklearn.metrics import roc_auc_score, roc_curve

    rng = np.random.default_rng(3)
    positive = rng.random(2_000) < 0.3
    for scores in (rng.normal(size=2_000) + positive, np.round(rng.normal(size=2_000) + positive, 1)):  # ties
        assert metrics.roc_auc(scores, positive) == pytest.approx(roc_auc_score(positive, scores), abs=1e-12)
        fpr, tpr, thresholds = metrics.roc_curve(scores, positive)
        expected = roc_curve(positive, scores, drop_intermediate=False)
        assert np.allclose(fpr, expected[0]) and np.allclose(tpr, expected[1])
        assert np.array_equal(thresholds[1:], expected[2][1:])
    with pytest.raises(ValueError, match="both kinds"):
        metrics.roc_auc([0.1, 0.2], [1, 1])


def test_negative_elbo_parts_add_up():
    from core.registry import create_model

    vae = create_model("vae").eval()
    x = torch.rand(5, 1, 28, 28)
    parts = inference.negative_elbo(vae, x)
    assert np.allclose(parts["nelbo"], parts["recon"] + parts["kl"])
    assert parts["mu"].shape == (5, 16) and (parts["kl"] >= 0).all()


def test_json_has_every_shipped_model(capsys):
    assert evaluate.main(["--json", "--model", "dense", "--model", "vae_one", "--model", "classifier"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert set(results) == {"dense", "vae_one", "classifier"}
    assert 0 < results["dense"]["bce"] < 1 and results["dense"]["test_digits"] == 10000
    assert 0.5 < results["vae_one"]["roc_auc"] <= 1 and results["vae_one"]["digit"] == 7
    assert 0 < results["classifier"]["accuracy"] <= 1
    assert set(list_models()) >= set(results)


def test_stored_metrics_read_back_into_the_record_and_headlines_follow_the_recipe():
    from core import catalogue, checkpoints

    for name in list_models():
        meta = checkpoints.read_meta(name)
        record = metrics.ModelMetrics.from_dict(meta["metrics"])
        assert record.as_dict() == meta["metrics"]  # every stored key is a field: nothing lost
        assert catalogue.checkpoint_headline(meta)
    old = metrics.ModelMetrics.from_dict({"bce": 0.1, "psnr_denoised": 20.0, "a key from older files": 1}).as_dict()
    assert catalogue.headline(old) == "BCE 0.1000 per pixel"
    assert catalogue.headline(old, denoiser=True) == "PSNR 20.0 dB at noise 0.5"
