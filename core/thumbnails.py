"""Card pictures for the home page, made from the checkpoints (run again after retraining).

    python -m core.thumbnails          # every checkpoint present; removes pictures of old weights

One row of ten test digits (the first of each class) is rebuilt by every model; each checkpoint
gets a JSON file under checkpoints/thumbnails/ named by its weights' hash, holding the PNG as a
data URL with a caption, its kind and summary, so the home page needs neither torch nor the
registry (core.catalogue reads them).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from core import catalogue, checkpoints, images
from core import data as data_lib
from core.evaluate import DENOISE_NOISE, reconstruct
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
    x = digits.floats()
    labels = torch.from_numpy(digits.labels)
    if spec.kind == "classifier":
        with torch.inference_mode():
            read = model(x)["logits"].argmax(1).numpy()
        picture = _row_url(x[None, :, 0].numpy())
        caption = f"Its reading of the ten digits: {' '.join(map(str, read))}."
    elif model_name == "denoising":
        kind, strength = DENOISE_NOISE
        noisy = torch.from_numpy(data_lib.add_noise(x.numpy(), kind, strength, seed=0))
        with torch.inference_mode():
            clean = reconstruct(model, noisy)
        picture = _row_url(np.stack([noisy[:, 0].numpy(), clean[:, 0].numpy()]))
        caption = f"Top: the digits with {kind} noise of factor {strength}; bottom: its clean-up."
    else:
        with torch.inference_mode():
            rebuilt = reconstruct(model, x, labels if model.is_conditional else None)
        picture = _row_url(rebuilt[None, :, 0].numpy())
        caption = ""
    return {"name": name, "model": model_name, "kind": spec.kind, "summary": spec.summary,
            "order": list_models().index(model_name), "sha256": meta["sha256"], "image": picture, "caption": caption}


def _write(path: Path, record: dict) -> None:
    """Write JSON atomically: a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as file:
            json.dump(record, file)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; the server may run as another user
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def make_all(log=print) -> list[Path]:
    """Thumbnails of every usable checkpoint and the test row; removes pictures of replaced weights."""
    test = data_lib.load("mnist", "test")
    row = test.subset(test_row_indices(test.labels))
    folder = catalogue.thumbnail_dir()
    written = [folder / catalogue.TEST_ROW_FILE]
    _write(written[0], {"image": _row_url(row.floats()[None, :, 0].numpy()),
                        "indices": test_row_indices(test.labels).tolist(), "source": test.source,
                        "package": data_lib.MNIST_PACKAGE, "sizes": data_lib.MNIST_SIZES})
    for name in checkpoints.list_checkpoints():
        try:
            model, meta = checkpoints.load(name)
        except (FileNotFoundError, ValueError) as exc:
            log(f"{name}: skipped ({exc})")
            continue
        path = catalogue.thumbnail_file(name, meta["sha256"])
        _write(path, thumbnail(name, model, meta, row))
        written.append(path)
        log(f"{path.name}: written")
    for old in folder.glob("*.json"):
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
