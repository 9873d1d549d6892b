"""Every registry model: shapes, output range, finite values, gradients, and that it can learn."""

import dataclasses

import pytest
import torch

from core import data
from core.models import layer_summary
from core.registry import Recipe, create_model, get_spec, list_models

AUTOENCODERS = list_models("ae") + list_models("vae")


def batch(n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=g), torch.arange(n) % 10


@pytest.mark.parametrize("name", list_models())
def test_forward_shapes_range_and_no_nan(name):
    torch.manual_seed(0)
    model = create_model(name).eval()
    x, y = batch()
    out = model(x, y)
    if get_spec(name).kind == "classifier":
        assert out["logits"].shape == (6, 10)
        assert torch.isfinite(out["logits"]).all()
        return
    assert out["recon"].shape == x.shape
    assert torch.isfinite(out["recon"]).all()
    assert out["recon"].min() >= 0 and out["recon"].max() <= 1
    code = model.encode(x, y)
    assert code.shape == (6, *model.code_shape)
    if get_spec(name).kind == "denoiser":  # its decoder needs the skips: a code alone is refused in a sentence
        with pytest.raises(ValueError, match="skip connections"):
            model.decode(code, y)
        return
    decoded = model.decode(code, y)
    assert decoded.shape == x.shape
    assert torch.allclose(decoded, out["recon"], atol=1e-6)  # eval: the mean code decodes to the reconstruction


@pytest.mark.parametrize("name", list_models())
def test_every_parameter_gets_a_gradient(name):
    torch.manual_seed(0)
    model = create_model(name).train()
    x, y = batch()
    terms = model.loss(model(x, y), x, y)
    assert terms["loss"].ndim == 0 and torch.isfinite(terms["loss"])
    terms["loss"].backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{name}.{pname} got no gradient"
        assert torch.isfinite(p.grad).all()
        assert p.grad.abs().sum() > 0, f"{name}.{pname} got a zero gradient"


@pytest.mark.parametrize("name", list_models())
def test_loss_falls_when_overfitting_one_batch(name):
    torch.manual_seed(0)
    model = create_model(name).train()
    digits = data.load("mnist", "test").subset(slice(0, 16))
    x, y = digits.floats(), digits.label_tensor()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(80):
        loss = model.loss(model(x, y), x, y)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0], f"{name}: {losses[0]:.4f} -> {losses[-1]:.4f}"


def test_tied_has_one_weight_matrix_used_both_ways():
    model = create_model("tied")
    matrices = [n for n, p in model.named_parameters() if p.ndim == 2]
    assert matrices == ["weight"]
    assert sum(p.ndim == 1 for p in model.parameters()) == 2  # two biases
    dense = create_model("dense")
    assert sum(p.numel() for p in model.parameters()) < 0.55 * sum(p.numel() for p in dense.parameters())


def test_loss_terms_are_named():
    x, _y = batch()
    vae = create_model("vae").train()
    assert set(vae.loss(vae(x), x)) == {"loss", "recon", "kl"}
    sparse = create_model("sparse")
    assert set(sparse.loss(sparse(x), x)) == {"loss", "recon", "l1"}
    assert create_model("dense").loss(create_model("dense")(x), x).keys() == {"loss", "recon"}


def test_mse_and_bce_models_differ_only_in_loss():
    assert get_spec("dense").config == dataclasses.replace(get_spec("dense_mse").config, recon_loss="bce")
    x, _ = batch()
    model = create_model("dense_mse")
    terms = model.loss(model(x), x)
    assert torch.allclose(terms["recon"], ((model(x)["recon"] - x) ** 2).mean())


def test_kl_weight_scales_only_the_kl_term():
    torch.manual_seed(0)
    vae = create_model("vae").eval()  # eval: z = mu, so both calls see the same reconstruction
    x, _ = batch()
    out = vae(x)
    full, none = vae.loss(out, x, kl_weight=1.0), vae.loss(out, x, kl_weight=0.0)
    assert torch.allclose(none["loss"], none["recon"])
    assert torch.allclose(full["loss"], full["recon"] + full["kl"])


def test_conditional_vae_needs_and_uses_labels():
    torch.manual_seed(0)
    cvae = create_model("cvae").eval()
    z = torch.zeros(2, cvae.code_shape[0])
    with pytest.raises(ValueError, match="label"):
        cvae.decode(z)
    threes, sevens = cvae.decode(z, torch.tensor([3, 3])), cvae.decode(z, torch.tensor([7, 7]))
    assert not torch.allclose(threes, sevens)


def test_unknown_model_names_the_valid_ones():
    with pytest.raises(ValueError, match="dense.*conv"):
        create_model("transformer")


def test_every_model_has_a_summary_and_a_recipe():
    for name in list_models():
        spec = get_spec(name)
        assert spec.summary.endswith(".")
        assert isinstance(spec.recipe, Recipe) and spec.recipe.epochs > 0


def test_layer_summary_adds_up_to_the_parameter_count():
    for name in ("dense", "conv", "tied", "vae", "cvae"):
        model = create_model(name)
        rows = layer_summary(model)
        assert sum(r["parameters"] for r in rows) == sum(p.numel() for p in model.parameters())
    conv_rows = layer_summary(create_model("conv"))
    assert (8, 4, 4) in [r["output shape"] for r in conv_rows]
    assert conv_rows[-1]["output shape"] == (1, 28, 28)


def test_registry_kinds():
    assert set(list_models("vae")) == {"vae2", "vae", "cvae", "vae_one"}
    assert list_models("classifier") == ["classifier"]
    assert {"dense", "dense_mse", "sparse", "deep", "conv", "tied", "ae2", "ae20", "denoising"} == set(list_models("ae"))
