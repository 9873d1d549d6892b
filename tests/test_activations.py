"""A digit through a model, layer by layer (core.activations): the diagram comes from each model's own
modules, the code and the output are the model's, and a VAE's ellipse and loss bars are its posterior
and its negative ELBO."""

import numpy as np
import pytest
import torch

from core import activations, checkpoints, data, inference
from core.registry import create_model, get_spec, list_models
from tests.visitor_models import save_visitor_model

AUTOENCODERS = [name for name in list_models() if get_spec(name).kind in ("ae", "vae")]


@pytest.fixture(scope="module")
def test_digits():
    return data.load("mnist", "test")


def check_diagram(model, image, label=None) -> list[activations.Layer]:
    """Trace a digit and check what every diagram must be: in order, with one code, made of the model's own
    layers (their parameters add up to the model's), each drawn from values of its own shape."""
    layers = activations.trace(model, image, label)
    parts = [layer.part for layer in layers]
    assert parts[0] == "input" and parts[-1] == "output" and parts.count("code") == 1
    assert parts == sorted(parts, key=activations.PARTS.index)  # input -> encoder -> code -> decoder -> output
    assert "encoder" in parts and "decoder" in parts
    assert sum(layer.parameters for layer in layers) == sum(p.numel() for p in model.parameters())
    for layer in layers:
        assert layer.values.shape == layer.out_shape and np.isfinite(layer.values).all(), layer.name
        assert layer.description.endswith(".") and len(layer.description) > 30, layer.name
        picture, left_out = activations.layer_picture(layer, most_maps=4)
        assert picture.ndim == 2 and left_out == max(0, layer.values.shape[0] - 4) * (layer.values.ndim == 3)
        assert activations.picture_png(picture).startswith(b"\x89PNG")
    y = None if label is None else torch.tensor([label])
    x = inference.as_batch(image)
    code = layers[parts.index("code")]
    with torch.no_grad():
        np.testing.assert_allclose(code.values, model.encode(x, y)[0].numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(layers[-1].values, model(x, y)["recon"][0].numpy(), rtol=1e-5, atol=1e-6)
    return layers


@pytest.mark.parametrize("name", AUTOENCODERS)
def test_the_diagram_is_built_from_every_registered_models_config(name, test_digits):
    torch.manual_seed(0)
    model = create_model(name).eval()
    label = int(test_digits.labels[0]) if model.is_conditional else None
    layers = check_diagram(model, test_digits.images[0], label)
    leaves = [n for n, m in model.named_modules() if n and not any(m.children())]
    assert {layer.name for layer in layers} >= set(leaves)  # every module of the model is drawn


def test_the_diagram_of_a_visitors_model(checkpoint_dir, test_digits):
    torch.manual_seed(1)
    path = save_visitor_model("my-small-conv", create_model("conv", filters=(4, 2)), "conv")
    model, meta = checkpoints.load(path.stem)
    assert meta["model"] == "conv" and path.stem != "conv"
    layers = check_diagram(model, test_digits.images[3])
    assert [layer.out_shape for layer in layers if layer.kind == "Conv2d"][:2] == [(4, 28, 28), (2, 14, 14)]


def test_each_layer_is_described_from_its_type_and_shapes(test_digits):
    model = create_model("conv").eval()
    layers = {layer.name: layer for layer in activations.trace(model, test_digits.images[0])}
    conv, relu, pool = layers["encoder.0"], layers["encoder.1"], layers["encoder.2"]
    assert "16 learnt 3x3 filters" in conv.description and f"{conv.parameters:,} learnt numbers" in conv.description
    zeros = float((relu.values <= 0).mean())
    assert f"{zeros:.0%} of its {relu.units:,} values are zero" in relu.description
    assert "from 28x28 to 14x14" in pool.description and pool.parameters == 0


def test_a_conditional_model_without_a_label_gets_a_sentence(test_digits):
    with pytest.raises(ValueError, match="which digit"):
        activations.trace(create_model("cvae"), test_digits.images[0])
    with pytest.raises(ValueError, match="not a variational"):
        activations.posterior(create_model("dense"), test_digits.images[0])


def test_the_ellipse_is_the_encoders_mean_and_spread_for_a_known_digit(test_digits):
    model, _ = checkpoints.load("vae2")
    image = test_digits.images[0]
    post = activations.posterior(model, image)
    with torch.no_grad():
        mu, logvar = model.posterior(inference.as_batch(image))
    np.testing.assert_allclose(post.mean, mu[0].numpy(), rtol=1e-6)
    np.testing.assert_allclose(post.spread, torch.exp(0.5 * logvar[0]).numpy(), rtol=1e-6)
    outline = activations.ellipse(post.mean, post.spread, sigmas=2)
    np.testing.assert_allclose((outline.max(0) + outline.min(0)) / 2, post.mean, atol=1e-5)
    np.testing.assert_allclose((outline.max(0) - outline.min(0)) / 2, 2 * post.spread, rtol=1e-3)
    # The samples are drawn from that ellipse: all well inside 5 sigma, and decoded by the model.
    assert (np.abs(post.samples - post.mean) / post.spread).max() < 5
    np.testing.assert_allclose(post.decoded, inference.decode(model, post.samples), atol=1e-6)


@pytest.mark.parametrize("name", ["vae2", "vae", "cvae"])
def test_the_loss_bars_add_up_to_the_negative_elbo(name, test_digits):
    model, _ = checkpoints.load(name)
    for digit in (0, 1, 2):
        label = int(test_digits.labels[digit]) if model.is_conditional else None
        elbo = inference.negative_elbo(model, inference.as_batch(test_digits.images[digit]),
                                       None if label is None else torch.tensor([label]))
        post = activations.posterior(model, test_digits.images[digit], label)
        assert post.recon_nats + post.kl_nats == pytest.approx(float(elbo["nelbo"][0]), rel=1e-5)
        assert post.negative_elbo == pytest.approx(float(elbo["nelbo"][0]), rel=1e-5)
        assert post.kl_nats == pytest.approx(float(elbo["kl"][0]), rel=1e-5)
        assert post.kl_per_dimension.sum() == pytest.approx(post.kl_nats, rel=1e-4)
        assert (post.kl_per_dimension >= -1e-6).all()
