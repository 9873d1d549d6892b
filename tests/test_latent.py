"""Latent grids, decoding and interpolation paths."""

import numpy as np
import pytest

from core import inference, latent
from core.registry import create_model


def test_grid_puts_high_z1_on_top_and_decodes_in_one_batch():
    model = create_model("vae2").eval()
    images, values = latent.latent_grid(model, n=5, span=2.0)
    assert images.shape == (5, 5, 28, 28) and np.allclose(values, np.linspace(-2, 2, 5))
    top_left = inference.decode(model, np.array([-2.0, 2.0]))
    bottom_right = inference.decode(model, np.array([2.0, -2.0]))
    assert np.allclose(images[0, 0], top_left, atol=1e-6)
    assert np.allclose(images[-1, -1], bottom_right, atol=1e-6)


def test_quantile_spacing_is_symmetric_and_reaches_the_span():
    q = latent.grid_values(7, 3.0, "quantile")
    assert np.isclose(q[0], -3.0) and np.isclose(q[-1], 3.0) and np.isclose(q[3], 0.0, atol=1e-6)
    steps = np.diff(q)
    assert steps[0] > steps[3]  # denser near the middle, where the prior has its mass
    with pytest.raises(ValueError, match="linear"):
        latent.grid_values(5, 1.0, "log")


def test_interpolation_ends_and_spherical_norm():
    a, b = np.array([3.0, 0.0]), np.array([0.0, 3.0])
    line = latent.interpolate(a, b, 5)
    arc = latent.interpolate(a, b, 5, "spherical")
    assert np.allclose(line[0], a) and np.allclose(line[-1], b)
    assert np.allclose(arc[0], a) and np.allclose(arc[-1], b)
    assert np.allclose(np.linalg.norm(arc, axis=1), 3.0)
    assert np.linalg.norm(line[2]) < 3.0


def test_conditional_decode_and_encode_shapes():
    cvae = create_model("cvae").eval()
    images = inference.decode(cvae, np.zeros((3, 8)), labels=4)
    assert images.shape == (3, 28, 28) and images.min() >= 0 and images.max() <= 1
    codes = inference.encode(create_model("conv").eval(), np.zeros((2, 28, 28), dtype=np.uint8))
    assert codes.shape == (2, 128)
