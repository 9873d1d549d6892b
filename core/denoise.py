"""Denoising, measured: denoise digits, score them (PSNR, SSIM), and sweep noise strength.

A sweep line scores a denoiser (an autoencoder or a classical filter), or the noisy input itself,
over the same noisy digits at each strength, in PSNR, SSIM and the classifier's accuracy:
"denoised" becomes a number, not only a picture.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from torch import nn

from core import KERAS_NOISE_FACTOR, checkpoints, classical, images, metrics
from core import data as data_lib
from core.files import write_atomic
from core.inference import as_batch, negative_elbo, read_digits, reconstruct

log = logging.getLogger(__name__)

SWEEP_DIGITS = 1000   # the first 1,000 test digits: enough for a smooth curve, a few seconds of CPU
PSNR_CAP_DB = 60.0    # a digit the noise left untouched has infinite PSNR; cap it so means stay finite



@dataclass(frozen=True)
class StrengthRange:
    """A noise kind's slider range and default, and the strengths the sweep measures."""

    low: float
    high: float
    step: float
    default: float
    label: str     # for the picker, and the page's URL (`?den_kind=Masking`): short
    strength: str  # what the strength slider measures
    noun: str      # for sentences: "gaussian noise, strength 0.5"

    def grid(self) -> np.ndarray:
        """Strengths from one step above zero to `high` (zero noise would give infinite PSNR)."""
        return np.round(np.arange(self.step, self.high + self.step / 2, self.step), 4)


NOISE_RANGES = {
    "gaussian": StrengthRange(0.0, 1.0, 0.1, KERAS_NOISE_FACTOR, "Gaussian", "Noise factor", "gaussian"),
    "salt_pepper": StrengthRange(0.0, 0.5, 0.05, 0.2, "Salt and pepper", "Fraction of pixels hit", "salt and pepper"),
    "masking": StrengthRange(0.0, 0.9, 0.1, 0.5, "Masking", "Fraction of pixels blacked out", "masking"),
}


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

    def columns(self) -> list[np.ndarray]:
        """Per digit, one image of it clean over noisy over denoised (2 px apart)."""
        return [images.tile(np.stack([self.clean[i], self.noisy[i], self.denoised[i]]), columns=1, pad=2)
                for i in range(len(self.clean))]


def noise_and_denoise(model: nn.Module, clean: np.ndarray, kind: str, strength: float,
                      seed: int = 0) -> DenoisedDigits:
    """Add seeded noise to clean digits (N, 28, 28) in [0, 1], denoise them and score both against the clean."""
    clean = np.asarray(clean, dtype=np.float32)
    noisy = data_lib.add_noise(clean, kind, strength, seed)
    denoised = reconstruct(model, noisy)
    return DenoisedDigits(clean, noisy, denoised, psnr_db(noisy, clean), psnr_db(denoised, clean),
                          metrics.ssim(noisy, clean), metrics.ssim(denoised, clean))


def accuracy(classifier: nn.Module, images: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of images (N, 28, 28) the classifier reads as their label."""
    return float((read_digits(classifier, images)[0] == np.asarray(labels)).mean())


PAGE_DENOISER = "unet"        # what the Denoising page cleans up with: skip connections beside the code
BOTTLENECK_DENOISER = "denoising"  # the Keras blog's shape, everything through the code: shown beside it

# When the page stops presenting a denoised digit as a result (`out_of_depth`): the classifier
# unsure of the output, or the output keeping little of the input's shape. Checked against the
# lab's own noise with the shipped models by `python -m bench.bench_upload --calibrate` (figures
# in README): a good denoiser on noise it knows is rarely flagged, an erased digit always is.
LOW_CONFIDENCE = 0.6
LOW_AGREEMENT = 0.65
AGREEMENT_BLUR_PX = 1.5   # noise is fine-grained and the digit is not: compare both blurred this much
# How many nats the all-digit `vae` needs for an output before it is no digit at all: `unet`'s
# outputs of 2,000 test digits under Gaussian noise 0.5 take at most 271 (99.9th percentile 255; salt
# and pepper 0.2 and masking 0.5 at most 228), its outputs of uniform noise 2,371 or more in 100 of
# 100 (`denoising`: at most 309 for digits, 323 or more for 95 of 100 noise images).
NOT_A_DIGIT_NATS = 320


def agreement(prepared: np.ndarray, denoised: np.ndarray) -> float:
    """Correlation of a digit (28, 28) before and after denoising, both blurred: what the denoiser
    kept of the input's shape. Noise mostly averages out in the blur and the correlation ignores
    the brightness it adds, so a good denoiser scores high on noisy inputs too; 0 for a blank output."""
    before = ndimage.gaussian_filter(np.asarray(prepared, np.float64), AGREEMENT_BLUR_PX)
    after = ndimage.gaussian_filter(np.asarray(denoised, np.float64), AGREEMENT_BLUR_PX)
    if before.std() < 1e-6 or after.std() < 1e-6:
        return 0.0
    return float(np.corrcoef(before.ravel(), after.ravel())[0, 1])


def out_of_depth(prepared: np.ndarray, denoised: np.ndarray, confidence: float | None,
                 output_nats: float | None = None) -> str | None:
    """A sentence for the page when the denoised digit should not be taken as a result, else None.

    Args:
        prepared, denoised: the model's input and output, (28, 28) in [0, 1].
        confidence: the classifier's probability for its reading of `denoised` (None: no classifier).
        output_nats: the all-digit VAE's negative ELBO of `denoised` (None: no VAE at hand).
    """
    if output_nats is not None and output_nats > NOT_A_DIGIT_NATS:
        return ("This does not look like a digit, even cleaned up: the lab's VAE of all ten digits finds the "
                f"output less likely than any digit it knows ({output_nats:.0f} nats; denoised digits take at most "
                f"{NOT_A_DIGIT_NATS}), so there is no result to give.")
    kept = agreement(prepared, denoised)
    if kept < LOW_AGREEMENT:
        return (f"The denoiser is out of its depth with this image: what it made keeps little of your image's shape "
                f"(a likeness of {kept:.0%}, where a denoised digit keeps {LOW_AGREEMENT:.0%} or more), so it is no "
                "clean version of it.")
    if confidence is not None and confidence < LOW_CONFIDENCE:
        return (f"The denoiser is out of its depth with this image: the classifier is only {confidence:.0%} "
                "sure which digit the output shows, so read it as a guess, not a clean version of your digit.")
    return None


@dataclass(frozen=True)
class CleanUp:
    """One of your digits through the denoiser: what went in, what came out, what the classifier
    reads in each (None without a classifier), and `out_of_depth`'s sentence when the output is no result."""

    prepared: np.ndarray       # (28, 28) in [0, 1], as MNIST sees the upload or drawing
    model_input: np.ndarray    # the prepared digit, with the lab's noise added when asked
    output: np.ndarray         # the denoiser's output
    readings: dict[str, tuple[int, float]] | None  # "prepared", "model_input", "output": (digit, probability)
    verdict: str | None


def clean_up(denoiser: nn.Module, prepared: np.ndarray, classifier: nn.Module | None = None,
             noise: tuple[str, float] | None = None, seed: int = 0, judge: nn.Module | None = None) -> list[CleanUp]:
    """Denoise people's digits (N, 28, 28) in [0, 1], optionally with seeded noise of (kind, strength) added
    first, read each stage with the classifier, and say when the denoiser is out of its depth or the
    output is no digit at all (`judge`: the all-digit VAE whose negative ELBO says so)."""
    prepared = np.asarray(prepared, dtype=np.float32)
    model_input = prepared if noise is None else data_lib.add_noise(prepared, *noise, seed=seed)
    output = reconstruct(denoiser, model_input)
    nats = [None] * len(prepared) if judge is None else negative_elbo(judge, as_batch(output))["nelbo"]
    readings = None
    if classifier is not None:
        stages = {"prepared": prepared, "model_input": model_input, "output": output}
        read = {stage: read_digits(classifier, images) for stage, images in stages.items()}
        readings = [{stage: (int(digit[i]), float(probability[i])) for stage, (digit, probability) in read.items()}
                    for i in range(len(prepared))]
    return [CleanUp(prepared[i], model_input[i], output[i], None if readings is None else readings[i],
                    out_of_depth(model_input[i], output[i], None if readings is None else readings[i]["output"][1],
                                 None if nats[i] is None else float(nats[i])))
            for i in range(len(prepared))]


SWEEP_FIELDS = ("strengths", "psnr", "accuracy", "ssim")


@dataclass(frozen=True)
class SweepLine:
    """Mean PSNR (dB) and SSIM against the clean digits and classifier accuracy, one value per noise strength."""

    strengths: np.ndarray
    psnr: np.ndarray
    accuracy: np.ndarray
    ssim: np.ndarray


def sweep_line(model: nn.Module | str | None, classifier: nn.Module, clean: np.ndarray, labels: np.ndarray,
               kind: str, strengths: np.ndarray | None = None, seed: int = 0,
               on_progress: Callable[[float], None] | None = None) -> SweepLine:
    """Score a denoiser's output at each noise strength: an autoencoder, a classical filter (a key of
    `classical.METHODS`, at its tuned value) or, for model None, the noisy input itself.

    The noise at each strength is seeded the same for every model, so lines are comparable.

    Args:
        clean: digits (N, 28, 28) in [0, 1] with their `labels` (N,).
        strengths: defaults to NOISE_RANGES[kind].grid().
        on_progress: called with the fraction done after each strength.
    """
    clean = np.asarray(clean, dtype=np.float32)
    strengths = NOISE_RANGES[kind].grid() if strengths is None else np.asarray(strengths, dtype=np.float64)
    psnr, correct, ssim = np.zeros(len(strengths)), np.zeros(len(strengths)), np.zeros(len(strengths))
    for i, strength in enumerate(strengths):
        images = data_lib.add_noise(clean, kind, float(strength), seed)
        if isinstance(model, str):
            images = classical.denoise(model, images)
        elif model is not None:
            images = reconstruct(model, images)
        psnr[i] = psnr_db(images, clean).mean()
        ssim[i] = metrics.ssim(images, clean).mean()
        correct[i] = accuracy(classifier, images, labels)
        if on_progress is not None:
            on_progress((i + 1) / len(strengths))
    return SweepLine(strengths, psnr, correct, ssim)


# --- curves kept on disk ---------------------------------------------------------------------
# A sweep costs ~25 s of CPU per noise kind and model on 2 cores (BM3D: minutes); the shipped
# checkpoints' and the classical filters' curves are computed once (`python -m core.denoise
# --precompute`) and kept beside them, named by the weights' hashes (a filter's by its tuned value),
# so a retrained model or classifier, or a retuned filter, never shows a stale curve.

def curves_dir() -> Path:
    return checkpoints.checkpoint_dir() / "curves"


def sweep_file(kind: str, model_meta: dict | None, classifier_meta: dict) -> Path:
    """Where the sweep line of a checkpoint (None: the noisy input) against a classifier is kept."""
    subject = "noisy" if model_meta is None else f"{model_meta['name']}-{model_meta['sha256'][:12]}"
    return curves_dir() / f"{kind}-{subject}-classifier-{classifier_meta['sha256'][:12]}-{SWEEP_DIGITS}.json"


def classical_sweep_file(kind: str, method: str, classifier_meta: dict) -> Path:
    """Where a classical filter's sweep line (at its tuned value) against a classifier is kept."""
    subject = f"classical-{method}-{classical.TUNED[method]:g}"
    return curves_dir() / f"{kind}-{subject}-classifier-{classifier_meta['sha256'][:12]}-{SWEEP_DIGITS}.json"


def read_sweep(path: Path) -> SweepLine | None:
    """A kept sweep line, or None when the file is missing, damaged or lacks a measure (SSIM came later)."""
    try:
        values = json.loads(path.read_text())
        return SweepLine(*(np.asarray(values[k], dtype=np.float64) for k in SWEEP_FIELDS))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_sweep(path: Path, line: SweepLine) -> None:
    """Keep a sweep line on disk atomically (a temporary file renamed into place)."""
    values = {k: getattr(line, k).round(5).tolist() for k in SWEEP_FIELDS}
    write_atomic(path, json.dumps(values).encode(), what="The measured curve")


def _kept_or_measured(path: Path, measure: Callable[[], SweepLine]) -> SweepLine:
    line = read_sweep(path)
    if line is not None:
        return line
    line = measure()
    try:
        write_sweep(path, line)
    except OSError as exc:  # a full disk, a read-only folder: the line is right, only measured again next time
        log.warning("sweep line not kept: %s", exc)
    return line


def stored_sweep_line(model_name: str | None, kind: str, clean: np.ndarray, labels: np.ndarray,
                      on_progress: Callable[[float], None] | None = None, models: dict | None = None) -> SweepLine:
    """The sweep line of a checkpoint (None: the noisy input) from disk, else measured and kept.

    Args:
        models: checkpoint name -> (model, meta) already loaded; others are loaded here.
    """
    models = dict(models or {})
    for name in {"classifier", model_name} - {None} - set(models):
        models[name] = checkpoints.load(name)
    model, model_meta = models[model_name] if model_name is not None else (None, None)
    classifier, classifier_meta = models["classifier"]
    return _kept_or_measured(sweep_file(kind, model_meta, classifier_meta),
                             lambda: sweep_line(model, classifier, clean, labels, kind, on_progress=on_progress))


def stored_classical_line(method: str, kind: str, clean: np.ndarray, labels: np.ndarray,
                          classifier: tuple[nn.Module, dict] | None = None,
                          on_progress: Callable[[float], None] | None = None) -> SweepLine:
    """A classical filter's sweep line from disk, else measured and kept (`classifier`: (model, meta)
    already loaded, else the shipped one is loaded here)."""
    model, meta = checkpoints.load("classifier") if classifier is None else classifier
    return _kept_or_measured(classical_sweep_file(kind, method, meta),
                             lambda: sweep_line(method, model, clean, labels, kind, on_progress=on_progress))


SHIPPED_CURVES = (None, "unet", "denoising", "conv")  # the lines the Noise lab draws by default


# --- skip connections against a bottleneck -----------------------------------------------------
# A denoiser whose every pixel goes through a small code can only give back what the code holds:
# something near the typical digit of its class. Measured as the distance of an output to its class's
# average training digit, relative to the clean digit's distance (below 1: more typical than the truth).

COMPARE_NOISE = ("gaussian", KERAS_NOISE_FACTOR)


def class_averages(digits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The average digit (10, 28, 28) in [0, 1] of each class of uint8 or [0, 1] digits."""
    digits = np.asarray(digits, dtype=np.float32)
    digits = digits / 255.0 if digits.max() > 1 else digits
    return np.stack([digits[np.asarray(labels) == c].mean(0) for c in range(10)])


def rms_distance(images: np.ndarray, references: np.ndarray) -> np.ndarray:
    """Root-mean-square pixel difference of each image (N, 28, 28) from its reference, (N,)."""
    difference = np.asarray(images, np.float64) - np.asarray(references, np.float64)
    return np.sqrt((difference ** 2).reshape(len(difference), -1).mean(1))


@dataclass(frozen=True)
class ModelsCompared:
    """Two denoisers on the same noisy test digits: means over them, and the case that shows the
    bottleneck's pull: of the digits the classifier reads right after both, the one whose bottleneck
    output is nearest its class average compared with the skip model's (the largest distance gap)."""

    names: tuple[str, str]      # (with skips, bottleneck)
    kind: str
    strength: float
    digits: int
    psnr: dict[str, float]      # model name (and "noisy") -> mean dB
    ssim: dict[str, float]
    accuracy: dict[str, float]
    typicality: dict[str, float]  # model name -> mean of distance to class average / the clean digit's
    case: int                     # index of the test digit shown
    case_distance: dict[str, float]  # "clean" and each model name -> RMS distance to the class average
    case_psnr: dict[str, float]

    def to_json(self) -> bytes:
        return json.dumps(dataclasses.asdict(self)).encode()

    @classmethod
    def from_json(cls, text: str) -> ModelsCompared:
        values = json.loads(text)
        return cls(**{**values, "names": tuple(values["names"])})


def compare_models(skip: nn.Module, bottleneck: nn.Module, names: tuple[str, str], classifier: nn.Module,
                   clean: np.ndarray, labels: np.ndarray, averages: np.ndarray, seed: int = 0) -> ModelsCompared:
    """Measure two denoisers on seeded COMPARE_NOISE versions of `clean` (N, 28, 28) with `labels`,
    against the class `averages` (10, 28, 28)."""
    kind, strength = COMPARE_NOISE
    clean = np.asarray(clean, dtype=np.float32)
    noisy = data_lib.add_noise(clean, kind, strength, seed)
    outputs = {names[0]: reconstruct(skip, noisy), names[1]: reconstruct(bottleneck, noisy)}
    typical = averages[np.asarray(labels)]
    truth = rms_distance(clean, typical)
    distance = {name: rms_distance(out, typical) for name, out in outputs.items()}
    right = {name: read_digits(classifier, out)[0] == labels for name, out in outputs.items()}
    gap = np.where(right[names[0]] & right[names[1]], distance[names[0]] - distance[names[1]], -np.inf)
    case = int(np.argmax(gap))
    scored = {"noisy": noisy, **outputs}
    return ModelsCompared(
        names=tuple(names), kind=kind, strength=float(strength), digits=len(clean),
        psnr={n: float(psnr_db(x, clean).mean()) for n, x in scored.items()},
        ssim={n: float(metrics.ssim(x, clean).mean()) for n, x in scored.items()},
        accuracy={n: accuracy(classifier, x, labels) for n, x in scored.items()},
        typicality={n: float((distance[n] / np.maximum(truth, 1e-6)).mean()) for n in outputs},
        case=case, case_distance={"clean": float(truth[case]), **{n: float(d[case]) for n, d in distance.items()}},
        case_psnr={n: float(psnr_db(x[case:case + 1], clean[case:case + 1])[0]) for n, x in scored.items()})


def comparison_file(names: tuple[str, str], metas: tuple[dict, dict], classifier_meta: dict) -> Path:
    """Where the comparison of two checkpoints is kept: named by their checkpoint names (which
    `checkpoints.load` has validated), both weights' hashes and the classifier's."""
    kind, strength = COMPARE_NOISE
    subjects = "-".join(f"{name}-{meta['sha256'][:12]}" for name, meta in zip(names, metas))
    return curves_dir() / f"compare-{kind}-{strength:g}-{subjects}-classifier-{classifier_meta['sha256'][:12]}-{SWEEP_DIGITS}.json"


def stored_comparison(names: tuple[str, str], clean: np.ndarray, labels: np.ndarray,
                      averages: Callable[[], np.ndarray], models: dict | None = None) -> ModelsCompared:
    """The comparison of two checkpoints (with skips, bottleneck) from disk, else measured and kept.

    Args:
        averages: gives the class averages (10, 28, 28), only called when the comparison is measured.
        models: checkpoint name -> (model, meta) already loaded; others are loaded here.
    """
    models = dict(models or {})
    for name in {"classifier", *names} - set(models):
        models[name] = checkpoints.load(name)
    path = comparison_file(names, (models[names[0]][1], models[names[1]][1]), models["classifier"][1])
    try:
        return ModelsCompared.from_json(path.read_text())
    except (OSError, ValueError, KeyError, TypeError):
        pass  # not kept yet, or from an older layout: measured again below
    compared = compare_models(models[names[0]][0], models[names[1]][0], names, models["classifier"][0],
                              clean, labels, averages())
    try:
        write_atomic(path, compared.to_json(), what="The comparison of two denoisers")
    except OSError as exc:
        log.warning("comparison not kept: %s", exc)
    return compared


COMPARED_MODELS = ("unet", "denoising")  # (with skips, bottleneck): the Denoising page's two autoencoders


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure and keep the Noise lab's sweep lines for the shipped "
                                                 "checkpoints and the classical filters, and the two autoencoders' comparison.")
    parser.add_argument("--precompute", action="store_true", required=True)
    parser.parse_args(argv)
    torch.set_num_threads(1)
    test = data_lib.load("mnist", "test")
    clean, labels = test.images[:SWEEP_DIGITS] / 255.0, test.labels[:SWEEP_DIGITS]
    loaded = {"classifier": checkpoints.load("classifier")}
    for name in {*SHIPPED_CURVES[1:], *COMPARED_MODELS} - {None}:
        try:
            loaded[name] = checkpoints.load(name)
        except (FileNotFoundError, ValueError) as exc:
            print(f"skipped {name}: {exc}")
    keep = {p.resolve() for p in curves_dir().glob("*.json")}
    written, seconds = set(), {}
    for kind in NOISE_RANGES:
        for name in (n for n in SHIPPED_CURVES if n is None or n in loaded):
            start = time.perf_counter()
            stored_sweep_line(name, kind, clean, labels, models=loaded)
            path = sweep_file(kind, loaded[name][1] if name else None, loaded["classifier"][1])
            written.add(path.resolve())
            seconds[name or "noisy input"] = seconds.get(name or "noisy input", 0) + time.perf_counter() - start
            print(f"{kind:>12} {name or 'noisy input':>13}: {path.name} ({time.perf_counter() - start:.1f} s)")
        for method in classical.METHODS:
            start = time.perf_counter()
            stored_classical_line(method, kind, clean, labels, classifier=loaded["classifier"])
            path = classical_sweep_file(kind, method, loaded["classifier"][1])
            written.add(path.resolve())
            seconds[method] = seconds.get(method, 0) + time.perf_counter() - start
            print(f"{kind:>12} {method:>13}: {path.name} ({time.perf_counter() - start:.1f} s)")
    if all(name in loaded for name in COMPARED_MODELS):
        train = data_lib.load("mnist", "train")
        stored_comparison(COMPARED_MODELS, clean, labels, lambda: class_averages(train.images, train.labels), loaded)
        path = comparison_file(COMPARED_MODELS, tuple(loaded[n][1] for n in COMPARED_MODELS), loaded["classifier"][1])
        written.add(path.resolve())
        print(f"{' vs '.join(COMPARED_MODELS)}: {path.name}")
    for stale in keep - written:  # curves of weights or tuned values that are no longer shipped
        stale.unlink()
        print(f"removed {stale.name}")
    print("seconds per subject, 3 noise kinds (0 when kept from before): "
          + ", ".join(f"{name} {value:.1f}" for name, value in seconds.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
