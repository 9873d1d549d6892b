"""Denoising, measured: denoise digits, score them (PSNR, SSIM), and sweep noise strength.

A sweep line scores a denoiser, or the noisy input itself, over the same noisy digits at each
strength, in PSNR and in the classifier's accuracy: "denoised" becomes a number, not only a picture.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core import data as data_lib
from core import metrics
from core.evaluate import run_batches

SWEEP_DIGITS = 1000   # the first 1,000 test digits: enough for a smooth curve, a few seconds of CPU
PSNR_CAP_DB = 60.0    # a digit the noise left untouched has infinite PSNR; cap it so means stay finite
BATCH = 100           # on one thread, batches of 100 digits run twice as fast as 1,000 (they stay in cache)


@dataclass(frozen=True)
class StrengthRange:
    """A noise kind's slider range and default, and the strengths the sweep measures."""

    low: float
    high: float
    step: float
    default: float
    label: str   # for the picker
    noun: str    # for sentences: "gaussian noise, strength 0.5"

    def grid(self) -> np.ndarray:
        """Strengths from one step above zero to `high` (zero noise would give infinite PSNR)."""
        return np.round(np.arange(self.step, self.high + self.step / 2, self.step), 4)


NOISE_RANGES = {
    "gaussian": StrengthRange(0.0, 1.0, 0.1, 0.5, "Gaussian (noise factor)", "gaussian"),  # 0.5: the Keras blog's
    "salt_pepper": StrengthRange(0.0, 0.5, 0.05, 0.2, "Salt and pepper (fraction of pixels)", "salt and pepper"),
    "masking": StrengthRange(0.0, 0.9, 0.1, 0.5, "Masking (fraction of pixels blacked out)", "masking"),
}


def _as_batch(images: np.ndarray) -> tuple[torch.Tensor, tuple[int, ...]]:
    """(28, 28) or (N, 28, 28) array -> ((N, 1, 28, 28) tensor, the input's shape)."""
    array = np.asarray(images, dtype=np.float32)
    return torch.from_numpy(array.reshape(-1, 1, 28, 28).copy()), array.shape


@torch.inference_mode()
def denoise(model: nn.Module, images: np.ndarray) -> np.ndarray:
    """An autoencoder's output for one digit (28, 28) or many (N, 28, 28) in [0, 1]; same shape."""
    x, shape = _as_batch(images)
    return torch.cat(run_batches(lambda xb, _: model(xb)["recon"], x, batch_size=BATCH)).numpy().reshape(shape)


@torch.inference_mode()
def classify(classifier: nn.Module, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The classifier's digit and its probability for each image (N, 28, 28): two arrays (N,)."""
    x, _ = _as_batch(images)
    logits = torch.cat(run_batches(lambda xb, _: classifier(xb)["logits"], x, batch_size=BATCH))
    probability, digit = logits.softmax(1).max(1)
    return digit.numpy(), probability.numpy()


def psnr_db(images: np.ndarray, references: np.ndarray) -> np.ndarray:
    """PSNR in dB of each image against its reference, capped at PSNR_CAP_DB, shape (N,)."""
    return np.minimum(metrics.psnr(images, references), PSNR_CAP_DB)


@dataclass(frozen=True)
class DenoisedDigits:
    """Clean digits, their noisy and denoised versions (N, 28, 28), and per-digit scores (N,)."""

    clean: np.ndarray
    noisy: np.ndarray
    denoised: np.ndarray
    psnr_noisy: np.ndarray
    psnr_denoised: np.ndarray
    ssim_noisy: np.ndarray
    ssim_denoised: np.ndarray


def noise_and_denoise(model: nn.Module, clean: np.ndarray, kind: str, strength: float,
                      seed: int = 0) -> DenoisedDigits:
    """Add seeded noise to clean digits (N, 28, 28) in [0, 1], denoise them and score both against the clean."""
    clean = np.asarray(clean, dtype=np.float32)
    noisy = data_lib.add_noise(clean, kind, strength, seed)
    denoised = denoise(model, noisy)
    return DenoisedDigits(clean, noisy, denoised, psnr_db(noisy, clean), psnr_db(denoised, clean),
                          metrics.ssim(noisy, clean), metrics.ssim(denoised, clean))


def accuracy(classifier: nn.Module, images: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of images (N, 28, 28) the classifier reads as their label."""
    return float((classify(classifier, images)[0] == np.asarray(labels)).mean())


@dataclass(frozen=True)
class SweepLine:
    """Mean PSNR (dB) against the clean digits and classifier accuracy, one value per noise strength."""

    strengths: np.ndarray
    psnr: np.ndarray
    accuracy: np.ndarray


def sweep_line(model: nn.Module | None, classifier: nn.Module, clean: np.ndarray, labels: np.ndarray,
               kind: str, strengths: np.ndarray | None = None, seed: int = 0,
               on_progress: Callable[[float], None] | None = None) -> SweepLine:
    """Score a denoiser's output (or, for model None, the noisy input itself) at each noise strength.

    The noise at each strength is seeded the same for every model, so lines are comparable.

    Args:
        clean: digits (N, 28, 28) in [0, 1] with their `labels` (N,).
        strengths: defaults to NOISE_RANGES[kind].grid().
        on_progress: called with the fraction done after each strength.
    """
    clean = np.asarray(clean, dtype=np.float32)
    strengths = NOISE_RANGES[kind].grid() if strengths is None else np.asarray(strengths, dtype=np.float64)
    psnr, correct = np.zeros(len(strengths)), np.zeros(len(strengths))
    for i, strength in enumerate(strengths):
        images = data_lib.add_noise(clean, kind, float(strength), seed)
        if model is not None:
            images = denoise(model, images)
        psnr[i] = psnr_db(images, clean).mean()
        correct[i] = accuracy(classifier, images, labels)
        if on_progress is not None:
            on_progress((i + 1) / len(strengths))
    return SweepLine(strengths, psnr, correct)
