"""Card pictures for the home page, made from the checkpoints (run again after retraining).

    python -m core.thumbnails          # every checkpoint present; removes pictures of old weights

One row of ten test digits (the first of each class) is rebuilt by every model; each checkpoint
(made here for those present, or by core.pipeline.save when a checkpoint is saved) gets a JSON file under checkpoints/thumbnails/ named by its weights' hash, holding the PNG as a
data URL with a caption, its kind and summary, so the home page needs neither torch nor the
registry (core.catalogue reads them).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
import torch

from core import catalogue, checkpoints, images
from core import data as data_lib
from core.evaluate import DENOISE_NOISE
from core.files import write_atomic
from core.inference import read_digits, reconstruct
from core.registry import get_spec, list_models

PAD = 1  # pixels between digits in a row


def test_row_indices(labels: np.ndarray) -> np.ndarray:
    """The first test digit of each class 0-9, in class order."""
    return np.array([int(np.argmax(labels == d)) for d in range(10)])


def _row_url(rows: np.ndarray) -> str:
    """A PNG data URL of rows of digits (R, 10, 28, 28) in [0, 1], one above the other."""
    return images.png_data_url(images.tile(rows, pad=PAD))


def thumbnail(name: str, model, meta: dict, digits: data_lib.Digits) -> dict:
    """The card record of one checkpoint: its kind, summary, picture and what the picture shows."""
    model_name = meta["model"]
    spec = get_spec(model_name)
    x = digits.images / np.float32(255)
    if spec.kind == "classifier":
        read, _ = read_digits(model, x)
        picture = _row_url(x[None])
        caption = f"Its reading of the ten digits: {' '.join(map(str, read))}."
    elif catalogue.is_denoiser(meta):  # trained on noisy digits: its picture is a clean-up
        kind, strength = DENOISE_NOISE
        noisy = data_lib.add_noise(x, kind, strength, seed=0)
        picture = _row_url(np.stack([noisy, reconstruct(model, noisy)]))
        caption = f"Top: the digits with {kind} noise of factor {strength}; bottom: its clean-up."
    else:
        picture = _row_url(reconstruct(model, x, digits.labels if model.is_conditional else None)[None])
        caption = ""
    return {"name": name, "model": model_name, "kind": spec.kind, "summary": spec.summary,
            "order": list_models().index(model_name), "sha256": meta["sha256"], "image": picture, "caption": caption}


def _write(path: Path, record: dict) -> None:
    write_atomic(path, json.dumps(record).encode())


def _test_row() -> data_lib.Digits:
    """The ten test digits every thumbnail rebuilds, written to their own file as well."""
    test = data_lib.load("mnist", "test")
    indices = test_row_indices(test.labels)
    row = test.subset(indices)
    _write(catalogue.thumbnail_dir() / catalogue.TEST_ROW_FILE,
           {"image": _row_url(row.floats()[None, :, 0].numpy()), "indices": indices.tolist(), "source": test.source,
            "package": data_lib.MNIST_PACKAGE, "sizes": data_lib.MNIST_SIZES})
    return row


def _is_thumbnail_of(path: Path, name: str) -> bool:
    """Whether a file in the thumbnail folder is one of checkpoint `name`'s (any weights)."""
    return re.fullmatch(rf"{re.escape(name)}-[0-9a-f]{{12}}\.json", path.name) is not None


def make_one(name: str, row: data_lib.Digits | None = None) -> Path:
    """The thumbnail of one checkpoint's current weights (core.pipeline.save calls it), removing
    those of its earlier weights.

    Raises the checkpoint errors when it cannot be loaded.
    """
    model, meta = checkpoints.load(name)
    path = catalogue.thumbnail_file(name, meta["sha256"])
    _write(path, thumbnail(name, model, meta, row if row is not None else _test_row()))
    for old in catalogue.thumbnail_dir().glob(f"{name}-*.json"):
        if old != path and _is_thumbnail_of(old, name):
            old.unlink()
    return path


def make_all(log=print) -> list[Path]:
    """Thumbnails of every usable checkpoint and the test row; removes pictures of replaced weights."""
    row = _test_row()
    written = [catalogue.thumbnail_dir() / catalogue.TEST_ROW_FILE]
    for name in checkpoints.list_checkpoints():
        try:
            written.append(make_one(name, row))
        except (FileNotFoundError, ValueError) as exc:
            log(f"{name}: skipped ({exc})")
            continue
        log(f"{written[-1].name}: written")
    for old in catalogue.thumbnail_dir().glob("*.json"):
        if old not in written:
            old.unlink()
            log(f"{old.name}: removed (its checkpoint changed or is gone)")
    return written


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    torch.set_num_threads(1)
    make_all(log=lambda line: print(line, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
