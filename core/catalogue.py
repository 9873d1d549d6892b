"""What the home page shows about each checkpoint, read without torch.

A checkpoint's metadata is JSON in its safetensors header, so the headline figure, epochs and
data source come from the first bytes of the file. The pictures come from thumbnail files that
`python -m core.thumbnails` makes from the checkpoints, named by the weights' hash, so a
retrained checkpoint never shows an old picture. Importing this module loads no torch: the home
page draws in the time Streamlit itself needs to start.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core import KERAS_NOISE_FACTOR, PROJECT_DIR

SUFFIX = ".safetensors"
META_KEY = "autoencoder_lab"
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")  # no dots or slashes: a name stays in the folder
THUMBNAIL_FOLDER = "thumbnails"
TEST_ROW_FILE = "test-digits.json"  # the row of test digits every thumbnail rebuilds
MAX_HEADER_BYTES = 16 << 20  # a header holds metadata and tensor offsets: kilobytes, never this
MAX_THUMBNAIL_BYTES = 1 << 20  # a thumbnail record holds one small PNG: 5-15 KB
HOME_VISITOR_MODELS = 10  # visitors' models with a card on the home page, newest first; all are in the pickers

# Published figures with the full 60,000 training digits, for comparison.
REFERENCES = {
    "dense": "BCE 0.092 (Keras blog, Adam)",
    "deep": "BCE 0.082 (Keras blog)",
    "conv": "BCE 0.094 (Keras blog)",
    "vae": "106 nats (pytorch/examples, 20-D)",
    "vae2": "146.95 nats (keras-io, 2-D conv VAE)",
}

# What each headline figure measures and which way is better, for a help tooltip beside it.
METRIC_HELP = {
    "roc_auc": "ROC AUC: the chance that a random digit of another class scores as more anomalous than a "
               "random digit of the known class. Higher is better: 1.0 separates them perfectly, 0.5 is a "
               "coin toss.",
    "nelbo": "-ELBO in nats: how many nats (natural-log units of information) the model needs to describe a "
             "test digit: the reconstruction error plus the cost of its code. Lower is better.",
    "accuracy": "Accuracy: the share of the 10,000 test digits the classifier labels correctly. Higher is "
                "better.",
    "psnr_denoised": "PSNR in dB: how close the cleaned-up digit is to the clean original when Gaussian noise "
                     "of factor 0.5 was added (peak signal-to-noise ratio; +6 dB is half the error). Higher "
                     "is better; the noisy input itself scores about 9.4 dB.",
    "bce": "BCE per pixel: binary cross-entropy between each test digit and its rebuild, averaged over the "
           "pixels: how badly the rebuilt pixels miss the original ones. Lower is better; 0 is a perfect copy.",
}




def headline_key(metrics: dict, denoiser: bool = False) -> str:
    """The key of the one figure that says most about a model (a key of METRIC_HELP).

    Args:
        metrics: a checkpoint's stored test metrics (ModelMetrics.as_dict).
        denoiser: the model was trained on noisy inputs (its recipe has a noise), so its PSNR says most.
    """
    for key in ("roc_auc", "nelbo", "accuracy"):
        if metrics.get(key) is not None:
            return key
    return "psnr_denoised" if denoiser else "bce"


def headline(metrics: dict, denoiser: bool = False) -> str:
    """The one figure that says most about a model, as a short phrase."""
    key = headline_key(metrics, denoiser)
    if key == "roc_auc":
        return f"ROC AUC {metrics['roc_auc']:.3f} (digit {metrics['digit']} vs the rest)"
    if key == "nelbo":
        return f"-ELBO {metrics['nelbo']:.1f} nats"
    if key == "accuracy":
        return f"accuracy {100 * metrics['accuracy']:.2f}%"
    if key == "psnr_denoised":
        return f"PSNR {metrics['psnr_denoised']:.1f} dB at noise {KERAS_NOISE_FACTOR:g}"
    return f"BCE {metrics['bce']:.4f} per pixel"


def is_denoiser(meta: dict) -> bool:
    """Whether a checkpoint's recipe trained it on noisy inputs."""
    return (meta.get("recipe") or {}).get("noise") is not None


def checkpoint_headline(meta: dict) -> str:
    """`headline` of a checkpoint from its metadata."""
    return headline(meta["metrics"], is_denoiser(meta))


def headline_help(meta: dict) -> str:
    """The tooltip for a checkpoint's headline: what it measures, which way is better, the reference."""
    text = METRIC_HELP[headline_key(meta["metrics"], is_denoiser(meta))]
    if meta.get("model") in REFERENCES:
        text += f" Published reference, trained on all 60,000 digits: {REFERENCES[meta['model']]}."
    return text


def checkpoint_dir() -> Path:
    """The checkpoint folder: `AE_CHECKPOINT_DIR`, default checkpoints/ in the project."""
    return Path(os.environ.get("AE_CHECKPOINT_DIR", PROJECT_DIR / "checkpoints"))


def thumbnail_dir() -> Path:
    return checkpoint_dir() / THUMBNAIL_FOLDER


def thumbnail_file(name: str, sha256: str) -> Path:
    """Where a checkpoint's card picture lives: named by the checkpoint and its weights' hash."""
    return thumbnail_dir() / f"{name}-{sha256[:12]}.json"


def open_regular(path: Path):
    """`path` opened for reading in binary, when it is a regular file (a link to one counts).

    Anything else is refused without blocking: opening a FIFO planted under a checkpoint's name
    would wait for a writer and hang the page, and every session after it.

    Raises:
        OSError: as opening raises (a symlink loop: ELOOP), or EINVAL "not a regular file".
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # O_NONBLOCK: a FIFO opens at once instead of waiting
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular_text(path: Path, most: int) -> str:
    """The text of a regular file of at most `most` bytes (`open_regular`); OSError or ValueError otherwise."""
    with open_regular(path) as file:
        data = file.read(most + 1)
    if len(data) > most:
        raise ValueError(f"more than {most} bytes")
    return data.decode()


class UnreadableHeaderError(ValueError):
    """The file is cut short, damaged or not a checkpoint of this lab."""


HEADER_ERRORS = (ValueError, KeyError, TypeError, IndexError, AttributeError, UnicodeDecodeError)  # from header_meta


def header_meta(path: Path) -> dict:
    """The metadata in a checkpoint file's safetensors header, the weights unread, after checking
    that the file is exactly as long as its header says (a copy cut short is caught here).

    Raises:
        OSError: as opening or reading the file raises (FileNotFoundError when there is none, EINVAL
            for a FIFO or anything else that is not a regular file: `open_regular`).
        One of HEADER_ERRORS: the header is damaged, or not a checkpoint of this lab.
    """
    with open_regular(path) as file:
        header_len = int.from_bytes(file.read(8), "little")
        if not 2 <= header_len <= MAX_HEADER_BYTES:
            raise ValueError(f"header of {header_len} bytes")
        header = json.loads(file.read(header_len))
        size = os.fstat(file.fileno()).st_size
    meta = json.loads(header["__metadata__"][META_KEY])
    if not isinstance(meta, dict):
        raise TypeError("the metadata is not a JSON object")
    data_end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
    if size != 8 + header_len + data_end:
        raise ValueError(f"{size} bytes where the header describes {8 + header_len + data_end}")
    return meta


def read_header(path: Path) -> dict:
    """A checkpoint's metadata from its safetensors header (`header_meta`), with its name.

    Raises:
        UnreadableHeaderError: the header is damaged, or the file is not as long as the header says.
    """
    name = path.name[: -len(SUFFIX)]
    try:
        meta = header_meta(path)
    except HEADER_ERRORS as exc:
        raise UnreadableHeaderError(
            f"The checkpoint {name!r} is damaged or not a checkpoint of this lab ({type(exc).__name__}); "
            "retrain it or restore the file.") from exc
    meta["name"] = name
    return meta


@dataclass(frozen=True)
class Card:
    """One checkpoint as the home page shows it."""

    name: str
    meta: dict | None         # None when the header cannot be read
    problem: str | None       # a sentence when the checkpoint cannot be used
    thumbnail: dict | None    # {"kind", "summary", "image" (PNG data URL), "caption", ...} from core.thumbnails
    is_yours: bool = False    # a visitor's model, from the visitors' folder


@lru_cache(maxsize=256)
def _header(path: Path, stamp: tuple[int, int]) -> tuple[dict | None, str | None]:
    """(metadata, None), or (None, a sentence saying why the file cannot be used); cached per file stamp."""
    try:
        return read_header(path), None
    except UnreadableHeaderError as exc:
        return None, str(exc)
    except OSError as exc:
        return None, f"The checkpoint {path.name[: -len(SUFFIX)]!r} cannot be read ({exc.strerror})."


def read_thumbnail(name: str, sha256: str) -> dict | None:
    """The thumbnail record of a checkpoint's current weights, or None when none was made."""
    try:
        return json.loads(read_regular_text(thumbnail_file(name, sha256), MAX_THUMBNAIL_BYTES))
    except (OSError, ValueError):
        return None


def visitor_dir() -> Path:
    """Where visitors' models live, apart from the shipped ones: `AE_VISITOR_DIR`, default
    visitors/ inside the checkpoint folder."""
    return Path(os.environ.get("AE_VISITOR_DIR", checkpoint_dir() / "visitors"))


def checkpoint_files(folder: Path) -> list[tuple[Path, os.stat_result]]:
    """(path, stat) of every well-named regular checkpoint file in a folder, newest first: a FIFO, a
    folder or a symlink loop under a checkpoint's name is never listed, so never opened."""
    found = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        name = entry.name[: -len(SUFFIX)]
        if not entry.name.endswith(SUFFIX) or not NAME_PATTERN.fullmatch(name):
            continue
        try:
            info = entry.stat()
        except OSError:  # a symlink loop, a dangling link
            continue
        if stat.S_ISREG(info.st_mode):
            found.append((Path(entry.path), info))
    return sorted(found, key=lambda item: item[1].st_mtime_ns, reverse=True)


def cards(newest_yours: int = HOME_VISITOR_MODELS) -> list[Card]:
    """A card for every shipped checkpoint (in registry order) and the newest visitors' models.

    Only the `newest_yours` visitors' models are opened, so a server holding hundreds of them
    draws this page as fast as one holding none. Headers are re-read when a file changes;
    thumbnails on every call, since they are made later.
    """
    shipped = checkpoint_files(checkpoint_dir())
    yours = checkpoint_files(visitor_dir())[:newest_yours]
    found = []
    for path, info in shipped + yours:
        name = path.name[: -len(SUFFIX)]
        meta, problem = _header(path, (info.st_mtime_ns, info.st_size))
        found.append(Card(name, meta, problem, read_thumbnail(name, meta["sha256"]) if meta else None,
                          path.parent != checkpoint_dir()))
    return sorted(found, key=lambda card: (card.is_yours, (card.thumbnail or {}).get("order", 99), card.name))


def visitor_model_count() -> int:
    """How many models visitors saved here (one directory scan, no file opened)."""
    return len(checkpoint_files(visitor_dir()))


def test_row() -> dict | None:
    """The row of test digits the thumbnails rebuild: {"image", "indices", "source"}, or None."""
    try:
        return json.loads(read_regular_text(thumbnail_dir() / TEST_ROW_FILE, MAX_THUMBNAIL_BYTES))
    except (OSError, ValueError):
        return None
