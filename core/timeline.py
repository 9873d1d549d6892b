"""A model's training timeline: what it looked like after every epoch, kept beside its checkpoint.

Per epoch (0 = untrained): the 2-D positions of 2,000 fixed test digits (200 of each class), the
reconstructions of the ten fixed digits, train and validation loss, and the k-NN accuracy of the
positions. The trainer records positions through a `Recorder`; `core.pipeline.save` writes the
file; pages only read it.

Positions: a 2-D code is drawn as itself. Wider codes (and the classifier's ten logits) are
projected on each epoch's own top two principal axes, then turned onto the previous epoch's
positions by orthogonal Procrustes (rotation or reflection, no scaling): the projection needs only
the epoch at hand and the one before, so a live run draws the same positions as the saved file;
and consecutive epochs of a model that barely changed land on nearly the same spots, where raw PCA
axes could flip sign or swap from one epoch to the next (`bench/bench_timeline.py --projection`
prints the mean step between epochs both ways).

File: `checkpoints/timelines/<name>-<first 12 hex digits of the weights' SHA-256>.npz`, positions
as uint16 over their range, images as uint8, at most MAX_FRAMES epochs (every k-th of a longer
run, always 0 and the last), under MAX_FILE_BYTES.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core import checkpoints, latent_view
from core import data as data_lib
from core.catalogue import checkpoint_dir, open_regular
from core.files import write_atomic

FOLDER = "timelines"
POINTS_PER_CLASS = 200  # 2,000 points: the Grand Tour draws 1,000 a frame; a canvas redraws 2,000 at 60 frames/s
MAX_FRAMES = 81         # epoch 0 and up to 80 more: 101 frames of dense's 200 epochs took 1.07 MB
MAX_FILE_BYTES = 1 << 20
KNN = 5                 # neighbours voting in `knn_accuracy`
ENCODE_BATCH = 500      # conv's first layer on 500 digits: 25 MB of activations
CODE = "code"           # a 2-D code drawn as itself
PCA_PROCRUSTES = "pca-procrustes"


class StaleTimelineError(ValueError):
    """The timeline file was recorded for other weights than the checkpoint holds now."""


def point_indices(labels: np.ndarray, per_class: int = POINTS_PER_CLASS) -> np.ndarray:
    """Test indices of the timeline's points: the first `per_class` of each class, in test order."""
    labels = np.asarray(labels)
    chosen = [np.flatnonzero(labels == c)[:per_class] for c in range(10)]
    return np.sort(np.concatenate(chosen))


def points(dataset: str) -> data_lib.Digits:
    """The timeline's test digits of a dataset (always every class, also for a one-digit model)."""
    test = data_lib.load(dataset, "test")
    return test.subset(point_indices(test.labels))


# --- positions ------------------------------------------------------------------------------------

def pca_2d(features: np.ndarray) -> np.ndarray:
    """(N, 2) coordinates on the top two principal axes of features (N, D), D >= 2."""
    centred = features - features.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


def procrustes_onto(moving: np.ndarray, target: np.ndarray) -> np.ndarray:
    """`moving` (N, 2) turned by the orthogonal matrix that brings it nearest `target` (N, 2), both centred
    (Schönemann 1966: R = U V^T from the SVD of moving^T target)."""
    u, _, vt = np.linalg.svd(moving.T @ (target - target.mean(0)))
    return moving @ (u @ vt)


class Recorder:
    """Positions of the timeline's points after each epoch; `positions(model)` once per epoch, in order.

    It draws nothing from torch's random generators (they are forked around it), so a run with a
    recorder ends with the same weights as one without.
    """

    def __init__(self, dataset: str, device: torch.device | None = None,
                 memory_format: torch.memory_format = torch.contiguous_format):
        digits = points(dataset)
        self.x, self.y = digits.floats(), digits.label_tensor()  # (2000, 1, 28, 28), (2000,)
        self.labels = digits.labels.astype(np.uint8)
        self.indices = point_indices(data_lib.load(dataset, "test").labels)
        self.device = device or torch.device("cpu")
        self.memory_format = memory_format  # the model's: channels_last encodes conv's points 3.5x faster
        self.method: str | None = None
        self._previous: np.ndarray | None = None

    @torch.no_grad()
    def features(self, model: nn.Module) -> np.ndarray:
        """(N, D) float64: the code of every point (a VAE's mean), or a classifier's logits."""
        was_training = model.training
        model.eval()
        parts = []
        with torch.random.fork_rng(devices=[]):
            for start in range(0, len(self.x), ENCODE_BATCH):
                x = self.x[start:start + ENCODE_BATCH].to(self.device, memory_format=self.memory_format)
                y = self.y[start:start + ENCODE_BATCH].to(self.device)
                out = model.encode(x, y) if getattr(model, "is_autoencoder", False) else model(x, y)["logits"]
                parts.append(out.flatten(1).double().cpu().numpy())
        model.train(was_training)
        return np.concatenate(parts)

    def positions(self, model: nn.Module) -> np.ndarray:
        """(N, 2) float32 positions after this epoch, comparable with the previous call's."""
        features = self.features(model)
        if not np.isfinite(features).all():
            features = np.nan_to_num(features, nan=0.0, posinf=0.0, neginf=0.0)  # the trainer reports divergence
        if features.shape[1] <= 2:
            self.method = CODE
            coords = np.zeros((len(features), 2))
            coords[:, :features.shape[1]] = features
        else:
            self.method = PCA_PROCRUSTES
            coords = pca_2d(features)
            if self._previous is not None:
                coords = procrustes_onto(coords, self._previous)
        self._previous = coords
        return coords.astype(np.float32)


# --- what a timeline holds ------------------------------------------------------------------------

@dataclass
class Timeline:
    """A recorded run, frame by frame; frame f is after epoch `epochs[f]` (0: untrained)."""

    epochs: np.ndarray        # (F,) int
    positions: np.ndarray     # (F, N, 2) float32
    labels: np.ndarray        # (N,) uint8
    indices: np.ndarray       # (N,) test indices of the points
    recon: np.ndarray         # (F, 10, 28, 28) uint8; (0, 10, 28, 28) for a classifier
    fixed: np.ndarray         # (10, 28, 28) uint8 originals of the reconstructions
    train_loss: np.ndarray    # (E,) per epoch 1..E
    val_loss: np.ndarray      # (E,)
    knn: np.ndarray           # (F,) k-NN accuracy of the positions
    method: str               # CODE or PCA_PROCRUSTES
    dataset: str
    sha256: str = ""          # the weights it was recorded for

    @property
    def frames(self) -> int:
        return len(self.epochs)


def kept_frames(epochs_done: int, most: int = MAX_FRAMES) -> np.ndarray:
    """The epochs a file keeps: all of 0..epochs_done when they fit, else every k-th and the last."""
    step = -(-epochs_done // (most - 1)) if epochs_done + 1 > most else 1
    return np.array(sorted({*range(0, epochs_done + 1, step), epochs_done}))


def knn_accuracy(positions: np.ndarray, labels: np.ndarray, k: int = KNN) -> float:
    """Share of points whose k nearest other points (Euclidean, in 2-D) mostly carry their label."""
    p = np.asarray(positions, dtype=np.float64)
    distances = ((p[:, None, :] - p[None, :, :]) ** 2).sum(-1)  # (N, N)
    np.fill_diagonal(distances, np.inf)
    nearest = np.argpartition(distances, k, axis=1)[:, :k]
    votes = np.zeros((len(p), 10))
    np.add.at(votes, (np.repeat(np.arange(len(p)), k), np.asarray(labels)[nearest].ravel()), 1)
    return float((votes.argmax(1) == labels).mean())


def from_result(result, dataset: str, recorder_labels: np.ndarray, indices: np.ndarray,
                method: str) -> Timeline:
    """A Timeline of a TrainResult whose `positions` were recorded, trimmed to `kept_frames`."""
    done = result.epochs_done
    keep = kept_frames(done)
    positions = np.stack([result.positions[e] for e in keep]).astype(np.float32)
    recon = (np.stack([result.snapshots[e] for e in keep]) if result.snapshots
             else np.zeros((0, 10, 28, 28), np.uint8))
    fixed = result.fixed_digits if result.fixed_digits is not None else np.zeros((10, 28, 28), np.uint8)
    labels = np.asarray(recorder_labels, dtype=np.uint8)
    return Timeline(
        epochs=keep, positions=positions, labels=labels, indices=np.asarray(indices),
        recon=recon.astype(np.uint8), fixed=fixed.astype(np.uint8),
        train_loss=np.array([row["train"]["loss"] for row in result.history], np.float32),
        val_loss=np.array([row["val"]["loss"] for row in result.history], np.float32),
        knn=np.array([knn_accuracy(p, labels) for p in positions], np.float32),
        method=method, dataset=dataset)


# --- the file ---------------------------------------------------------------------------------

def timeline_dir() -> Path:
    return checkpoint_dir() / FOLDER


def timeline_file(name: str, sha256: str) -> Path:
    """Where checkpoint `name`'s timeline for the weights with this hash lives."""
    return timeline_dir() / f"{checkpoints.validate_name(name)}-{sha256[:12]}.npz"


def timeline_files(name: str) -> list[Path]:
    """Every timeline file of checkpoint `name`, for any weights."""
    folder = timeline_dir()
    if not folder.is_dir():
        return []
    return [p for p in folder.glob(f"{name}-*.npz") if re.fullmatch(rf"{re.escape(name)}-[0-9a-f]{{12}}\.npz", p.name)]


def to_bytes(timeline: Timeline) -> bytes:
    """The compressed npz of a timeline, positions as uint16 over their range (below a pixel on any screen)."""
    positions = timeline.positions.astype(np.float64)
    low, high = positions.reshape(-1, 2).min(0), positions.reshape(-1, 2).max(0)
    span = np.where(high > low, high - low, 1.0)
    quantised = np.round((positions - low) / span * 0xFFFF).astype("<u2")
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer, epochs=timeline.epochs.astype("<u2"), positions=quantised, low=low, high=high,
        labels=timeline.labels.astype(np.uint8), indices=timeline.indices.astype("<u2"),
        recon=timeline.recon.astype(np.uint8), fixed=timeline.fixed.astype(np.uint8),
        train_loss=timeline.train_loss.astype("<f4"), val_loss=timeline.val_loss.astype("<f4"),
        knn=timeline.knn.astype("<f4"), method=np.array(timeline.method), dataset=np.array(timeline.dataset),
        sha256=np.array(timeline.sha256))
    return buffer.getvalue()


def from_bytes(blob: bytes) -> Timeline:
    """A Timeline back from `to_bytes` (positions de-quantised); raises ValueError on a foreign file."""
    try:
        with np.load(io.BytesIO(blob)) as npz:  # numpy refuses pickled arrays by default
            low, high = npz["low"], npz["high"]
            span = np.where(high > low, high - low, 1.0)
            return Timeline(
                epochs=npz["epochs"].astype(np.int64),
                positions=(low + npz["positions"] / 0xFFFF * span).astype(np.float32),
                labels=npz["labels"], indices=npz["indices"].astype(np.int64), recon=npz["recon"],
                fixed=npz["fixed"], train_loss=npz["train_loss"], val_loss=npz["val_loss"], knn=npz["knn"],
                method=str(npz["method"]), dataset=str(npz["dataset"]), sha256=str(npz["sha256"]))
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise ValueError(f"This is not a training timeline of this lab ({type(exc).__name__}).") from exc


def save(name: str, timeline: Timeline, sha256: str) -> Path:
    """Write checkpoint `name`'s timeline for the weights with this hash; removes its older ones.

    Raises:
        ValueError: the file would pass MAX_FILE_BYTES.
    """
    timeline.sha256 = sha256
    blob = to_bytes(timeline)
    if len(blob) > MAX_FILE_BYTES:
        raise ValueError(f"The timeline of {name!r} takes {len(blob):,} bytes, more than {MAX_FILE_BYTES:,}.")
    path = timeline_file(name, sha256)
    write_atomic(path, blob, overwrite=True, what=f"The timeline of {name!r}")
    for old in timeline_files(name):
        if old != path:
            old.unlink(missing_ok=True)
    return path


def load(name: str) -> Timeline:
    """The timeline of checkpoint `name`'s current weights.

    Raises:
        FileNotFoundError: no checkpoint, or no timeline recorded for its current weights.
        StaleTimelineError: the file holds another run's timeline.
        ValueError: the checkpoint or the file is damaged (a sentence each).
    """
    sha256 = checkpoints.checked_header(name)["sha256"]
    path = timeline_file(name, sha256)
    try:
        with open_regular(path) as file:
            blob = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{name!r} has no training timeline for its current weights: retrain it "
            f"(`python -m core.train --model {name}`, or the Train page) to record one.") from None
    except OSError as exc:
        raise ValueError(f"The timeline of {name!r} cannot be read ({exc.strerror or type(exc).__name__}).") from exc
    if len(blob) > MAX_FILE_BYTES:
        raise ValueError(f"The timeline file of {name!r} is larger than a timeline can be; it was not read.")
    timeline = from_bytes(blob)
    if timeline.sha256 != sha256:
        raise StaleTimelineError(
            f"The timeline file of {name!r} was recorded for other weights than it has now; retrain it to "
            "record a new one.")
    return timeline


def has_timeline(name: str) -> bool:
    """Whether checkpoint `name`'s current weights have a timeline file (the file is not opened)."""
    try:
        return timeline_file(name, checkpoints.checked_header(name)["sha256"]).is_file()
    except (OSError, ValueError):
        return False


# --- what the browser gets -----------------------------------------------------------------------

METHOD_TEXT = {CODE: "positions: the 2-D code itself",
               PCA_PROCRUSTES: "positions: the code's top two principal axes, each epoch turned onto the one before"}
SPRITE_COLUMNS = 50  # 2,000 digits in a 1,400 x 1,120 sheet


def browser_bundle(timeline: Timeline, loss_unit: str, planned_epochs: int | None = None) -> bytes:
    """A timeline as a bundle for components/timeline: positions as uint16 over their range, labels,
    and the reconstructions as one PNG (row 0 the originals, row f + 1 frame f).

    planned_epochs: a run in progress: the loss chart's axis spans the whole run.
    """
    positions = np.asarray(timeline.positions, dtype=np.float64)
    if positions.ndim != 3 or positions.shape[2] != 2 or not np.isfinite(positions).all():
        raise ValueError("A timeline needs finite 2-D positions for every frame.")
    low, high = positions.reshape(-1, 2).min(0), positions.reshape(-1, 2).max(0)
    span = np.where(high > low, high - low, 1.0)
    quantised = np.round((positions - low) / span * 0xFFFF).astype("<u2")
    labels = np.asarray(timeline.labels, dtype=np.uint8).tobytes()
    labels += b"\0" * (-len(labels) % 4)
    recon = b""
    if len(timeline.recon):
        recon = latent_view.sprite_sheet(np.concatenate([timeline.fixed[None], timeline.recon]).reshape(-1, 28, 28),
                                         columns=10)
    frames, count = positions.shape[:2]
    header = {"kind": "timeline", "frames": frames, "count": count, "low": low.tolist(), "high": high.tolist(),
              "epochs": [int(e) for e in timeline.epochs], "indices": [int(i) for i in timeline.indices],
              "train_loss": [round(float(v), 5) for v in timeline.train_loss],
              "val_loss": [round(float(v), 5) for v in timeline.val_loss],
              "knn": [round(float(v), 4) for v in timeline.knn], "method": timeline.method,
              "method_text": METHOD_TEXT.get(timeline.method, timeline.method), "loss_unit": loss_unit,
              "recon_bytes": len(recon), "planned_epochs": planned_epochs}
    return latent_view.bundle(header, quantised.tobytes() + labels + recon)


def sprites_bundle(dataset: str) -> bytes:
    """The timeline points' digits as a sprite sheet bundle (hover shows them)."""
    return latent_view.sprite_bundle(points(dataset).images, columns=SPRITE_COLUMNS)


def live_timeline(rows: list[dict], labels: np.ndarray, indices: np.ndarray, dataset: str) -> Timeline | None:
    """A timeline of a run in progress from its per-epoch rows that carry "positions" (no
    reconstructions, no k-NN accuracy yet); None before the first such epoch."""
    rows = [row for row in rows if row.get("positions") is not None]
    if not rows:
        return None
    keep = [rows[i] for i in kept_frames(len(rows) - 1)]  # the same thinning, over the epochs so far
    return Timeline(
        epochs=np.array([row["epoch"] for row in keep]), positions=np.stack([row["positions"] for row in keep]),
        labels=labels, indices=indices, recon=np.zeros((0, 10, 28, 28), np.uint8),
        fixed=np.zeros((10, 28, 28), np.uint8),
        train_loss=np.array([row["train"]["loss"] for row in rows], np.float32),
        val_loss=np.array([row["val"]["loss"] for row in rows], np.float32),
        knn=np.zeros(0, np.float32), method="", dataset=dataset)


def point_labels(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """(test indices, uint8 digits) of the timeline's points, as a Recorder records them."""
    test = data_lib.load(dataset, "test")
    indices = point_indices(test.labels)
    return indices, test.labels[indices].astype(np.uint8)


def first_epoch_above(timeline: Timeline, accuracy: float) -> int | None:
    """The first recorded epoch whose k-NN accuracy reaches `accuracy`; None if none does."""
    reached = np.flatnonzero(np.asarray(timeline.knn) >= accuracy)
    return int(timeline.epochs[reached[0]]) if len(reached) else None

