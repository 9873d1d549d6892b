"""The generic trainer: callbacks, cancel, repeatability, snapshots."""

import dataclasses
import itertools

import numpy as np
import pytest
import torch

from core import trainer
from core.registry import get_spec


def _recipe(name, **changes):
    return dataclasses.replace(get_spec(name).recipe, **{"epochs": 2, **changes})


def test_callbacks_see_batches_and_epochs_with_eta():
    events = []
    _, result = trainer.train_model("dense", _recipe("dense"), callbacks=[events.append], max_batches=3)
    kinds = [e.kind for e in events]
    assert kinds == ["batch"] * 3 + ["epoch"] + ["batch"] * 3 + ["epoch"]
    last = events[-1]
    assert last.epoch == 2 and last.val is not None and "loss" in last.val
    assert last.snapshot.shape == (10, 28, 28)
    assert events[0].eta > 0 and last.eta == 0
    assert result.epochs_done == 2 and len(result.snapshots) == 3  # epoch 0 (untrained), 1, 2
    assert all(s.shape == (10, 28, 28) and s.dtype == np.uint8 for s in result.snapshots)
    assert not np.array_equal(result.snapshots[0], result.snapshots[-1])
    assert result.fixed_digits.shape == (10, 28, 28) and result.fixed_digits.dtype == np.uint8


def test_fixed_digits_are_one_per_class():
    data = trainer.prepare_data(get_spec("dense").recipe)
    assert data.fixed_y.tolist() == list(range(10))


def test_cancel_stops_within_the_epoch_and_keeps_the_weights():
    model, result = None, None
    calls = {"n": 0}

    def stop_after_two_batches():
        calls["n"] += 1
        return calls["n"] >= 2

    torch.manual_seed(0)
    from core.registry import create_model

    model = create_model("dense")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = trainer.fit(model, _recipe("dense", epochs=5), should_stop=stop_after_two_batches)
    assert result.cancelled and result.epochs_done == 1
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_same_seed_same_weights():
    a, _ = trainer.train_model("tied", _recipe("tied", epochs=1), max_batches=3)
    b, _ = trainer.train_model("tied", _recipe("tied", epochs=1), max_batches=3)
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())


def test_denoising_recipe_trains_on_noisy_inputs_against_clean_targets():
    seen = {}

    from core.registry import create_model

    model = create_model("denoising")
    original_loss = model.loss

    def spy_loss(out, target, labels=None, kl_weight=1.0):
        seen["target"] = target
        return original_loss(out, target, labels, kl_weight)

    original_forward = model.forward

    def spy_forward(x, y=None):
        seen["input"] = x
        return original_forward(x, y)

    model.loss, model.forward = spy_loss, spy_forward
    trainer.fit(model, _recipe("denoising", epochs=1, augment=0.0), max_batches=1)
    assert not torch.equal(seen["input"], seen["target"])
    targets = seen["target"]
    assert set(torch.unique((targets * 255).round()).tolist()) <= set(range(256))  # clean 8-bit pixels


def test_one_digit_recipe_trains_on_that_digit_only():
    data = trainer.prepare_data(get_spec("vae_one").recipe)
    assert set(data.train_y.tolist()) == {7} and set(data.val_y.tolist()) == {7}


def test_augmentation_keeps_shape_and_range():
    x = torch.rand(8, 1, 28, 28)
    out = trainer.augment(x, 2.0, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert not torch.equal(out, x)


def test_kl_warmup_ramps_from_zero():
    weights = []

    from core.registry import create_model

    model = create_model("vae")
    original = model.loss

    def spy(out, target, labels=None, kl_weight=1.0):
        weights.append(kl_weight)
        return original(out, target, labels, kl_weight)

    model.loss = spy
    trainer.fit(model, _recipe("vae", epochs=1, kl_warmup_epochs=2), max_batches=4)
    training_weights = weights[:4]
    assert training_weights[0] == 0 and all(a < b for a, b in itertools.pairwise(training_weights))
    assert training_weights[-1] <= 0.5


def test_adadelta_and_mse_are_selectable():
    _model, result = trainer.train_model("dense_mse", _recipe("dense_mse", optimizer="adadelta", lr=1.0), max_batches=2)
    assert np.isfinite(result.history[-1]["train"]["loss"])


def test_previews_arrive_inside_an_epoch_and_train_digits_cut_the_data():
    events = []
    recipe = _recipe("dense", epochs=1, train_digits=640, batch_size=64)
    _, _result = trainer.train_model("dense", recipe, callbacks=[events.append], preview_seconds=0.0)
    batches = [e for e in events if e.kind == "batch"]
    assert len(batches) == 10  # 640 digits in batches of 64
    assert all(e.snapshot is not None and e.snapshot.shape == (10, 28, 28) for e in batches)
    assert batches[0].snapshot is not None  # the first live picture comes with the first batch
    quiet = []
    trainer.train_model("dense", recipe, callbacks=[quiet.append], max_batches=2)
    assert all(e.snapshot is None for e in quiet if e.kind == "batch")  # no previews unless asked


def test_a_learning_rate_far_too_large_is_reported_as_divergence_with_what_to_change():
    """Adam at 3, which the Train page offers for vae: the reconstruction turned NaN and BCE raised."""
    with pytest.raises(trainer.TrainingDiverged) as diverged:
        trainer.train_model("vae", _recipe("vae", epochs=1, lr=3.0, optimizer="adam"), max_batches=40)
    message = str(diverged.value)
    assert message.startswith("The run diverged at epoch 1, batch ")
    assert "Adam at learning rate 3" in message and "lower the learning rate (to 0.3 or less)" in message
    assert isinstance(diverged.value, ValueError)  # jobs and pages show ValueErrors as sentences


def test_a_loss_that_stops_being_finite_stops_the_run(monkeypatch):
    from core.registry import create_model

    model = create_model("dense")
    loss = model.loss
    monkeypatch.setattr(model, "loss", lambda *a, **k: {**loss(*a, **k), "loss": torch.tensor(float("inf"))})
    with pytest.raises(trainer.TrainingDiverged, match=r"batch 1 \(the loss became NaN or infinite\)"):
        trainer.fit(model, _recipe("dense"), max_batches=3)


def test_ink_restyling_changes_stroke_width_and_brightness_within_range():
    digits = trainer.prepare_data(get_spec("dense").recipe).val_x[:200]
    styled = trainer.restyle_ink(digits, 1.0, torch.Generator().manual_seed(0))
    assert styled.shape == digits.shape and styled.min() >= 0 and styled.max() <= 1
    mass = styled.sum((1, 2, 3)) / digits.sum((1, 2, 3))
    assert mass.min() < 0.8 and mass.max() > 1.3  # thinner and fainter, thicker
    peak = styled.amax((1, 2, 3))
    assert peak.min() < 0.9 and peak.max() > 0.95  # some fainter, some at full brightness
    assert torch.equal(trainer.restyle_ink(digits, 0.0, torch.Generator()), digits)


def test_mixed_noise_and_ink_styles_are_recipe_settings_any_model_trains_with():
    seen = {}
    from core.registry import create_model

    model = create_model("dense")
    original_loss = model.loss

    def spy_loss(out, target, labels=None, kl_weight=1.0):
        seen.setdefault("target", target)  # the first training batch (validation comes after)
        return original_loss(out, target, labels, kl_weight)

    model.loss = spy_loss
    recipe = _recipe("dense", epochs=1, noise="gaussian", noise_mix=True, ink_augment=1.0)
    result = trainer.fit(model, recipe, max_batches=2)
    assert result.epochs_done == 1 and np.isfinite(result.history[0]["val"]["loss"])
    target = seen["target"]
    assert not set(torch.unique(target * 255).tolist()) <= set(range(256))  # restyled, not 8-bit pixels
