"""Latent maps: how fast a cached map shows, what a t-SNE recompute costs, and each map's quality.

    python -m bench.bench_latent                   # cached map shown, t-SNE of 2k/5k/10k points, map quality
    python -m bench.bench_latent --compare         # scikit-learn Barnes-Hut vs openTSNE, 10,000 points
    python -m bench.bench_latent --compare --points 5000

t-SNE runs on raw pixels (PCA to 50 dims first), the widest input the page has. Wall-clock time
depends on what else runs on the machine, so each line also gives the process's CPU seconds
(single-threaded runs: about the wall time on an idle machine) and the load average.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace

import numpy as np
import torch

import core  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads)
from core import PROJECT_DIR, checkpoints, latent
from core import data as data_lib


def timed(fn):
    """(result, wall seconds, CPU seconds of this process and its threads)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def load_text() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def pixels_of(points: int) -> tuple[np.ndarray, np.ndarray]:
    """(PCA-50 of the pixels (N, 50), labels (N,)) of the map's sample of test digits."""
    digits = data_lib.load("mnist", "test")
    subset = digits.subset(latent.map_indices(len(digits), points))
    return latent.pca_2d(latent.map_features(None, subset), latent.TSNE_INPUT_DIMS), subset.labels


def knn_of(coords: np.ndarray, labels: np.ndarray, pixels50: np.ndarray) -> str:
    knn, trust = latent.map_quality(coords.astype(np.float32), labels, pixels50)
    return f"k-NN {knn:.3f}, trustworthiness {trust:.3f}"


def compare(points: int) -> None:
    """The same map by scikit-learn's Barnes-Hut t-SNE and by openTSNE, default and tuned settings."""
    from openTSNE import TSNE as OpenTSNE
    from sklearn.manifold import TSNE as SklearnTSNE

    features, labels = pixels_of(points)
    lab = latent.TSNESettings()
    candidates = {
        "scikit-learn Barnes-Hut, 1 job": lambda: SklearnTSNE(
            perplexity=30, init="pca", random_state=0, n_jobs=1).fit_transform(features),
        "scikit-learn Barnes-Hut, 2 jobs": lambda: SklearnTSNE(
            perplexity=30, init="pca", random_state=0, n_jobs=2).fit_transform(features),
        "openTSNE defaults (FFT), 1 job": lambda: np.asarray(OpenTSNE(
            perplexity=30, initialization="pca", random_state=0, n_jobs=1).fit(features)),
        "openTSNE lab settings, Annoy, 1 job": lambda: latent.tsne_2d(
            features, settings=replace(lab, n_jobs=1, neighbors="annoy")),
        "openTSNE lab settings, 1 job": lambda: latent.tsne_2d(features, settings=replace(lab, n_jobs=1)),
        f"openTSNE lab settings, {lab.n_jobs} jobs": lambda: latent.tsne_2d(features, settings=lab),
    }
    print(f"t-SNE of {points:,} test digits (pixels, PCA-50), perplexity 30; trustworthiness against the PCA-50 input")
    for name, run in candidates.items():
        coords, wall, cpu = timed(run)
        print(f"  {name:36s} {wall:6.1f} s wall  {cpu:6.1f} s CPU  {knn_of(coords, labels, features)}  ({load_text()})",
              flush=True)


def cached_map_shown() -> None:
    """A shipped map read from disk, and the Latent space page re-run with it warm."""
    from streamlit.testing.v1 import AppTest

    digits = data_lib.load("mnist", "test")
    _, meta = checkpoints.load("ae20")
    name = latent.map_file_name("ae20", meta["sha256"], "tsne", latent.DEFAULT_POINTS, latent.DEFAULT_PERPLEXITY,
                                latent.digits_fingerprint(digits))
    try:
        _, wall, _ = timed(lambda: latent.read_map(name))
        print(f"shipped map read from disk: {1000 * wall:.1f} ms ({name})")
    except FileNotFoundError:
        print(f"no shipped map {name}: run `python -m core.latent --precompute` first")
        return
    at = AppTest.from_file(str(PROJECT_DIR / "app.py"), default_timeout=300)
    at.run()
    at.switch_page("views/latent_space.py")
    _, first, _ = timed(at.run)
    runs = [timed(at.run)[1] for _ in range(5)]
    if at.exception:
        raise SystemExit(f"the page failed: {at.exception[0].value}")
    print(f"Latent space page with its cached maps: first run {first:.2f} s (loads models and digits), "
          f"warm re-run median {np.median(runs):.2f} s (goal <= 1 s)  ({load_text()})")


def tsne_cost(sizes: list[int]) -> None:
    for points in sizes:
        features, labels = pixels_of(points)
        coords, wall, cpu = timed(lambda features=features: latent.tsne_2d(features))
        print(f"t-SNE recompute, {points:>6,} points: {wall:5.1f} s wall, {cpu:5.1f} s CPU "
              f"({latent.TSNESettings().n_jobs} jobs; goal for 10,000: <= 20 s)  {knn_of(coords, labels, features)}  "
              f"({load_text()})", flush=True)


def map_quality() -> None:
    """The quality numbers stored with each shipped map."""
    digits = data_lib.load("mnist", "test")
    fingerprint = latent.digits_fingerprint(digits)
    print(f"shipped maps ({latent.DEFAULT_POINTS:,} points, t-SNE perplexity {latent.DEFAULT_PERPLEXITY:g}; "
          f"{latent.QUALITY_NEIGHBOURS}-NN accuracy in the map, trustworthiness against the pixels):")
    for space in latent.SHIPPED_SPACES:
        weights = None if space == latent.PIXELS else checkpoints.read_meta(space)["sha256"]
        for method in latent.MAP_METHODS:
            name = latent.map_file_name(space, weights, method, latent.DEFAULT_POINTS, latent.DEFAULT_PERPLEXITY,
                                        fingerprint)
            try:
                m = latent.read_map(name)
            except FileNotFoundError:
                print(f"  {space:6s} {method:4s} missing: run `python -m core.latent --precompute`")
                continue
            print(f"  {space:6s} {method:4s} k-NN accuracy {m.knn_accuracy:.3f}  trustworthiness {m.trustworthiness:.3f}"
                  f"  (computed in {m.seconds:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", action="store_true", help="t-SNE implementations side by side")
    parser.add_argument("--points", type=int, default=10_000, help="points for --compare")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.compare:
        compare(args.points)
        return
    cached_map_shown()
    map_quality()
    tsne_cost([2_000, 5_000, 10_000])


if __name__ == "__main__":
    main()
