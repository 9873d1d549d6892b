"""Images in and out: digit grids, upscaling for display, PNG encoding."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Floats in [0, 1] (any shape) -> uint8 0-255."""
    return (np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling of a 2-D image, so browsers show crisp pixels, not a blur."""
    return np.repeat(np.repeat(np.asarray(image), factor, axis=0), factor, axis=1)


def tile(images: np.ndarray, columns: int | None = None, pad: int = 1, fill: float = 1.0) -> np.ndarray:
    """Lay out images (N, H, W) or (R, C, H, W) in one 2-D array, `pad` pixels of `fill` between.

    A 3-D input becomes rows of `columns` images (default: all in one row).
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        n = images.shape[0]
        columns = columns or n
        rows = -(-n // columns)
        blank = np.full((rows * columns - n, *images.shape[1:]), fill, dtype=np.float32)
        images = np.concatenate([images, blank]).reshape(rows, columns, *images.shape[1:])
    r, c, h, w = images.shape
    out = np.full((r * (h + pad) - pad, c * (w + pad) - pad), fill, dtype=np.float32)
    for i in range(r):
        for j in range(c):
            out[i * (h + pad):i * (h + pad) + h, j * (w + pad):j * (w + pad) + w] = images[i, j]
    return out


def to_png(image: np.ndarray, scale: int = 1) -> bytes:
    """PNG bytes of a grey image in [0, 1], optionally upscaled."""
    pixels = to_uint8(upscale(image, scale) if scale > 1 else image)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()
