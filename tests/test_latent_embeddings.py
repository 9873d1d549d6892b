"""2-D maps of digits: t-SNE / PCA, their quality numbers, and the on-disk cache keyed by weights."""

import numpy as np
import pytest

from core import checkpoints, inference, latent
from core import data as data_lib
from core.data import Digits


@pytest.fixture
def map_cache(tmp_path, monkeypatch):
    """An empty folder for maps computed during the test."""
    folder = tmp_path / "maps"
    monkeypatch.setenv("AE_EMBEDDING_DIR", str(folder))
    return folder


def blobs(per_class: int = 60, classes: int = 3, seed: int = 0) -> Digits:
    """Digit-shaped images of a few well-separated classes: each class lights one block of pixels."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 30, size=(per_class * classes, 28, 28)).astype(np.uint8)
    labels = np.repeat(np.arange(classes), per_class)
    for c in range(classes):
        images[labels == c, 9 * c:9 * c + 9, :] = 255
    return Digits(images, labels.astype(np.int64), "test blobs")


def test_sample_of_points_is_fixed_sorted_and_everything_when_asked_for_all():
    a, b = latent.map_indices(10_000, 2_000), latent.map_indices(10_000, 2_000)
    assert np.array_equal(a, b) and len(np.unique(a)) == 2_000 and np.all(np.diff(a) > 0)
    assert a.max() > 5_000  # not only the first (cleaner) half of the test split
    assert np.array_equal(latent.map_indices(500, 800), np.arange(500))


def test_map_quality_is_perfect_for_a_map_that_is_the_data_itself():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 50)
    points = rng.normal(size=(150, 2)) * 0.3 + labels[:, None] * 10.0
    knn, trust = latent.map_quality(points.astype(np.float32), labels, points)
    assert knn == 1.0 and trust == pytest.approx(1.0)
    shuffled = rng.permutation(points)  # the same dots, each digit put somewhere random
    knn_bad, trust_bad = latent.map_quality(shuffled.astype(np.float32), labels, points)
    assert knn_bad < 0.6 and trust_bad < 0.7


def test_tsne_separates_classes_and_reports_progress_to_the_end():
    digits = blobs()
    fractions = []
    result = latent.compute_map(None, digits, "tsne", points=len(digits), perplexity=20,
                                progress=lambda fraction, text: fractions.append(fraction))
    assert result.coords.shape == (len(digits), 2) and np.isfinite(result.coords).all()
    assert result.knn_accuracy > 0.95 and 0.0 <= result.trustworthiness <= 1.0
    assert np.array_equal(result.labels, digits.labels) and np.array_equal(result.indices, np.arange(len(digits)))
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) > 5


def test_pca_of_a_2d_code_is_the_code_itself():
    model, _ = checkpoints.load("ae2")
    digits = data_lib.load("mnist", "test")
    result = latent.compute_map(model, digits, "pca", points=300)
    codes = inference.encode(model, digits.images[result.indices])
    assert np.allclose(result.coords, codes, rtol=2e-3, atol=2e-3)  # stored as float16


def test_unknown_method_and_too_few_points_are_explained():
    with pytest.raises(ValueError, match="tsne, pca"):
        latent.compute_map(None, blobs(), "umap")
    with pytest.raises(ValueError, match="at least"):
        latent.compute_map(None, blobs(), "pca", points=10)


def test_file_name_changes_with_weights_digits_and_settings():
    base = dict(space="ae2", weights_sha256="a" * 64, method="tsne", points=5000, perplexity=30.0, fingerprint="f" * 12)
    name = latent.map_file_name(**base)
    for change in (dict(weights_sha256="b" * 64), dict(fingerprint="e" * 12), dict(points=4000),
                   dict(perplexity=20.0), dict(method="pca")):
        assert latent.map_file_name(**{**base, **change}) != name, change
    pca = {**base, "method": "pca"}
    assert latent.map_file_name(**pca) == latent.map_file_name(**{**pca, "perplexity": 5.0})  # PCA has none
    assert "/" not in name and name.endswith(".npz")


def test_saved_map_reloads_as_it_was_measured(tmp_path):
    result = latent.compute_map(None, blobs(), "pca", points=180)
    loaded = latent.load_map(latent.save_map(tmp_path / "m.npz", result))
    assert np.array_equal(loaded.coords, result.coords)  # already rounded to float16 when measured
    assert np.array_equal(loaded.indices, result.indices) and np.array_equal(loaded.labels, result.labels)
    assert (loaded.knn_accuracy, loaded.trustworthiness) == (result.knn_accuracy, result.trustworthiness)
    assert not list(tmp_path.glob("*.tmp"))


def test_get_map_computes_once_and_a_new_weights_hash_is_never_served_a_stale_map(map_cache, monkeypatch):
    digits = blobs()
    calls = []
    real = latent.compute_map
    monkeypatch.setattr(latent, "compute_map", lambda *a, **k: calls.append(1) or real(*a, **k))
    first = latent.get_map("mine", None, "1" * 64, digits, "pca", 150)
    again = latent.get_map("mine", None, "1" * 64, digits, "pca", 150)
    assert len(calls) == 1 and np.array_equal(first.coords, again.coords)
    assert len(list(map_cache.glob("*.npz"))) == 1
    latent.get_map("mine", None, "2" * 64, digits, "pca", 150)  # the checkpoint was retrained
    assert len(calls) == 2


def test_read_map_says_when_there_is_none(map_cache):
    with pytest.raises(FileNotFoundError):
        latent.read_map("nothing-tsne-10-p30-0000.npz")


def test_precompute_writes_missing_maps_and_removes_outdated_ones(tmp_path, map_cache):
    folder = tmp_path / "shipped"
    folder.mkdir()
    outdated = folder / "pixels-pca-300-000000000000.npz"
    outdated.write_bytes(b"old")
    other_space = folder / "ae2-pca-300-000000000000.npz"
    other_space.write_bytes(b"not part of this run")
    lines = []
    written = latent.precompute([latent.PIXELS], ["pca"], points=300, folder=folder, log=lines.append)
    assert [p.exists() for p in written] == [True] and not outdated.exists() and other_space.exists()
    latent.precompute([latent.PIXELS], ["pca"], points=300, folder=folder, log=lines.append)
    assert lines[-1].endswith("up to date")


def test_shipped_maps_match_the_shipped_checkpoints():
    """The first view of every default map is a file read; after retraining, run the precompute CLI."""
    digits = data_lib.load("mnist", "test")
    fingerprint = latent.digits_fingerprint(digits)
    missing = []
    for space in latent.SHIPPED_SPACES:
        weights = None if space == latent.PIXELS else checkpoints.read_meta(space)["sha256"]
        for method in latent.MAP_METHODS:
            name = latent.map_file_name(space, weights, method, latent.DEFAULT_POINTS, latent.DEFAULT_PERPLEXITY,
                                        fingerprint)
            if not (latent.SHIPPED_MAP_DIR / name).is_file():
                missing.append(name)
    assert not missing, f"outdated or missing maps {missing}: run `python -m core.latent --precompute`"


def test_every_shipped_pca_map_keeps_the_pca_that_places_new_digits():
    fingerprint = latent.digits_fingerprint(data_lib.load("mnist", "test"))
    for space in latent.SHIPPED_SPACES:
        weights = None if space == latent.PIXELS else checkpoints.read_meta(space)["sha256"]
        name = latent.map_file_name(space, weights, "pca", latent.DEFAULT_POINTS, latent.DEFAULT_PERPLEXITY, fingerprint)
        assert latent.read_map(name).projection is not None, f"{name}: run `python -m core.latent --precompute`"
