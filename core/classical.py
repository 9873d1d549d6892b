"""Classical denoising filters beside the autoencoders, each with one strength parameter tuned once.

Every method takes a batch of digits (N, 28, 28) in [0, 1] and returns one of the same shape, clipped
to [0, 1]. The parameter of each was tuned once on training digits (`python -m core.classical
--tune`); the page and the sweep curves use the tuned values in TUNED.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from core import data as data_lib
from core import metrics

TUNE_DIGITS = 1000  # training digits the parameters are tuned on (the test digits stay for measuring)
TUNE_NOISE = ("gaussian", 0.5)  # the Keras blog's noise, and the page's default

# Tuned by `python -m core.classical --tune`: the grid value with the best mean PSNR on the first
# 1,000 training digits under Gaussian noise 0.5 (noisy input 9.39 dB); that dB in each comment.
# One value for every noise kind: the best value per kind gains at most 0.8 dB (non-local means on
# salt and pepper 0.2 and masking 0.5), at most 0.3 dB for blur, median, total variation and wavelet
# (`--other-kinds` prints it; not run for BM3D, 9 minutes a kind on a busy machine).
TUNED: dict[str, float] = {
    "gaussian_blur": 0.9,  # 12.69 dB
    "median": 3,           # 14.76 dB
    "nl_means": 0.2,       # 12.96 dB
    "tv_chambolle": 0.2,   # 12.44 dB
    "wavelet": 0.3,        # 11.65 dB
    "bm3d": 0.25,          # 12.97 dB
}

NL_PATCH_SIZE = 5      # px: a patch spans a stroke (2-3 px) and its edges
NL_PATCH_DISTANCE = 6  # px: patches searched within 13x13, half a digit


def _gaussian_blur(noisy: np.ndarray, sigma: float) -> np.ndarray:
    return ndimage.gaussian_filter(noisy, sigma=(0, sigma, sigma), mode="constant")


def _median(noisy: np.ndarray, size: float) -> np.ndarray:
    return ndimage.median_filter(noisy, size=(1, int(size), int(size)), mode="constant")


def _nl_means(noisy: np.ndarray, h: float) -> np.ndarray:
    from skimage.restoration import denoise_nl_means  # on first use: keeps scikit-image off every page's import

    return np.stack([denoise_nl_means(image, h=h, patch_size=NL_PATCH_SIZE, patch_distance=NL_PATCH_DISTANCE,
                                      fast_mode=True) for image in noisy])


def _tv_chambolle(noisy: np.ndarray, weight: float) -> np.ndarray:
    from skimage.restoration import denoise_tv_chambolle

    return denoise_tv_chambolle(noisy, weight=weight, channel_axis=0)  # axis 0: each digit on its own


def _wavelet(noisy: np.ndarray, sigma: float) -> np.ndarray:
    from skimage.restoration import denoise_wavelet

    return denoise_wavelet(noisy, sigma=sigma, wavelet="db1", mode="soft", method="BayesShrink",
                           rescale_sigma=True, channel_axis=0)


def _bm3d(noisy: np.ndarray, sigma: float) -> np.ndarray:
    """BM3D (Dabov et al. 2007), each digit on its own."""
    import bm3d

    profile = bm3d.BM3DProfile()
    # The noise's spectrum is taken over the image itself, not a 32-px FFT domain: white noise needs
    # no more, and a call on a 28x28 digit takes 0.03 s instead of 0.5-1 s (0.15 dB less PSNR at
    # Gaussian 0.5 on 100 test digits).
    profile.nf = 0
    profile.num_threads = 1  # a digit is too small to share out: one thread takes 0.017 s wall, all of them 0.027
    return np.stack([bm3d.bm3d(image, sigma_psd=sigma, profile=profile) for image in noisy])


@dataclass(frozen=True)
class ClassicalMethod:
    """A classical filter: its label, what its one parameter is, and the values tuning tries."""

    label: str
    parameter: str       # for captions: "sigma 1.0 px"
    unit: str
    grid: tuple[float, ...]
    filter: Callable[[np.ndarray, float], np.ndarray]
    source: str          # where it comes from, for the page and README

    def describe(self, value: float) -> str:
        return f"{self.parameter} {value:g}{self.unit}"


METHODS: dict[str, ClassicalMethod] = {
    "gaussian_blur": ClassicalMethod("Gaussian blur", "sigma", " px", (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.4, 1.6),
                                     _gaussian_blur, "scipy.ndimage.gaussian_filter"),
    "median": ClassicalMethod("Median filter", "window", " px", (3, 5, 7), _median, "scipy.ndimage.median_filter"),
    "nl_means": ClassicalMethod("Non-local means", "h", "", (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8),
                                _nl_means, "skimage.restoration.denoise_nl_means (Buades et al. 2005)"),
    "tv_chambolle": ClassicalMethod("Total variation", "weight", "", (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0),
                                    _tv_chambolle, "skimage.restoration.denoise_tv_chambolle (Chambolle 2004)"),
    "wavelet": ClassicalMethod("Wavelet", "sigma", "", (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0),
                               _wavelet, "skimage.restoration.denoise_wavelet, Haar, BayesShrink"),
    "bm3d": ClassicalMethod("BM3D", "sigma", "", (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5),
                            _bm3d, "the bm3d package (Dabov et al. 2007; Makinen et al. 2020)"),
}


def import_libraries() -> None:
    """Import scikit-image's filters and bm3d now, ahead of a page's first filter (2-3 s on a busy machine)."""
    import bm3d  # noqa: F401
    from skimage.restoration import denoise_nl_means, denoise_tv_chambolle, denoise_wavelet  # noqa: F401


def denoise(method: str, noisy: np.ndarray, value: float | None = None) -> np.ndarray:
    """A classical filter applied to each digit of a batch.

    Args:
        method: a key of METHODS.
        noisy: digits (N, 28, 28) in [0, 1] (one digit (28, 28) is taken as a batch of one).
        value: the method's parameter; None: the tuned one, TUNED[method].

    Returns:
        (N, 28, 28) float32 in [0, 1] (or (28, 28) for one digit).
    """
    if method not in METHODS:
        raise ValueError(f"There is no classical filter called {method!r}; the filters are {', '.join(METHODS)}.")
    noisy = np.asarray(noisy, dtype=np.float64)
    single = noisy.ndim == 2
    batch = noisy[None] if single else noisy
    if batch.ndim != 3 or batch.shape[1:] != (28, 28):
        raise ValueError(f"A classical filter takes digits of 28x28 pixels, not an array of shape {noisy.shape}.")
    if not len(batch):
        return np.zeros((0, 28, 28), np.float32)
    out = np.clip(METHODS[method].filter(batch, TUNED[method] if value is None else float(value)), 0.0, 1.0)
    return out.astype(np.float32)[0] if single else out.astype(np.float32)


# --- tuning, once ------------------------------------------------------------------------------

def mean_psnr(method: str, noisy: np.ndarray, clean: np.ndarray, value: float) -> float:
    return float(np.minimum(metrics.psnr(denoise(method, noisy, value), clean), 60.0).mean())


def tune(clean: np.ndarray, method: str, kind: str, strength: float, seed: int = 0) -> dict[float, float]:
    """Mean PSNR (dB) of a method at each value of its grid on seeded noisy versions of `clean` (N, 28, 28)."""
    noisy = data_lib.add_noise(clean, kind, strength, seed)
    return {value: mean_psnr(method, noisy, clean, value) for value in METHODS[method].grid}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Tune each classical filter's parameter on training digits.")
    parser.add_argument("--tune", action="store_true", required=True)
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), help="default: all")
    parser.add_argument("--digits", type=int, default=TUNE_DIGITS)
    parser.add_argument("--other-kinds", action="store_true",
                        help="also tune on salt and pepper 0.2 and masking 0.5, to see what one value per kind would gain")
    args = parser.parse_args(argv)
    train = data_lib.load("mnist", "train")
    clean = (train.images[:args.digits] / 255.0).astype(np.float32)
    settings = [TUNE_NOISE, *([("salt_pepper", 0.2), ("masking", 0.5)] if args.other_kinds else [])]
    for kind, strength in settings:
        noisy = data_lib.add_noise(clean, kind, strength, 0)
        print(f"{kind} {strength:g} on {len(clean):,} training digits: noisy input "
              f"{metrics.psnr(noisy, clean).mean():.2f} dB")
        for method in args.methods or list(METHODS):
            start = time.perf_counter()
            scores = tune(clean, method, kind, strength)
            best = max(scores, key=scores.get)
            line = "  ".join(f"{v:g}: {s:.2f}" for v, s in scores.items())
            note = "" if (kind, strength) == TUNE_NOISE else \
                f"; the recorded {TUNED[method]:g}: {mean_psnr(method, noisy, clean, TUNED[method]):.2f} dB"
            print(f"  {method:>13}: {line}  -> {best:g} ({scores[best]:.2f} dB{note}; "
                  f"{time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
