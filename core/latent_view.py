"""What the latent map in the browser needs, and what comes back from it.

- a sprite sheet: the 10,000 test digits (or a model's rebuilds of them) as one PNG atlas, sent
  once, from which the browser draws any digit on hover or at high zoom;
- a map packed into bytes (uint16 positions, test indices, labels): 70 kB for 10,000 points,
  against ~400 kB as JSON numbers;
- a new digit placed on a map: its code itself for a 2-D code, the map's own PCA for a PCA map,
  and for a t-SNE map the median position of its nearest test digits in the space the map
  arranged (openTSNE's `prepare_partial` starts new points there; `bench/bench_latent_map.py`
  measures it against openTSNE's optimised `transform`);
- the browser's selection checked before use: a forged value gets a sentence, never an exception.

Bundles are bytes: a little-endian uint32 header length, a JSON header (padded with spaces to 4
bytes so the typed arrays after it stay aligned), then the body. The header's "id" hashes the
body, so the same map or sheet has the same id on every run and for every visitor.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import struct
from dataclasses import dataclass

import numpy as np
from PIL import Image

SPRITE_SIDE = 28
ATLAS_COLUMNS = 100  # 10,000 digits in a 2,800 x 2,800 sheet: within every browser's canvas limits
PLACE_NEIGHBOURS = 10  # test digits whose map positions place a new digit on a t-SNE map, and shown beside it
REBUILT_LEVELS = 16    # grey levels of the rebuilds' sprite sheet (see sprite_sheet)
SAMPLE_METHODS = ("per digit", "at random")


# --- bundles -------------------------------------------------------------------------------------

def bundle(header: dict, body: bytes) -> bytes:
    """header + body as one payload for the browser; header gains "id", a hash of the body."""
    header = {**header, "id": hashlib.sha256(body).hexdigest()[:16]}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)  # keeps the body's typed arrays 4-byte aligned
    return struct.pack("<I", len(text)) + text + body


def read_bundle(payload: bytes) -> tuple[dict, bytes]:
    """(header, body) of a `bundle` (tests and benchmarks read back what the browser gets)."""
    (length,) = struct.unpack_from("<I", payload)
    return json.loads(payload[4:4 + length]), payload[4 + length:]


def sprite_sheet(images: np.ndarray, columns: int = ATLAS_COLUMNS, levels: int = 256) -> bytes:
    """PNG atlas of digits (N, 28, 28), uint8 or floats in [0, 1]: digit i at column i % columns,
    row i // columns, no padding, white ink on black as MNIST stores it.

    levels: grey levels kept for float images. A model's 10,000 rebuilds took 2.65 MB at 256 and
    1.34 MB at 16, which a 112-px hover picture of a blurry rebuild shows just as well.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        steps = np.round(np.clip(images, 0.0, 1.0) * (levels - 1)) / (levels - 1)
        images = (steps * 255 + 0.5).astype(np.uint8)
    n = len(images)
    rows = -(-n // columns)
    padded = np.zeros((rows * columns, SPRITE_SIDE, SPRITE_SIDE), dtype=np.uint8)
    padded[:n] = images
    # (rows, columns, 28, 28) -> (rows, 28, columns, 28) -> (rows * 28, columns * 28)
    sheet = padded.reshape(rows, columns, SPRITE_SIDE, SPRITE_SIDE).transpose(0, 2, 1, 3)
    buffer = io.BytesIO()
    Image.fromarray(sheet.reshape(rows * SPRITE_SIDE, columns * SPRITE_SIDE), mode="L").save(
        buffer, format="PNG", compress_level=6)  # 1.70 MB in 1.1 s; level 9 saved 3% for 9x the time
    return buffer.getvalue()


def sprite_bundle(images: np.ndarray, columns: int = ATLAS_COLUMNS, levels: int = 256) -> bytes:
    """A `sprite_sheet` as a bundle the map component loads."""
    return bundle({"kind": "sprites", "count": len(images), "columns": columns, "side": SPRITE_SIDE},
                  sprite_sheet(images, columns, levels))


def map_bundle(coords: np.ndarray, indices: np.ndarray, labels: np.ndarray) -> bytes:
    """A map as a bundle: positions quantised to uint16 over their range (1/65,535 of the map's
    width, far below a pixel), test indices as uint16, labels as uint8.

    Body: (N, 2) uint16 positions, (N,) uint16 indices, (N,) uint8 labels, in that order.
    """
    coords = np.asarray(coords, dtype=np.float64)
    if coords.ndim != 2 or coords.shape[1] != 2 or not np.isfinite(coords).all():
        raise ValueError("A map needs finite 2-D positions.")
    if len(indices) and int(np.max(indices)) > 0xFFFF:
        raise ValueError("A map's test indices must fit 16 bits.")
    low, high = coords.min(0), coords.max(0)
    span = np.where(high > low, high - low, 1.0)
    quantised = np.round((coords - low) / span * 0xFFFF).astype("<u2")
    body = quantised.tobytes() + np.asarray(indices, dtype="<u2").tobytes() + np.asarray(labels, dtype=np.uint8).tobytes()
    return bundle({"kind": "map", "count": len(coords), "x": [float(low[0]), float(high[0])],
                   "y": [float(low[1]), float(high[1])]}, body)


def read_map_bundle(payload: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(coords (N, 2) float64, indices, labels) back from a `map_bundle`, as the browser reads them."""
    header, body = read_bundle(payload)
    n = header["count"]
    quantised = np.frombuffer(body, dtype="<u2", count=2 * n).reshape(n, 2)
    low = np.array([header["x"][0], header["y"][0]])
    span = np.array([header["x"][1], header["y"][1]]) - low
    coords = low + quantised / 0xFFFF * span
    indices = np.frombuffer(body, dtype="<u2", count=n, offset=4 * n).astype(np.int64)
    labels = np.frombuffer(body, dtype=np.uint8, count=n, offset=6 * n).astype(np.int64)
    return coords, indices, labels


# --- placing a new digit -------------------------------------------------------------------------

@dataclass(frozen=True)
class Projection:
    """A fitted linear map to 2-D: the PCA a PCA map was made with, or the identity of a 2-D code."""

    mean: np.ndarray        # (D,)
    components: np.ndarray  # (2, D)

    def apply(self, features: np.ndarray) -> np.ndarray:
        """(M, 2) positions of features (M, D)."""
        return (np.asarray(features, dtype=np.float64) - self.mean) @ self.components.T


def fit_projection(features: np.ndarray, seed: int = 0) -> Projection:
    """The PCA `core.latent.pca_2d` fits (same solver and seed, so the same axes and signs), or the
    identity when the features are already 2-D, as pca_2d leaves them."""
    from sklearn.decomposition import PCA

    features = np.asarray(features, dtype=np.float32)
    if features.shape[1] <= 2:
        dims = features.shape[1]
        return Projection(np.zeros(dims), np.eye(2, dims))
    pca = PCA(2, svd_solver="randomized", random_state=seed).fit(features)
    return Projection(pca.mean_.astype(np.float64), pca.components_.astype(np.float64))


def nearest(features: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """(M, k) rows of `features` (N, D) nearest each query (M, D) in Euclidean distance, nearest first."""
    features = np.asarray(features, dtype=np.float32)
    queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
    k = min(k, len(features))
    # |a - b|^2 = |a|^2 - 2 a.b + |b|^2; |q|^2 is the same along a row, so it can be left out
    distances = (features ** 2).sum(1)[None, :] - 2.0 * queries @ features.T  # (M, N)
    rows = np.argpartition(distances, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(distances, rows, 1).argsort(1)
    return np.take_along_axis(rows, order, 1)


def place_by_neighbours(coords: np.ndarray, neighbour_rows: np.ndarray) -> np.ndarray:
    """(M, 2) positions: the median map position of each new point's neighbours (M, k), as openTSNE's
    `prepare_partial` initialises new points; the median keeps one far-off neighbour from pulling
    the point into empty space between two clusters."""
    return np.median(np.asarray(coords)[np.asarray(neighbour_rows)], axis=1)


def place(method: str, features: np.ndarray, coords: np.ndarray, new_features: np.ndarray,
          projection: Projection | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Place new points (M, D) on a map of `features` (N, D) at `coords` (N, 2).

    method: "pca" (needs the map's `projection`) or "tsne".
    Returns (positions (M, 2), the rows of their PLACE_NEIGHBOURS nearest map points (M, k)).
    """
    rows = nearest(features, new_features, PLACE_NEIGHBOURS)
    if method == "pca":
        if projection is None:
            raise ValueError("A PCA map places new points with its projection.")
        positions = projection.apply(np.atleast_2d(new_features))
    elif method == "tsne":
        positions = place_by_neighbours(coords, rows[:, :PLACE_NEIGHBOURS])
    else:
        raise ValueError(f"Unknown map method {method!r}; choose 'tsne' or 'pca'.")
    return positions, rows


# --- what the browser sends back -----------------------------------------------------------------

def checked_selection(value, map_indices: np.ndarray) -> np.ndarray:
    """The test indices of a selection the browser sent ({"indices": [int, ...], ...}), in the
    order sent without repeats. Raises TypeError (not a list of whole numbers) or ValueError (not
    points of this map), each with a sentence a person can read.

    The browser is not trusted: anything but a list of whole numbers that are all points of the
    map (at most its size) is refused.
    """
    if not isinstance(value, dict) or not isinstance(value.get("indices"), list):
        raise TypeError("The map sent a selection this page cannot read; it was ignored.")
    raw = value["indices"]
    if len(raw) > len(map_indices):
        raise ValueError(f"The map sent {len(raw):,} points, more than its {len(map_indices):,}; ignored.")
    if not all(type(i) is int for i in raw):  # bool is an int subclass, and floats may be NaN: both refused
        raise TypeError("The map sent a selection holding something other than whole numbers; ignored.")
    on_map = set(np.asarray(map_indices).tolist())  # Python ints: a 100-digit number compares, not overflows
    if not all(i in on_map for i in raw):
        raise ValueError("The map sent points that are not on this map; the selection was ignored.")
    return np.array(list(dict.fromkeys(raw)), dtype=np.int64)


def selection_token(selected: np.ndarray, map_indices: np.ndarray) -> str:
    """A selection as a link carries it: one bit per point of the map, in base64url (2,000 points:
    336 characters, whatever the selection's size); "" for none."""
    if not len(selected):
        return ""
    bits = np.isin(np.asarray(map_indices), selected)
    return base64.urlsafe_b64encode(np.packbits(bits).tobytes()).decode().rstrip("=")


def selection_from_token(token: str, map_indices: np.ndarray) -> np.ndarray:
    """The test indices a link's selection token stands for on this map, in the map's order.

    Raises:
        ValueError: the token is not one this map's link could have made.
    """
    map_indices = np.asarray(map_indices)
    size = -(-len(map_indices) // 8)
    if not isinstance(token, str) or len(token) != -(-size * 4 // 3):
        raise ValueError("The link's map selection does not fit this map; the map starts with none.")
    try:
        packed = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
    except ValueError:
        raise ValueError("The link's map selection cannot be read; the map starts with none.") from None
    bits = np.unpackbits(np.frombuffer(packed, dtype=np.uint8))[:len(map_indices)].astype(bool)
    return map_indices[bits]


def sample_selection(indices: np.ndarray, labels: np.ndarray, shown: int, how: str = "per digit",
                     seed: int = 0) -> np.ndarray:
    """At most `shown` of the selected test indices (labels: their digits), sorted by digit.

    "per digit": each digit present gets an equal share (a rare digit in a big selection is still
    seen); "at random": a uniform sample, which shows the selection's make-up.
    """
    indices, labels = np.asarray(indices), np.asarray(labels)
    if how not in SAMPLE_METHODS:
        raise ValueError(f"Unknown sample {how!r}; choose one of {', '.join(SAMPLE_METHODS)}.")
    rng = np.random.default_rng(seed)
    if len(indices) <= shown:
        picked = np.arange(len(indices))
    elif how == "at random":
        picked = rng.choice(len(indices), shown, replace=False)
    else:
        groups = [rng.permutation(np.flatnonzero(labels == d)) for d in np.unique(labels)]
        picked, depth = [], 0
        while len(picked) < shown:  # deal one of each digit in turn, until `shown` are dealt
            picked += [g[depth] for g in groups if depth < len(g)][:shown - len(picked)]
            depth += 1
        picked = np.array(picked)
    picked = picked[np.lexsort((indices[picked], labels[picked]))]
    return indices[picked]
