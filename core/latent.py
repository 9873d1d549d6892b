"""Latent spaces: encode datasets, decode codes, latent grids, interpolation paths, and 2-D maps.

The maps (t-SNE or PCA of raw pixels or of a model's codes) are cached on disk, keyed by the
model's weights hash and the test digits, so a retrained checkpoint never shows a stale map:

    python -m core.latent --precompute    # the shipped maps in checkpoints/embeddings/
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core import PROJECT_DIR, checkpoints
from core import data as data_lib
from core.data import Digits
from core.files import WriteError, write_atomic
from core.flights import SingleFlight
from core.inference import decode, encode
from core.latent_view import Projection, fit_projection

GRID_SPACINGS = ("linear", "quantile")


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


# 2-D maps of test digits ---------------------------------------------------------------------

PIXELS = "pixels"  # the space of raw pixels, named beside checkpoint names
MAP_METHODS = ("tsne", "pca")
# Raw pixels and every shipped autoencoder: the seeds' comparison (pixels vs a 2-D and a 20-D code)
# first, then the registry's order. All are precomputed, so no map of a shipped model waits on t-SNE.
SHIPPED_SPACES = (PIXELS, "ae2", "ae20", "conv", "vae", "dense", "dense_mse", "sparse", "deep", "tied",
                  "denoising", "vae2", "cvae", "vae_one")
DEFAULT_POINTS = 10_000
DEFAULT_PERPLEXITY = 30.0
MIN_POINTS = 100
MAP_SEED = 0
TSNE_INPUT_DIMS = 50  # wider inputs are PCA-reduced first, as van der Maaten & Hinton (2008) did for MNIST
QUALITY_NEIGHBOURS = 5
TRUST_SAMPLE = 2_000  # trustworthiness ranks all pairs, O(N^2) memory: measured on a fixed sample
SHIPPED_MAP_DIR = PROJECT_DIR / "checkpoints" / "embeddings"
# Maps computed here that stay on disk, the least recently used deleted first: a map of 10,000 digits
# is about 60 KB as .npz (checkpoints/embeddings), so at most ~12 MB, however many settings and
# visitors' models are mapped.
MAPS_ON_DISK = 200

Progress = Callable[[float, str], None]  # (fraction done in [0, 1], what is happening)


@dataclass(frozen=True)
class TSNESettings:
    """openTSNE's FFT-accelerated t-SNE (Linderman et al. 2019).

    At 10,000 digits it needed ~20 CPU seconds against scikit-learn's Barnes-Hut's ~110, at the
    same k-NN accuracy (`python -m bench.bench_latent --compare`).
    """

    early_exaggeration_iter: int = 250  # openTSNE's default: clusters form under exaggeration 12
    n_iter: int = 500                   # openTSNE's default
    # Map units per FFT grid interval. openTSNE's 1 refines the grid as the map spreads out, which
    # made the last iterations ~10x slower than the first at 10,000 points; 4 kept the k-NN accuracy.
    ints_in_interval: int = 4
    neighbors: str = "exact"            # at <= 50-D, exact search cost less CPU than Annoy's, and is exact
    # openTSNE's "auto" uses Barnes-Hut below 10,000 points, which made 5,000 points cost more than 10,000.
    negative_gradient_method: str = "fft"
    n_jobs: int = min(2, os.cpu_count() or 1)
    report_every: int = 25              # iterations between progress reports


@dataclass(frozen=True)
class LatentMap:
    """Test digits placed in 2-D, and how well the map keeps digits apart and neighbours together."""

    coords: np.ndarray       # (N, 2) float32, rounded to float16 as stored
    indices: np.ndarray      # (N,) positions of the points in the test split
    labels: np.ndarray       # (N,) their digits
    knn_accuracy: float      # leave-one-out 5-NN accuracy in the map: are digits kept apart?
    trustworthiness: float   # against the pixels (Venna & Kaski 2001): are map neighbours real neighbours?
    seconds: float           # how long computing it took
    projection: Projection | None = None  # a PCA map's PCA, which places new digits on it
    unsaved: str | None = None  # why a map computed here could not be kept on disk (a sentence), else None


def map_indices(total: int, points: int, seed: int = MAP_SEED) -> np.ndarray:
    """The test digits a map of `points` shows: a fixed random sample in split order (all when points >= total).

    Random rather than the first `points`: MNIST's first 5,000 test digits are the cleaner half.
    """
    if points >= total:
        return np.arange(total)
    return np.sort(np.random.default_rng(seed).choice(total, points, replace=False))


def map_features(model: nn.Module | None, digits: Digits) -> np.ndarray:
    """What a map arranges, (N, D) float32: raw pixels (model None) or the model's codes, flattened."""
    if model is None:
        return digits.images.reshape(len(digits), -1).astype(np.float32) / 255.0
    return encode(model, digits.images, digits.labels if model.is_conditional else None)


def pca_2d(features: np.ndarray, dims: int = 2, seed: int = MAP_SEED) -> np.ndarray:
    """The first `dims` principal components of features (N, D); features with D <= dims unchanged."""
    from sklearn.decomposition import PCA

    if features.shape[1] <= dims:
        return np.asarray(features, dtype=np.float32)
    return PCA(dims, svd_solver="randomized", random_state=seed).fit_transform(features).astype(np.float32)


def tsne_2d(features: np.ndarray, perplexity: float = DEFAULT_PERPLEXITY, seed: int = MAP_SEED,
            settings: TSNESettings = TSNESettings(), progress: Progress | None = None) -> np.ndarray:
    """t-SNE map (N, 2) of features (N, D) (van der Maaten & Hinton 2008), PCA-initialised."""
    from openTSNE import (
        TSNE,  # imported here: pages that never draw a map don't load it
    )

    total = settings.early_exaggeration_iter + settings.n_iter
    done = 0

    def report(iteration, error, embedding) -> bool:
        nonlocal done
        done += settings.report_every
        progress(min(done / total, 1.0), f"Arranging points: step {done} of {total}")
        return False  # False = keep optimising

    tsne = TSNE(
        perplexity=perplexity, initialization="pca", random_state=seed,
        early_exaggeration_iter=settings.early_exaggeration_iter, n_iter=settings.n_iter,
        ints_in_interval=settings.ints_in_interval, neighbors=settings.neighbors, n_jobs=settings.n_jobs,
        negative_gradient_method=settings.negative_gradient_method,
        callbacks=report if progress else None, callbacks_every_iters=settings.report_every,
    )
    return np.asarray(tsne.fit(pca_2d(features, TSNE_INPUT_DIMS, seed)), dtype=np.float32)


def map_quality(coords: np.ndarray, labels: np.ndarray, pixels: np.ndarray,
                k: int = QUALITY_NEIGHBOURS, sample: int = TRUST_SAMPLE) -> tuple[float, float]:
    """(k-NN accuracy, trustworthiness) of a 2-D map; pixels (N, 784) are the yardstick for
    neighbours, the same for every space, so maps of different models compare."""
    from sklearn.manifold import trustworthiness
    from sklearn.neighbors import NearestNeighbors

    n = len(coords)
    neighbours = NearestNeighbors(n_neighbors=k + 1).fit(coords).kneighbors(coords, return_distance=False)
    neighbours = neighbours[:, 1:]  # (N, k) without the point itself
    votes = np.zeros((n, int(labels.max()) + 1))
    np.add.at(votes, (np.arange(n)[:, None], labels[neighbours]), 1)
    knn_accuracy = float((votes.argmax(1) == labels).mean())
    pick = map_indices(n, sample)
    trust = float(trustworthiness(pixels[pick], coords[pick], n_neighbors=k))
    return knn_accuracy, trust


def compute_map(model: nn.Module | None, digits: Digits, method: str = "tsne", points: int = DEFAULT_POINTS,
                perplexity: float = DEFAULT_PERPLEXITY, progress: Progress | None = None) -> LatentMap:
    """Map `points` test digits to 2-D by t-SNE or PCA of their pixels (model None) or codes."""
    if method not in MAP_METHODS:
        raise ValueError(f"Unknown map method {method!r}; choose one of {', '.join(MAP_METHODS)}.")
    if points < MIN_POINTS:
        raise ValueError(f"A map needs at least {MIN_POINTS} points.")
    report = progress or (lambda fraction, text: None)
    start = time.perf_counter()
    indices = map_indices(len(digits), points)
    subset = digits.subset(indices)
    report(0.0, f"Encoding {len(subset):,} digits")
    features = map_features(model, subset)
    projection = None
    if method == "pca":
        coords = pca_2d(features)
        projection = fit_projection(features, MAP_SEED)
    else:
        report(0.02, "Finding each digit's nearest neighbours")
        coords = tsne_2d(features, perplexity, progress=report)
    coords = coords.astype(np.float16).astype(np.float32)  # measured as stored
    report(1.0, "Measuring the map")
    pixels = subset.images.reshape(len(subset), -1).astype(np.float32) / 255.0
    knn_accuracy, trust = map_quality(coords, subset.labels, pixels)
    return LatentMap(coords, indices, subset.labels, knn_accuracy, trust, time.perf_counter() - start, projection)


# The disk cache: one small .npz per map, named by everything that changes the map.

def map_cache_dir() -> Path:
    """Where maps computed in the app are kept (`AE_EMBEDDING_DIR`, default ~/.cache/autoencoder-lab/embeddings)."""
    default = Path.home() / ".cache" / "autoencoder-lab" / "embeddings"
    return Path(os.environ.get("AE_EMBEDDING_DIR", default))


def digits_fingerprint(digits: Digits) -> str:
    """A short hash of a split's images and labels, so a map of other digits is never reused."""
    digest = hashlib.sha256(np.ascontiguousarray(digits.images).tobytes())
    digest.update(np.ascontiguousarray(digits.labels).tobytes())
    return digest.hexdigest()[:12]


def map_file_name(space: str, weights_sha256: str | None, method: str, points: int, perplexity: float,
                  fingerprint: str) -> str:
    """The cache file of a map: other weights, digits or settings give another name.

    Args:
        space: PIXELS or a checkpoint name (for people reading the folder).
        weights_sha256: the checkpoint's `meta["sha256"]`; None for raw pixels.
    """
    parts = [space, method, str(points)]
    if method == "tsne":
        parts.append(f"p{perplexity:g}")
    if weights_sha256:
        parts.append(weights_sha256[:16])
    parts.append(fingerprint)
    return "-".join(parts) + ".npz"


def save_map(path: Path, latent_map: LatentMap) -> Path:
    """Write a map atomically (a reader never sees half a file); raises core.files.WriteError."""
    projection = {}
    if latent_map.projection is not None:  # a PCA map's PCA, to place new digits on it
        projection = {"projection_mean": latent_map.projection.mean,
                      "projection_components": latent_map.projection.components}
    return write_atomic(Path(path), lambda f: np.savez_compressed(
        f, coords=latent_map.coords.astype(np.float16), indices=latent_map.indices.astype(np.int32),
        labels=latent_map.labels.astype(np.uint8), knn_accuracy=latent_map.knn_accuracy,
        trustworthiness=latent_map.trustworthiness, seconds=latent_map.seconds, **projection,
    ), what="The computed map")


def load_map(path: Path) -> LatentMap:
    with np.load(path) as f:
        projection = None
        if "projection_mean" in f:  # PCA maps saved before the projection was kept have none
            projection = Projection(f["projection_mean"], f["projection_components"])
        return LatentMap(f["coords"].astype(np.float32), f["indices"].astype(np.int64), f["labels"].astype(np.int64),
                         float(f["knn_accuracy"]), float(f["trustworthiness"]), float(f["seconds"]), projection)


def read_map(file_name: str) -> LatentMap:
    """A cached map: the shipped ones first, then those computed here; FileNotFoundError when neither has it.

    A map read from `map_cache_dir()` is marked as used (its modification time), so `prune_maps`
    keeps the maps people look at.
    """
    for folder in (SHIPPED_MAP_DIR, map_cache_dir()):
        path = folder / file_name
        if path.is_file():
            latent_map = load_map(path)
            if folder != SHIPPED_MAP_DIR:
                try:
                    os.utime(path)
                except OSError:  # a read-only cache still serves its maps
                    pass
            return latent_map
    raise FileNotFoundError(f"No cached map {file_name}.")


def prune_maps(folder: Path, keep: int) -> list[Path]:
    """Delete all but the `keep` most recently used maps (.npz files) in `folder`; returns those deleted.

    Only for the folder of maps computed here: the shipped maps are never pruned.
    """
    found = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    if entry.name.endswith(".npz") and entry.is_file(follow_symlinks=False):
                        found.append((entry.stat(follow_symlinks=False).st_mtime_ns, Path(entry.path)))
                except OSError:  # gone meanwhile (another session pruned it)
                    continue
    except OSError:
        return []
    deleted = []
    for _, path in sorted(found, reverse=True)[keep:]:
        try:
            path.unlink()
        except OSError:  # deleted by another session meanwhile, or a read-only folder
            continue
        deleted.append(path)
    return deleted


# One computation per map among concurrent sessions, and one map at a time: a t-SNE takes a core.
_map_flights = SingleFlight(slots=1)


def get_map(space: str, model: nn.Module | None, weights_sha256: str | None, digits: Digits,
            method: str = "tsne", points: int = DEFAULT_POINTS, perplexity: float = DEFAULT_PERPLEXITY,
            progress: Progress | None = None) -> LatentMap:
    """A map from the disk cache, else computed and saved in `map_cache_dir()` (when it cannot be
    saved, its `unsaved` says why).

    Sessions asking for the same uncached map at once share one computation (they wait for it,
    seeing its progress); different maps are computed one after the other.
    """
    name = map_file_name(space, weights_sha256, method, points, perplexity, digits_fingerprint(digits))
    try:
        return read_map(name)
    except FileNotFoundError:
        pass

    def compute(report: Progress) -> LatentMap:
        try:
            return read_map(name)  # finished by another caller between our look and our turn
        except FileNotFoundError:
            pass
        latent_map = compute_map(model, digits, method, points, perplexity, report)
        try:
            save_map(map_cache_dir() / name, latent_map)
        except WriteError as exc:  # a full disk or a read-only folder: the map is still good to show
            return dataclasses.replace(latent_map, unsaved=str(exc))
        prune_maps(map_cache_dir(), MAPS_ON_DISK)
        return latent_map

    return _map_flights.run(name, compute, progress)


def precompute(spaces=SHIPPED_SPACES, methods=MAP_METHODS, points: int = DEFAULT_POINTS,
               perplexity: float = DEFAULT_PERPLEXITY, folder: Path = SHIPPED_MAP_DIR, log=print) -> list[Path]:
    """Compute the default maps of the shipped checkpoints into `folder`, and delete the outdated
    ones of the same spaces and methods (a retrained checkpoint has a new weights hash)."""
    digits = data_lib.load("mnist", "test")
    fingerprint = digits_fingerprint(digits)
    folder = Path(folder)
    wanted = []
    for space in spaces:
        model, weights = None, None
        if space != PIXELS:
            model, meta = checkpoints.load(space)
            weights = meta["sha256"]
        for method in methods:
            path = folder / map_file_name(space, weights, method, points, perplexity, fingerprint)
            wanted.append(path)
            # A PCA map also keeps its PCA (new digits are placed with it); one saved without is redone.
            if path.is_file() and (method != "pca" or load_map(path).projection is not None):
                log(f"{path.name}: up to date")
            else:
                latent_map = compute_map(model, digits, method, points, perplexity)
                save_map(path, latent_map)
                log(f"{path.name}: {latent_map.seconds:.1f} s, k-NN accuracy {latent_map.knn_accuracy:.3f}, "
                    f"trustworthiness {latent_map.trustworthiness:.3f}")
            for old in folder.glob(f"{space}-{method}-*.npz"):
                if old != path:
                    old.unlink()
                    log(f"{old.name}: removed (outdated)")
    return wanted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Precompute the 2-D maps of the shipped checkpoints.")
    parser.add_argument("--precompute", action="store_true", help="compute missing maps, delete outdated ones")
    parser.add_argument("--space", action="append", choices=SHIPPED_SPACES, help="only this space (repeatable)")
    parser.add_argument("--method", action="append", choices=MAP_METHODS, help="only this method (repeatable)")
    args = parser.parse_args(argv)
    if not args.precompute:
        parser.print_help()
        return 2
    torch.set_num_threads(1)
    precompute(args.space or SHIPPED_SPACES, args.method or MAP_METHODS, log=lambda line: print(line, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
