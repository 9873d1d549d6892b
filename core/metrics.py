"""Image and model metrics on numpy or torch batches of images in [0, 1]."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F

_EPS = 1e-7


def _as_tensor(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float32)) if not isinstance(x, torch.Tensor) else x.float()


def _per_image(x: torch.Tensor) -> torch.Tensor:
    """(N, ...) -> (N, pixels)"""
    return x.reshape(x.shape[0], -1)


def bce_per_pixel(recon, target) -> np.ndarray:
    """Binary cross-entropy per image, averaged over its pixels (the Keras blog's figure), shape (N,)."""
    r, t = _per_image(_as_tensor(recon)).clamp(_EPS, 1 - _EPS), _per_image(_as_tensor(target))
    return F.binary_cross_entropy(r, t, reduction="none").mean(1).numpy()


def mse_per_pixel(recon, target) -> np.ndarray:
    """Mean squared error per image, shape (N,)."""
    return ((_per_image(_as_tensor(recon)) - _per_image(_as_tensor(target))) ** 2).mean(1).numpy()


def euclidean_error(recon, target) -> np.ndarray:
    """Euclidean distance between each image and its reconstruction, shape (N,); summed over a set
    it is the total error earlier experiments reported."""
    return torch.linalg.vector_norm(_per_image(_as_tensor(recon)) - _per_image(_as_tensor(target)), dim=1).numpy()


def psnr(image, reference, peak: float = 1.0) -> np.ndarray:
    """Peak signal-to-noise ratio in dB per image, shape (N,); identical images give inf."""
    mse = mse_per_pixel(image, reference).astype(np.float64)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(peak ** 2 / mse)


def _gaussian_window(size: int = 7, sigma: float = 1.5) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float32) - size // 2
    g = torch.exp(-(coords ** 2) / (2 * sigma ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]  # (1, 1, size, size)


def ssim(image, reference, peak: float = 1.0) -> np.ndarray:
    """Structural similarity per image (Wang et al. 2004, eq. 13; 7x7 Gaussian window, sigma 1.5
    for 28-px digits), shape (N,)."""
    x = _as_tensor(image).reshape(-1, 1, 28, 28)
    y = _as_tensor(reference).reshape(-1, 1, 28, 28)
    window = _gaussian_window()
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    mu_x, mu_y = F.conv2d(x, window), F.conv2d(y, window)
    var_x = F.conv2d(x * x, window) - mu_x ** 2
    var_y = F.conv2d(y * y, window) - mu_y ** 2
    cov = F.conv2d(x * y, window) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return ssim_map.flatten(1).mean(1).numpy()


def active_units(mu: np.ndarray, threshold: float = 0.01) -> int:
    """Latent dimensions whose posterior mean varies over the data: Cov_x(E_q[z]) > 0.01
    (Burda et al. 2016, section 5.2)."""
    return int((np.var(np.asarray(mu, dtype=np.float64), axis=0) > threshold).sum())


def roc_auc(scores, is_positive) -> float:
    """Area under the ROC curve of anomaly scores (higher = more anomalous) for positive labels:
    the Mann-Whitney U statistic over both counts, ties counting half (as scikit-learn's
    roc_auc_score). In numpy: importing scikit-learn's metrics costs a page 0.7 s on first use."""
    scores, positive = np.asarray(scores, dtype=np.float64), np.asarray(is_positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("The ROC AUC needs scores of both kinds, positive and negative.")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    mean_rank = np.cumsum(counts) - (counts - 1) / 2  # 1-based, ties share their mean rank
    u = mean_rank[inverse][positive].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def roc_curve(scores, is_positive) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false positive rates, true positive rates, thresholds) of flagging scores at or above each
    threshold, from (0, 0) at an infinite threshold to (1, 1); one point per distinct score."""
    scores, positive = np.asarray(scores, dtype=np.float64), np.asarray(is_positive, dtype=bool)
    order = np.argsort(-scores, kind="stable")
    scores, positive = scores[order], positive[order]
    last_of_each = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]  # where the score changes
    true_pos = np.cumsum(positive)[last_of_each]
    false_pos = last_of_each + 1 - true_pos
    return (np.r_[0.0, false_pos / max(false_pos[-1], 1)], np.r_[0.0, true_pos / max(true_pos[-1], 1)],
            np.r_[np.inf, scores[last_of_each]])


@dataclass(frozen=True)
class ModelMetrics:
    """A checkpoint's test-split figures, as `core.evaluate.evaluate_model` measures them.

    Stored in the checkpoint's metadata as a dict (what `as_dict` gives); `from_dict` reads one back,
    ignoring keys it does not know, so older checkpoints still load. None: not measured for this model.
    """

    data_source: str = ""
    test_digits: int = 0
    parameters: int = 0
    accuracy: float | None = None          # classifier: share of test digits read right
    digit: int | None = None               # one-digit VAE: its digit; roc_auc is it against the rest
    roc_auc: float | None = None
    nelbo: float | None = None             # VAEs: nats per digit, with its reconstruction and KL parts
    recon_nats: float | None = None
    kl: float | None = None
    active_units: int | None = None        # Burda et al. 2016, section 5.2
    latent: int | None = None
    bce: float | None = None               # autoencoders: mean per pixel
    bce_per_class: list | None = None      # ten values, None for a class not in the test digits
    worst: list | None = None              # [test-split index, BCE], worst first
    bce_histogram: dict | None = None      # "edges" and "counts"
    mse: float | None = None
    euclidean_sum: float | None = None
    mean_code_activation: float | None = None
    psnr_noisy: float | None = None        # dB, with evaluate's noise on the inputs
    psnr_denoised: float | None = None

    @classmethod
    def from_dict(cls, values: dict) -> ModelMetrics:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}
