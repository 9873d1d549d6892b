"""Datasets load offline from the right sources, downloads fail over fast, noise is seeded."""

import gzip
import os
import shutil
import threading
import time

import numpy as np
import pytest
import torch

from core import data


def test_torchvision_datasets_import_beside_torch():
    import torchvision.datasets

    assert hasattr(torchvision.datasets, "MNIST") and hasattr(torchvision.datasets, "FashionMNIST")


def test_offline_mnist_train_and_official_test_split():
    train, test = data.load("mnist", "train"), data.load("mnist", "test")
    assert train.images.shape == (5000, 28, 28) and train.images.dtype == np.uint8
    assert np.bincount(train.labels).tolist() == [500] * 10
    assert test.images.shape == (10000, 28, 28)
    assert test.labels[:5].tolist() == [7, 2, 1, 0, 4]  # the official split's first labels
    assert "offline subset" in train.source and "official test split" in test.source
    x = test.floats()
    assert x.shape == (10000, 1, 28, 28) and x.dtype == torch.float32
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0


def test_held_out_slice_when_no_test_split(monkeypatch, tmp_path):
    monkeypatch.setenv("AE_MNIST_DIR", str(tmp_path / "nothing-here"))
    data._load_cached.cache_clear()
    try:
        train, test = data.load("mnist", "train"), data.load("mnist", "test")
    finally:
        data._load_cached.cache_clear()
    assert len(train) == 4000 and len(test) == 1000
    assert np.bincount(test.labels).tolist() == [100] * 10
    assert "held-out" in test.source
    # the held-out digits are not in the training set
    train_rows = {row.tobytes() for row in train.images}
    assert not any(row.tobytes() in train_rows for row in test.images)


def test_damaged_idx_file_is_refused(monkeypatch, tmp_path):
    for name in data.MNIST_TEST_MD5:
        shutil.copy(data.mnist_idx_dir() / name, tmp_path / name)
    images = tmp_path / "t10k-images-idx3-ubyte.gz"
    raw = bytearray(gzip.decompress(images.read_bytes()))
    raw[1000] ^= 0xFF
    images.write_bytes(gzip.compress(bytes(raw)))
    monkeypatch.setenv("AE_MNIST_DIR", str(tmp_path))
    data._load_cached.cache_clear()
    try:
        with pytest.raises(ValueError, match="damaged"):
            data.load("mnist", "test")
    finally:
        data._load_cached.cache_clear()


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


def _fake_mnist(fail):
    class FakeMNIST:
        def __init__(self, root, train=True, download=False):
            if download:
                fail()
            raise RuntimeError("Dataset not found. You can use download=True to download it")
    return FakeMNIST


def test_failed_download_falls_back_and_leaves_no_files(monkeypatch, tmp_path):
    import torchvision.datasets

    def fail():
        raise OSError("network unreachable")

    monkeypatch.setattr(torchvision.datasets, "MNIST", _fake_mnist(fail))
    monkeypatch.setenv("AE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("AE_OFFLINE", raising=False)
    monkeypatch.setattr(data, "_download_failed", set())
    data._load_cached.cache_clear()
    try:
        train = data.load("mnist", "train")
    finally:
        data._load_cached.cache_clear()
    assert "offline subset" in train.source
    assert list(tmp_path.iterdir()) == []  # the temporary download folder is gone


def test_pages_get_the_offline_data_at_once_while_the_download_runs_in_the_background(monkeypatch, tmp_path):
    import torchvision.datasets

    release = threading.Event()
    monkeypatch.setattr(torchvision.datasets, "MNIST", _fake_mnist(lambda: release.wait(30)))
    monkeypatch.setenv("AE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("AE_OFFLINE", raising=False)
    monkeypatch.setattr(data, "_download_failed", set())
    monkeypatch.setattr(data, "_background", {})
    start = time.monotonic()
    try:
        test = data.load("mnist", "test", wait=False)
        assert time.monotonic() - start < 1
        assert "official test split" in test.source
        assert data._background["mnist"].is_alive()  # still downloading
        data.load("mnist", "test", wait=False)
        assert len(data._background) == 1  # one download, however many pages ask
    finally:
        release.set()
    data._background["mnist"].join(15)
    assert "mnist" in data._download_failed  # the fake download found nothing: later loads stay offline


def test_a_download_clears_folders_abandoned_by_a_stopped_server(monkeypatch, tmp_path):
    import torchvision.datasets

    abandoned, recent = tmp_path / ".download-old", tmp_path / ".download-running"
    for folder in (abandoned, recent):
        (folder / "MNIST" / "raw").mkdir(parents=True)
    os.utime(abandoned, (time.time() - 7200, time.time() - 7200))

    def fail():
        raise OSError("network unreachable")

    monkeypatch.setattr(torchvision.datasets, "MNIST", _fake_mnist(fail))
    monkeypatch.setenv("AE_DATA_DIR", str(tmp_path))
    assert data.download("mnist", timeout=5.0) is False
    assert not abandoned.exists()
    assert recent.exists()  # may belong to a download still running elsewhere


def test_hanging_download_gives_up_within_its_timeout(monkeypatch, tmp_path):
    import torchvision.datasets

    release = threading.Event()
    monkeypatch.setattr(torchvision.datasets, "MNIST", _fake_mnist(lambda: release.wait(30)))
    monkeypatch.setenv("AE_DATA_DIR", str(tmp_path))
    start = time.monotonic()
    assert data.download("mnist", timeout=1.0) is False
    assert time.monotonic() - start < 3
    release.set()


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
