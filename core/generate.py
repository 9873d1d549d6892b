"""Generating digits from a VAE: class centroids, samples from the prior, classifier confidence."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

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


@torch.inference_mode()
def classify(classifier: nn.Module, images: np.ndarray) -> np.ndarray:
    """Class probabilities (N, 10) the classifier gives images (N, 28, 28) in [0, 1]."""
    x = torch.as_tensor(np.asarray(images, dtype=np.float32)).reshape(-1, 1, 28, 28)
    return torch.softmax(classifier(x)["logits"], dim=1).numpy()
