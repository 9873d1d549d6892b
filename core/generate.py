"""Generating digits from a VAE: class centroids, samples from the prior, classifier confidence."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from core.inference import decode
from core.latent import interpolate
from core.models import N_CLASSES


def class_centroids(codes: np.ndarray, labels: np.ndarray, classes: int = N_CLASSES) -> np.ndarray:
    """The mean code of each digit class, (classes, latent).

    Raises:
        ValueError: a class has no codes, so it has no centroid.
    """
    codes, labels = np.asarray(codes), np.asarray(labels)
    missing = [c for c in range(classes) if not np.any(labels == c)]
    if missing:
        raise ValueError(f"No digits of class {', '.join(map(str, missing))} to average.")
    return np.stack([codes[labels == c].mean(axis=0) for c in range(classes)])


def prior_samples(latent: int, n: int, temperature: float = 1.0, seed: int = 0) -> np.ndarray:
    """n codes (n, latent) from N(0, temperature^2 I).

    Temperature scales the prior's standard deviation (as in Glow, Kingma & Dhariwal 2018):
    below 1 gives typical, cleaner digits, above 1 stranger ones.
    """
    if temperature <= 0:
        raise ValueError("The temperature must be above 0.")
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(n, latent, generator=generator) * temperature).numpy()


def spread_marks(points: np.ndarray, min_distance: float, rounds: int = 200) -> np.ndarray:
    """Positions for badges at `points` (N, 2) at least `min_distance` apart: each pair that would
    overlap is pushed apart along the line joining it, half each way, until none does."""
    placed = np.array(points, dtype=np.float64)
    for _ in range(rounds):
        moved = False
        for i in range(len(placed)):
            for j in range(i + 1, len(placed)):
                gap = placed[j] - placed[i]
                distance = float(np.hypot(*gap))
                if distance >= min_distance:
                    continue
                # Coincident points part in a direction of their own, so the result is deterministic.
                direction = gap / distance if distance > 1e-9 else np.array([np.cos(i + j), np.sin(i + j)])
                push = (min_distance - distance) / 2 * 1.001 * direction
                placed[i] -= push
                placed[j] += push
                moved = True
        if not moved:
            break
    return placed


def path_difference(model: nn.Module, z_from: np.ndarray, z_to: np.ndarray, steps: int = 10) -> float:
    """Mean absolute pixel difference between the linear and spherical paths' decoded digits."""
    linear, spherical = (decode(model, interpolate(z_from, z_to, steps, method)) for method in ("linear", "spherical"))
    return float(np.abs(linear - spherical).mean())


def most_different_pair(model: nn.Module, codes: np.ndarray, steps: int = 10) -> tuple[int, int]:
    """The pair (i, j), i < j, of `codes` whose linear and spherical interpolations differ most when
    decoded: a first pair to interpolate between, where the choice of path shows."""
    pairs = [(i, j) for i in range(len(codes)) for j in range(i + 1, len(codes))]
    return max(pairs, key=lambda pair: path_difference(model, codes[pair[0]], codes[pair[1]], steps))
