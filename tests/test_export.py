"""Decoder export for the browser: the arrays alone reproduce the PyTorch decode, and layers the
browser cannot run are refused."""

import base64
import json

import numpy as np
import pytest
import torch
from torch import nn

from core.export import LAYER_TYPES, export_decoder, run_exported
from core.inference import decode
from core.registry import create_model

BROWSER_MODELS = ["vae", "vae2", "cvae", "vae_one", "dense", "deep", "ae2"]


def model(name, seed=0):
    torch.manual_seed(seed)
    return create_model(name).eval()


@pytest.mark.parametrize("name", BROWSER_MODELS)
def test_exported_arrays_reproduce_the_torch_decode(name):
    m = model(name)
    spec = export_decoder(m)
    z = np.random.default_rng(1).normal(scale=2.0, size=(12, m.code_shape[0]))
    labels = np.arange(12) % 10 if m.is_conditional else None
    np.testing.assert_allclose(run_exported(spec, z, labels), decode(m, z, labels), atol=1e-5, rtol=0)


def test_export_is_json_with_the_layers_in_order():
    m = model("vae")
    spec = json.loads(json.dumps(export_decoder(m)))  # what the page sends is plain JSON
    assert spec["latent"] == 16 and spec["classes"] == 0 and spec["conditional"] is False
    assert [layer["type"] for layer in spec["layers"]] == ["linear", "relu", "linear", "relu", "linear", "sigmoid"]
    first = spec["layers"][0]
    assert (first["in"], first["out"]) == (16, 256)
    weight = np.frombuffer(base64.b64decode(first["weight"]), dtype="<f4").reshape(256, 16)
    np.testing.assert_array_equal(weight, m.decoder[0].weight.detach().numpy())


def test_conditional_export_takes_code_and_one_hot_label():
    m = model("cvae")
    spec = export_decoder(m)
    assert spec["conditional"] and spec["classes"] == 10 and spec["layers"][0]["in"] == 8 + 10
    z = np.zeros((10, 8))
    digits = run_exported(spec, z, np.arange(10))
    assert not np.allclose(digits[1], digits[7])  # the label changes the digit
    with pytest.raises(ValueError, match="conditional"):
        run_exported(spec, z)


def test_id_follows_the_weights():
    assert export_decoder(model("vae", seed=0))["id"] == export_decoder(model("vae", seed=0))["id"]
    assert export_decoder(model("vae", seed=0))["id"] != export_decoder(model("vae", seed=1))["id"]


def test_wrong_code_size_is_refused():
    spec = export_decoder(model("vae2"))
    with pytest.raises(ValueError, match="2 latent values"):
        run_exported(spec, np.zeros((1, 3)))


@pytest.mark.parametrize("name, message", [("conv", "Conv2d"), ("denoising", "Conv2d"),
                                           ("tied", "no layer-by-layer decoder"),
                                           ("classifier", "no layer-by-layer decoder")])
def test_models_the_browser_cannot_run_are_refused(name, message):
    with pytest.raises(ValueError, match=message):
        export_decoder(model(name))


def test_a_layer_type_the_browser_lacks_is_refused_by_name():
    m = model("vae2")
    m.decoder[1] = nn.Tanh()
    assert nn.Tanh not in LAYER_TYPES
    with pytest.raises(ValueError, match=r"decoder\.1 is Tanh"):
        export_decoder(m)
