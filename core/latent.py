"""Latent spaces: encode datasets, decode codes, latent grids and interpolation paths."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from core.evaluate import run_batches

GRID_SPACINGS = ("linear", "quantile")


def encode(model: nn.Module, images: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """Codes of images (N, 28, 28) uint8 or float in [0, 1], flattened to (N, code size)."""
    x = torch.as_tensor(np.asarray(images)).float()
    if x.max() > 1.0:
        x = x / 255.0
    x = x.reshape(-1, 1, 28, 28)
    y = None if labels is None else torch.as_tensor(np.asarray(labels)).long()
    return torch.cat(run_batches(lambda xb, yb: model.encode(xb, yb).flatten(1), x, y)).numpy()


@torch.inference_mode()
def decode(model: nn.Module, z, labels=None) -> np.ndarray:
    """Images (N, 28, 28) in [0, 1] decoded from codes (N, latent) or one code (latent,)."""
    z = torch.as_tensor(np.asarray(z, dtype=np.float32))
    single = z.ndim == 1
    z = z.reshape(1, -1) if single else z
    y = None
    if labels is not None:
        y = torch.as_tensor(np.atleast_1d(np.asarray(labels))).long().expand(z.shape[0])
    images = model.decode(z, y)[:, 0].numpy()
    return images[0] if single else images


def grid_values(n: int, span: float, spacing: str = "linear") -> np.ndarray:
    """n coordinates across one latent axis: evenly in [-span, span], or at normal quantiles
    (the Keras VAE example's grid) scaled so the outermost reach +-span."""
    if spacing == "linear":
        return np.linspace(-span, span, n)
    if spacing == "quantile":
        q = torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(0.05, 0.95, n)).numpy()
        return q / np.abs(q).max() * span
    raise ValueError(f"Unknown spacing {spacing!r}; choose one of {', '.join(GRID_SPACINGS)}.")


def latent_grid(model: nn.Module, n: int = 15, span: float = 3.0, spacing: str = "linear",
                labels=None) -> tuple[np.ndarray, np.ndarray]:
    """Decode an n x n grid over a 2-D latent space in one batch.

    Returns (images (n, n, 28, 28), axis values (n,)); row 0 is the highest z1, as in the
    Keras VAE example, so the picture reads like a plot with z1 up and z0 to the right.
    """
    values = grid_values(n, span, spacing)
    z0, z1 = np.meshgrid(values, values[::-1])  # (n, n) each; rows go from high z1 down
    z = np.stack([z0.ravel(), z1.ravel()], axis=1)
    return decode(model, z, labels).reshape(n, n, 28, 28), values


def interpolate(z_from: np.ndarray, z_to: np.ndarray, steps: int, method: str = "linear") -> np.ndarray:
    """Codes (steps, latent) on the path from z_from to z_to, both ends included.

    "spherical" follows the great circle (slerp; Shoemake 1985), which keeps the norm of
    Gaussian codes typical along the way.
    """
    a, b = np.asarray(z_from, dtype=np.float64), np.asarray(z_to, dtype=np.float64)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    if method == "linear":
        return (1 - t) * a + t * b
    if method != "spherical":
        raise ValueError(f"Unknown interpolation {method!r}; choose 'linear' or 'spherical'.")
    cos = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12)
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if omega < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)
