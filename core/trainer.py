"""Generic trainer: knows no model type and no UI; reports progress through callbacks.

The command line (`python -m core.train --model conv`, `--all`, `--dry-run`, in core/train.py)
trains, evaluates and saves through `core.pipeline`, which runs this trainer.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core import data as data_lib
from core import timeline as timeline_lib
from core.images import to_uint8
from core.registry import OPTIMIZERS, Recipe, create_model, get_spec

VALIDATION_SIZE = 1000  # test digits whose loss is plotted each epoch (never used to choose anything)


@dataclass
class TrainData:
    """Training and validation tensors (N, 1, 28, 28) in [0, 1] with labels, plus the fixed digits."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    fixed_x: torch.Tensor  # one test digit per class, reconstructed after every epoch
    fixed_y: torch.Tensor
    source: str


def prepare_data(recipe: Recipe) -> TrainData:
    """Load the recipe's dataset, keep only its digit if it names one, and pick the fixed digits."""
    train, test = data_lib.load(recipe.dataset, "train"), data_lib.load(recipe.dataset, "test")
    fixed = np.array([np.flatnonzero(test.labels == c)[0] for c in range(10)])
    if recipe.digit is not None:
        train = train.subset(train.labels == recipe.digit)
        test = test.subset(test.labels == recipe.digit)
    if recipe.train_digits is not None:
        if recipe.train_digits < 1:
            raise ValueError("A run needs at least one training digit.")
        train = train.subset(slice(0, recipe.train_digits))  # MNIST's training order is already mixed
    val = test.subset(slice(0, VALIDATION_SIZE))
    full_test = data_lib.load(recipe.dataset, "test")
    return TrainData(
        train.floats(), train.label_tensor(), val.floats(), val.label_tensor(),
        full_test.subset(fixed).floats(), full_test.subset(fixed).label_tensor(),
        train.source,
    )


class TrainingDiverged(ValueError):
    """The loss or the model's outputs stopped being finite numbers: no later step can recover."""


def _diverged(recipe: Recipe, epoch: int, batch: int, what: str) -> TrainingDiverged:
    return TrainingDiverged(
        f"The run diverged at epoch {epoch}, batch {batch} ({what}): {recipe.optimizer.capitalize()} at learning "
        f"rate {recipe.lr:g} takes steps too large for this model, so lower the learning rate (to "
        f"{recipe.lr / 10:g} or less) and train again.")


def _all_finite(outputs: dict) -> bool:
    return all(bool(torch.isfinite(v).all()) for v in outputs.values() if isinstance(v, torch.Tensor))


@dataclass
class TrainEvent:
    """What a callback is told, after every batch ("batch") and every epoch ("epoch")."""

    kind: str
    epoch: int                 # 1-based
    epochs: int
    batch: int                 # 1-based within the epoch
    batches: int
    train: dict[str, float]    # running means of the loss terms over this epoch so far
    val: dict[str, float] | None = None      # validation loss terms (epoch events)
    snapshot: np.ndarray | None = None       # (10, 28, 28) reconstructions of the fixed digits (epochs; previews)
    elapsed: float = 0.0
    eta: float = 0.0           # seconds left at the pace so far
    positions: np.ndarray | None = None      # (2000, 2) float32 timeline positions after this epoch (epochs)


@dataclass
class TrainResult:
    history: list[dict] = field(default_factory=list)        # per epoch: "epoch", "train", "val", "seconds"
    # snapshots[e]: (10, 28, 28) uint8 reconstructions after epoch e; [0] is the untrained model.
    # uint8 (7.8 KB each, a quarter of float32): a finished run on a server is kept for an hour.
    snapshots: list[np.ndarray] = field(default_factory=list)
    fixed_digits: np.ndarray | None = None                  # (10, 28, 28) uint8, the originals
    cancelled: bool = False
    seconds: float = 0.0
    source: str = ""                                        # the data it was trained on
    # positions[e]: (2000, 2) float32 timeline positions (core.timeline) after epoch e, [0] untrained;
    # empty when not recorded. 16 KB an epoch.
    positions: list[np.ndarray] = field(default_factory=list)
    timeline_labels: np.ndarray | None = None               # (2000,) uint8 digits of those points
    timeline_indices: np.ndarray | None = None              # (2000,) their test indices
    timeline_method: str = ""                               # timeline.CODE or timeline.PCA_PROCRUSTES
    timeline_seconds: float = 0.0                           # spent recording (after epoch 0: within `seconds`)

    @property
    def epochs_done(self) -> int:
        return len(self.history)


def pick_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def augment(x: torch.Tensor, max_shift: float, generator: torch.Generator) -> torch.Tensor:
    """Random small affine warps: shift up to max_shift px, rotate up to 10 degrees, zoom +-10%."""
    n = x.shape[0]
    def rand():
        return torch.rand(n, generator=generator) * 2 - 1  # uniform in [-1, 1]
    angle = rand() * math.radians(10)
    scale = 1 + rand() * 0.1
    shift = torch.stack([rand(), rand()], 1) * (2 * max_shift / 28)  # pixels -> grid units
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


def restyle_ink(x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Random ink styles of people's digits after preparation, in [0, 1] (N, 1, 28, 28).

    Stroke width: a blend toward a 3x3 grey dilation (up to 2 px wider) or erosion (up to 1 px
    thinner); gamma on the ink, 2 ** +-strength (sharper or softer anti-aliasing); peak
    brightness down to 1 - 0.2 * strength (faint ink). `strength` scales all three; 1 is the most.
    """
    n = x.shape[0]
    def rand():
        return (torch.rand(n, 1, 1, 1, generator=generator) * 2 - 1).to(x.device, x.dtype)  # [-1, 1]
    width = rand() * strength
    thicker = x + width.clamp(min=0) * (F.max_pool2d(x, 3, 1, 1) - x)
    styled = thicker + 0.5 * width.clamp(max=0) * (x + F.max_pool2d(-x, 3, 1, 1))  # -maxpool(-x): erosion
    styled = styled.clamp(0.0, 1.0) ** torch.exp2(rand() * strength)
    return styled * (1 - 0.1 * strength * (rand() + 1))


def make_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    if recipe.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    if recipe.optimizer == "adadelta":
        return torch.optim.Adadelta(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    raise ValueError(f"Unknown optimizer {recipe.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}.")


def _uses_conv(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


@torch.no_grad()
def _evaluate_terms(model: nn.Module, x: torch.Tensor, y: torch.Tensor, recipe: Recipe,
                    device: torch.device, batch_size: int = 500) -> dict[str, float]:
    """Mean loss terms over a dataset, with the recipe's noise on the inputs (seeded)."""
    model.eval()
    generator = torch.Generator().manual_seed(1234)
    totals: dict[str, float] = {}
    for start in range(0, len(x), batch_size):
        clean, labels = x[start:start + batch_size], y[start:start + batch_size]
        inputs = clean if recipe.noise is None else data_lib.corrupt(clean, recipe.noise, recipe.noise_strength, generator)
        terms = model.loss(model(inputs.to(device), labels.to(device)), clean.to(device), labels.to(device))
        for key, value in terms.items():
            totals[key] = totals.get(key, 0.0) + float(value) * len(clean)
    return {key: value / len(x) for key, value in totals.items()}


@torch.no_grad()
def _snapshot(model: nn.Module, data: TrainData, device: torch.device) -> np.ndarray | None:
    if not getattr(model, "is_autoencoder", False):
        return None
    model.eval()
    recon = model(data.fixed_x.to(device), data.fixed_y.to(device))["recon"]
    return recon.float().cpu().numpy()[:, 0]


def fit(model: nn.Module, recipe: Recipe, data: TrainData | None = None,
        callbacks: list[Callable[[TrainEvent], None]] = (),
        should_stop: Callable[[], bool] = lambda: False,
        device: torch.device | None = None, max_batches: int | None = None,
        preview_seconds: float | None = None, record_timeline: bool = True) -> TrainResult:
    """Train `model` in place by `recipe`; returns the loss history and per-epoch snapshots
    (the first of the untrained model, so a replay starts where learning starts).

    Args:
        callbacks: called with a TrainEvent after every batch and every epoch.
        should_stop: polled after every batch; True ends training early, keeping what was learned.
        max_batches: stop each epoch after this many batches (dry runs).
        preview_seconds: also put the fixed digits' reconstructions on a batch event this often
            (and on the first batch), so a page shows progress inside a long epoch.
        record_timeline: record the timeline's positions after every epoch (core.timeline); it
            draws nothing from the random generators, so the weights are the same either way.

    Raises:
        TrainingDiverged: the outputs or the loss stopped being finite (a learning rate too large).
    """
    data = data or prepare_data(recipe)
    device = device or pick_device()
    torch.manual_seed(recipe.seed)  # the VAE's sampling and dropout draw from the global generator
    generator = torch.Generator().manual_seed(recipe.seed)
    memory_format = torch.channels_last if _uses_conv(model) else torch.contiguous_format
    model.to(device, memory_format=memory_format)
    optimizer = make_optimizer(model, recipe)
    n = len(data.train_x)
    batches = math.ceil(n / recipe.batch_size)
    if max_batches is not None:
        batches = min(batches, max_batches)
    total_steps = recipe.epochs * batches
    result = TrainResult(fixed_digits=to_uint8(data.fixed_x.numpy()[:, 0]), source=data.source)
    with torch.random.fork_rng(devices=[]):  # epoch 0 draws nothing from the run's random stream
        untrained = _snapshot(model, data, device)
    if untrained is not None:
        result.snapshots.append(to_uint8(untrained))
    recorder = timeline_lib.Recorder(recipe.dataset, device, memory_format) if record_timeline else None
    if recorder is not None:
        result.timeline_labels, result.timeline_indices = recorder.labels, recorder.indices
        recording = time.perf_counter()
        result.positions.append(recorder.positions(model))
        result.timeline_seconds += time.perf_counter() - recording
    start = time.perf_counter()
    step = 0
    last_preview = -math.inf
    for epoch in range(1, recipe.epochs + 1):
        model.train()
        order = torch.randperm(n, generator=generator)
        sums: dict[str, float] = {}
        for b in range(batches):
            index = order[b * recipe.batch_size:(b + 1) * recipe.batch_size]
            clean, labels = data.train_x[index], data.train_y[index]
            if recipe.augment > 0:
                clean = augment(clean, recipe.augment, generator)
            if recipe.ink_augment > 0:
                clean = restyle_ink(clean, recipe.ink_augment, generator)
            if recipe.noise_mix:
                inputs = data_lib.corrupt_mixed(clean, generator)
            else:
                inputs = clean if recipe.noise is None else data_lib.corrupt(clean, recipe.noise, recipe.noise_strength, generator)
            if recipe.schedule == "cosine":
                for group in optimizer.param_groups:
                    group["lr"] = recipe.lr * 0.5 * (1 + math.cos(math.pi * step / total_steps))
            kl_weight = min(1.0, step / (recipe.kl_warmup_epochs * batches)) if recipe.kl_warmup_epochs else 1.0
            inputs = inputs.to(device, memory_format=memory_format)
            labels = labels.to(device)
            outputs = model(inputs, labels)
            if not _all_finite(outputs):  # checked first: BCE raises on a NaN reconstruction
                raise _diverged(recipe, epoch, b + 1, "the model's outputs became NaN or infinite")
            terms = model.loss(outputs, clean.to(device, memory_format=memory_format), labels, kl_weight=kl_weight)
            if not torch.isfinite(terms["loss"]):
                raise _diverged(recipe, epoch, b + 1, "the loss became NaN or infinite")
            optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            optimizer.step()
            step += 1
            for key, value in terms.items():
                sums[key] = sums.get(key, 0.0) + float(value.detach())
            elapsed = time.perf_counter() - start
            preview = None
            if preview_seconds is not None and elapsed - last_preview >= preview_seconds:
                preview, last_preview = _snapshot(model, data, device), elapsed
                model.train()
            event = TrainEvent("batch", epoch, recipe.epochs, b + 1, batches,
                               {k: v / (b + 1) for k, v in sums.items()}, snapshot=preview, elapsed=elapsed,
                               eta=elapsed / step * (total_steps - step))
            for callback in callbacks:
                callback(event)
            if should_stop():
                result.cancelled = True
                break
        train_terms = {k: v / (b + 1) for k, v in sums.items()}
        val_count = len(data.val_x) if max_batches is None else max_batches * recipe.batch_size  # dry runs stay short
        val_terms = _evaluate_terms(model, data.val_x[:val_count], data.val_y[:val_count], recipe, device)
        snapshot = _snapshot(model, data, device)
        positions = None
        if recorder is not None:
            recording = time.perf_counter()
            positions = recorder.positions(model)
            result.positions.append(positions)
            result.timeline_seconds += time.perf_counter() - recording
        elapsed = time.perf_counter() - start
        result.history.append({"epoch": epoch, "train": train_terms, "val": val_terms, "seconds": elapsed})
        if snapshot is not None:
            result.snapshots.append(to_uint8(snapshot))
        event = TrainEvent("epoch", epoch, recipe.epochs, b + 1, batches, train_terms, val_terms, snapshot,
                           elapsed, elapsed / step * (total_steps - step), positions=positions)
        for callback in callbacks:
            callback(event)
        if result.cancelled:
            break
    model.eval()
    model.to("cpu", memory_format=torch.contiguous_format)
    result.seconds = time.perf_counter() - start
    if recorder is not None:
        result.timeline_method = recorder.method or ""
    return result


def train_model(name: str, recipe: Recipe | None = None, config=None, **fit_kwargs) -> tuple[nn.Module, TrainResult]:
    """Build a registry model under the recipe's seed and train it; returns (model, result)."""
    spec = get_spec(name)
    recipe = recipe or spec.recipe
    torch.manual_seed(recipe.seed)  # the same seed gives the same initial weights
    model = create_model(name, config)
    return model, fit(model, recipe, **fit_kwargs)

