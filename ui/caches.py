"""The only caching in the app: models, test digits, maps, figures and what pages compute from them.

Cached values are shared between sessions: never mutate one (no .train(), no optimizer steps, no
writes into arrays, which are made read-only where large). `warm_up` fills what the pages' first
runs need, from `ui.startup`'s background thread.
"""

from __future__ import annotations

import collections
import copy
import functools
import inspect
import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from core import (
    anomaly,
    checkpoints,
    classical,
    data,
    denoise,
    export,
    generate,
    images,
    inference,
    latent,
    latent_view,
    metrics,
    models,
    timeline,
    visitors,
)
from core.registry import get_spec, list_models

if TYPE_CHECKING:  # the home page never draws a chart: no plotly import on the first run
    import plotly.graph_objects as go

DISPLAY_SCALE = 3  # 28 px digits are drawn 84 px wide, pixel-sharp


def _file_stamp(name: str) -> tuple[int, int]:
    """(mtime_ns, size) of a checkpoint file, so caches refresh when the file changes; (0, 0) when it
    cannot be read (missing, a symlink loop, no permission): loading it then says why in a sentence."""
    try:
        stat = checkpoints.path_for(name).stat()
    except OSError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)


def _plain(value):
    """A cache key's form of an argument: numpy arrays and scalars as tuples and Python numbers."""
    if isinstance(value, np.ndarray):
        return tuple(value.tolist())
    return value.item() if isinstance(value, np.generic) else value


def per_checkpoint(cache: Callable[[Callable], Callable]):
    """Decorator: `fn(name, *args)` cached by `cache` (st.cache_resource(...), say) under the
    checkpoint file's stamp as well as its arguments, so a retrained or replaced file is read again.

    Arguments are keyed as `_plain` makes them (an index array becomes a tuple of ints).
    """
    def decorate(fn: Callable) -> Callable:
        def stamped(name: str, stamp: tuple[int, int], *args):
            return fn(name, *args)

        # Streamlit keys a cache on the function's module and qualified name: one per `fn`
        stamped.__module__, stamped.__name__, stamped.__qualname__ = fn.__module__, fn.__name__, fn.__qualname__
        stamped = cache(stamped)

        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def cached(name: str, *args, **kwargs):
            bound = signature.bind(name, *args, **kwargs)
            bound.apply_defaults()  # f(name) and f(name, default) share one entry
            return stamped(name, _file_stamp(name), *(_plain(a) for a in bound.args[1:]))
        return cached
    return decorate


@per_checkpoint(st.cache_resource(show_spinner="Loading model…", max_entries=64))
def _cached_model(name: str):
    return checkpoints.load(name)


def load_model(name: str):
    """(model in eval mode, metadata) for a checkpoint name; cached until the file changes.

    Raises the checkpoint errors (FileNotFoundError, StaleCheckpointError, CorruptCheckpointError),
    whose messages are sentences for people; `show_model_error` shows them.
    """
    visitors.mark_used(name)  # a visitor's model in use is the last to make room
    return _cached_model(name)


# Large cached values are cache_resource, shared as they are: cache_data would unpickle a copy
# on every call (a checkpoint's metadata holds its worst digits and histograms; 14 cards read it).
# Their arrays are made read-only, so a page that tried to change one would fail loudly.

def _read_only(value):
    """`value` with its numpy arrays (itself, or a dataclass's fields) made read-only."""
    arrays = [value] if isinstance(value, np.ndarray) else [v for v in vars(value).values() if isinstance(v, np.ndarray)]
    for array in arrays:
        array.flags.writeable = False
    return value


@per_checkpoint(functools.lru_cache(maxsize=256))  # called dozens of times a run: Streamlit's cache costs ~0.1 ms a call
def checkpoint_status(name: str) -> checkpoints.CheckpointStatus:
    return checkpoints.status(name)


@per_checkpoint(functools.lru_cache(maxsize=256))
def model_metrics(name: str) -> metrics.ModelMetrics:
    """The test metrics stored in a usable checkpoint, as a record (shared, do not change)."""
    return metrics.ModelMetrics.from_dict(checkpoint_status(name).meta["metrics"])


@st.cache_resource(show_spinner="Loading digits…")
def test_digits(dataset: str = "mnist") -> data.Digits:
    """The test split (shared, read-only): uint8 images, labels and the source sentence."""
    return data.load(dataset, "test")


@functools.lru_cache(maxsize=4)
def _listing(listing_stamp: tuple) -> tuple[tuple[str, checkpoints.CheckpointStatus], ...]:
    # Keyed on every file's name, size and time (one directory scan a run): statuses are read
    # again only when a file changes, and status reads a header, never the weights.
    return tuple((name, checkpoints.status(name)) for name in checkpoints.list_checkpoints())


def checkpoint_listing() -> tuple[tuple[str, checkpoints.CheckpointStatus], ...]:
    """(name, status) of every checkpoint, shipped first, then visitors'; re-read only when a
    checkpoint file changes, so a run costs about the same with 15 or 500 files."""
    return _listing(checkpoints.listing_stamp())


@functools.lru_cache(maxsize=4)
def _visitor_bytes(listing_stamp: tuple) -> int:
    return visitors.usage()[1]


def visitor_bytes() -> int:
    """Bytes of the models visitors saved, re-counted only when a checkpoint file changes."""
    return _visitor_bytes(checkpoints.listing_stamp())


def visitor_models() -> list[tuple[str, checkpoints.CheckpointStatus]]:
    """(name, status) of the models visitors saved on this server, in name order."""
    return [(name, status) for name, status in checkpoint_listing() if not checkpoints.is_shipped(name)]


def available_models(kinds: tuple[str, ...] = ("ae", "vae")) -> list[str]:
    """Checkpoint names whose model is of one of `kinds`: shipped ones first, then visitors'."""
    names = []
    for name, status in checkpoint_listing():
        model_name = status.meta["model"] if status.meta else name
        if model_name in list_models() and get_spec(model_name).kind in kinds:
            names.append(name)
    return names


@per_checkpoint(st.cache_resource(show_spinner=False, max_entries=64))
def layer_summary(name: str) -> list[dict]:
    """`core.models.layer_summary` of a checkpoint's model: one row per layer (shared, do not change)."""
    # The summary hooks every layer and runs a digit through: on a private copy, because the
    # shared model may be serving other sessions at the same moment.
    return models.layer_summary(copy.deepcopy(load_model(name)[0]))


@per_checkpoint(st.cache_resource(show_spinner=False, max_entries=1024))
def reconstruction_row(name: str, indices: tuple[int, ...]) -> tuple[bytes, float]:
    """A checkpoint's reconstructions of some test digits as a `digit_row` PNG, and their mean BCE
    per pixel; cached, since every visitor starts from the same digits."""
    digits = test_digits("mnist").subset(np.array(indices))
    recon = inference.reconstruct(load_model(name)[0], digits.images, digits.labels)
    bce = float(metrics.bce_per_pixel(recon, digits.images / 255.0).mean())
    return images.to_png(images.tile(recon, pad=2), scale=DISPLAY_SCALE), bce


@st.cache_resource(show_spinner=False, max_entries=128)
def _figure(name: str, key: tuple, _build: Callable[[], go.Figure]) -> go.Figure:
    return _build()


def cached_figure(name: str, build: Callable[[], go.Figure], *key, models: tuple[str, ...] = ()) -> go.Figure:
    """`build()`, made once per name and key and shared by every session: building plotly figures was
    most of a chart page's run. `key` holds every value the figure depends on, except the
    checkpoints named in `models`, whose files are added to the key here. Never change the figure."""
    return _figure(name, (*key, *(_file_stamp(model) for model in models)), build)


@per_checkpoint(st.cache_resource(show_spinner=False, max_entries=16))
def browser_decoder(name: str) -> tuple[str, bytes]:
    """(id, JSON bytes) of a checkpoint's decoder exported for the browser (core.export).

    Bytes, encoded once: Streamlit would re-serialise a 3 MB dict on every run.
    """
    spec = export.export_decoder(load_model(name)[0])
    return spec["id"], json.dumps(spec).encode()


@per_checkpoint(st.cache_resource(show_spinner="Encoding the test digits…", max_entries=32))
def encoded_test_digits(name: str, dataset: str = "mnist") -> np.ndarray:
    """The codes (a VAE's posterior means) of the test digits under a checkpoint, (N, latent)."""
    model, _ = load_model(name)
    digits = test_digits(dataset)
    return _read_only(inference.encode(model, digits.images, digits.labels if model.is_conditional else None))


@per_checkpoint(st.cache_resource(show_spinner=False, max_entries=16))
def codes_picture(name: str, count: int, colours: tuple[str, ...]) -> tuple[str, float]:
    """(PNG data URL, reach) of the first `count` test digits' 2-D codes under a checkpoint, faint dots in
    their digit's colour (`colours`, 10 hex strings) over the square [-reach, reach]^2, reach the
    codes' largest value rounded up to a half and at least 4."""
    codes = encoded_test_digits(name)[:count]
    reach = max(4.0, float(np.ceil(np.abs(codes).max() * 2) / 2))
    palette = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in colours], dtype=np.uint8)
    png = images.dots_png(codes, palette[test_digits("mnist").labels[:count]], reach)
    return images.data_url(png), reach


# --- core computations a page shows, cached --------------------------------------------------

@per_checkpoint(st.cache_resource(show_spinner=False, max_entries=256))
def noise_lab(name: str, indices: tuple[int, ...], kind: str, strength: float, seed: int
              ) -> tuple[denoise.DenoisedDigits, list[str]]:
    """Test digits with seeded noise, denoised by a checkpoint (`denoise.noise_and_denoise`), and a
    PNG data URL per digit of clean over noisy over denoised; cached, since every visitor starts
    from the same digits."""
    result = denoise.noise_and_denoise(load_model(name)[0], test_digits("mnist").images[list(indices)] / 255.0,
                                       kind, float(strength), int(seed))
    return _read_only(result), [images.png_data_url(column, scale=DISPLAY_SCALE) for column in result.columns()]


@st.cache_resource
def _sweep_lines() -> dict:
    """Sweep lines measured so far, shared by every session; `sweep_line` fills it."""
    return {}


def sweep_line(name: str | None, kind: str, on_progress=None) -> denoise.SweepLine:
    """Mean PSNR and classifier accuracy at each strength of a noise kind over the first
    `denoise.SWEEP_DIGITS` test digits, for a checkpoint's output or (name None) the noisy input.

    Read from disk when kept there (core.denoise), else measured once. Not an st.cache_data function
    because `on_progress(fraction)` drives the caller's progress bar, which a cache would replay.
    """
    names = ("classifier",) if name is None else (name, "classifier")
    key = (name, kind, denoise.SWEEP_DIGITS, tuple(_file_stamp(n) for n in names))
    lines = _sweep_lines()
    if key not in lines:
        test = test_digits("mnist")
        clean, labels = test.images[:denoise.SWEEP_DIGITS] / 255.0, test.labels[:denoise.SWEEP_DIGITS]
        lines[key] = denoise.stored_sweep_line(name, kind, clean, labels, on_progress=on_progress,
                                               models={n: load_model(n) for n in names})
    return lines[key]


def classical_sweep_line(method: str, kind: str, on_progress=None) -> denoise.SweepLine:
    """`sweep_line` of a classical filter at its tuned value (core.classical), kept as those are."""
    key = (f"classical-{method}", classical.TUNED[method], kind, denoise.SWEEP_DIGITS, _file_stamp("classifier"))
    lines = _sweep_lines()
    if key not in lines:
        test = test_digits("mnist")
        clean, labels = test.images[:denoise.SWEEP_DIGITS] / 255.0, test.labels[:denoise.SWEEP_DIGITS]
        lines[key] = denoise.stored_classical_line(method, kind, clean, labels, classifier=load_model("classifier"),
                                                   on_progress=on_progress)
    return lines[key]


@st.cache_resource(show_spinner=False, max_entries=64)
def classical_outputs(indices: tuple[int, ...], position: int, kind: str, strength: float, seed: int
                      ) -> dict[str, tuple[str, float, float]]:
    """Every classical filter's output for one of the noise lab's digits (the same noisy digit as
    `noise_lab` makes): method -> (PNG data URL, PSNR dB, SSIM)."""
    clean = np.asarray(test_digits("mnist").images[list(indices)] / 255.0, dtype=np.float32)
    noisy = data.add_noise(clean, kind, float(strength), int(seed))[position]
    outputs = {}
    for method in classical.METHODS:
        out = classical.denoise(method, noisy)
        outputs[method] = (images.png_data_url(out, scale=DISPLAY_SCALE),
                           float(denoise.psnr_db(out[None], clean[position][None])[0]),
                           float(metrics.ssim(out[None], clean[position][None])[0]))
    return outputs


@st.cache_resource(show_spinner="Averaging the training digits…")
def class_averages() -> np.ndarray:
    """The average training digit of each class (10, 28, 28), read-only."""
    train = data.load("mnist", "train")
    return _read_only(denoise.class_averages(train.images, train.labels))


@st.cache_resource(show_spinner="Comparing the two denoisers…", max_entries=8)
def _models_compared(names: tuple[str, str], digits: int, stamps: tuple) -> denoise.ModelsCompared:
    test = test_digits("mnist")
    return denoise.stored_comparison(names, test.images[:digits] / 255.0, test.labels[:digits], class_averages,
                                     models={n: load_model(n) for n in (*names, "classifier")})


def models_compared(names: tuple[str, str]) -> denoise.ModelsCompared:
    """Two checkpoints (with skips, bottleneck) on the same noisy test digits (`denoise.stored_comparison`),
    kept on disk; cached until a checkpoint file changes."""
    return _models_compared(tuple(names), denoise.SWEEP_DIGITS,
                            tuple(_file_stamp(n) for n in (*names, "classifier")))


@per_checkpoint(st.cache_data(show_spinner="Scoring the clean digits…", max_entries=16))
def _accuracy_on_first_digits(classifier: str, digits: int) -> float:
    test = test_digits("mnist")
    return denoise.accuracy(load_model(classifier)[0], test.images[:digits] / 255.0, test.labels[:digits])


def clean_accuracy() -> float:
    """The classifier's accuracy on the first `denoise.SWEEP_DIGITS` clean test digits."""
    return _accuracy_on_first_digits("classifier", denoise.SWEEP_DIGITS)


@st.cache_data(show_spinner=False, max_entries=4)
def _digits_fingerprint(dataset: str) -> str:
    return latent.digits_fingerprint(test_digits(dataset))


# Maps kept in memory, most recently used first out last: the 28 shipped maps at the default
# settings and 20 more. A map of 10,000 digits holds about 0.25 MB of arrays, so at most ~12 MB,
# however many settings visitors ask for; a map dropped here is read again from disk (~10 ms).
MAPS_IN_MEMORY = 48


class _RecentMaps:
    """The `MAPS_IN_MEMORY` most recently used maps by file name, shared by every session (thread-safe)."""

    def __init__(self, size: int = MAPS_IN_MEMORY):
        self.size = size
        self._maps: collections.OrderedDict[str, latent.LatentMap] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, name: str) -> latent.LatentMap | None:
        with self._lock:
            if name in self._maps:
                self._maps.move_to_end(name)
            return self._maps.get(name)

    def put(self, name: str, latent_map: latent.LatentMap) -> None:
        with self._lock:
            self._maps[name] = latent_map
            self._maps.move_to_end(name)
            while len(self._maps) > self.size:
                self._maps.popitem(last=False)

    def __len__(self) -> int:
        return len(self._maps)


@st.cache_resource(max_entries=1)
def _latent_maps() -> _RecentMaps:
    """Maps read or computed lately, by file name, shared by every session; `latent_map` fills it."""
    return _RecentMaps()


def _map_file_name(space: str, method: str, points: int, perplexity: float) -> str:
    weights = None if space == latent.PIXELS else load_model(space)[1]["sha256"]
    return latent.map_file_name(space, weights, method, points, perplexity, _digits_fingerprint("mnist"))


def latent_map(space: str, method: str, points: int, perplexity: float) -> latent.LatentMap:
    """A 2-D map of test digits (space: `latent.PIXELS` or a checkpoint name), through
    `core.latent.get_map`: read from disk, else computed once under a progress bar, sessions asking
    for the same map at once sharing one computation. Raises the checkpoint errors.

    The file name holds the weights hash and the digits' fingerprint, so a cached map is never stale.
    """
    name = _map_file_name(space, method, points, perplexity)
    maps = _latent_maps()
    found = maps.get(name)
    if found is None:
        model, weights = (None, None) if space == latent.PIXELS else (load_model(space)[0], load_model(space)[1]["sha256"])
        bar = None

        def progress(fraction: float, text: str) -> None:
            nonlocal bar
            bar = bar or st.progress(0.0, text="Computing the map…")
            bar.progress(min(max(fraction, 0.0), 1.0), text=text)

        found = latent.get_map(space, model, weights, test_digits("mnist"), method, points, perplexity, progress)
        if bar is not None:
            bar.empty()
        if found.unsaved:  # shown all the same, and kept in memory while it is among the recent maps
            st.warning(f"{found.unsaved} It is shown all the same, and kept in memory while it is in use.")
        found = _read_only(found)
        maps.put(name, found)
    return found


def first_of_each_class(dataset: str = "mnist") -> np.ndarray:
    """The test index of the first digit of each class, in class order."""
    labels = test_digits(dataset).labels
    return np.array([int(np.argmax(labels == c)) for c in range(10)])


@per_checkpoint(st.cache_resource(show_spinner=False, max_entries=16))
def interpolation_pair(name: str, ends: str) -> tuple[int, int]:
    """The pair to interpolate between first, where linear and spherical paths differ most: two of the
    first test digits of each class (ends "digits": their test indices) or two classes ("classes")."""
    model = load_model(name)[0]
    codes = encoded_test_digits(name)
    if ends == "classes":
        return generate.most_different_pair(model, generate.class_centroids(codes, test_digits("mnist").labels))
    firsts = first_of_each_class()
    i, j = generate.most_different_pair(model, codes[firsts])
    return int(firsts[i]), int(firsts[j])


# The map in the browser (components/latent_map): bundles made once per server and shared, each
# (id, bytes); the browser keeps them, so a rerun re-sends only their hashes.

def _with_id(payload: bytes) -> tuple[str, bytes]:
    return latent_view.read_bundle(payload)[0]["id"], payload


@st.cache_resource(show_spinner=False, max_entries=64)
def _map_bundle(file_name: str, _latent_map: latent.LatentMap) -> tuple[str, bytes]:
    return _with_id(latent_view.map_bundle(_latent_map.coords, _latent_map.indices, _latent_map.labels))


def latent_map_bundle(space: str, method: str, points: int, perplexity: float) -> tuple[str, bytes]:
    """(id, bytes) of a `latent_map` packed for the browser (`latent_view.map_bundle`)."""
    return _map_bundle(_map_file_name(space, method, points, perplexity), latent_map(space, method, points, perplexity))


@st.cache_resource(show_spinner="Drawing the digits' sprite sheet…", max_entries=4)
def _test_sprites(dataset: str) -> tuple[str, bytes]:
    return _with_id(latent_view.sprite_bundle(test_digits(dataset).images))


def test_sprites(dataset: str = "mnist") -> tuple[str, bytes]:
    """(id, bytes) of the test digits' sprite sheet: one 1.7 MB PNG for all 10,000."""
    return _test_sprites(dataset)


@per_checkpoint(st.cache_resource(show_spinner="Rebuilding the test digits…", max_entries=16))
def rebuilt_sprites(name: str, dataset: str = "mnist") -> tuple[str, bytes]:
    """(id, bytes) of a sprite sheet of a checkpoint's rebuilds of the test digits, in test order."""
    digits = test_digits(dataset)
    rebuilt = inference.reconstruct(load_model(name)[0], digits.images, digits.labels)
    return _with_id(latent_view.sprite_bundle(rebuilt, levels=latent_view.REBUILT_LEVELS))


@st.cache_resource(show_spinner=False, max_entries=4)
def _test_pixels(dataset: str) -> np.ndarray:
    return _read_only(test_digits(dataset).images.reshape(-1, 28 * 28).astype(np.float32) / 255.0)


def space_features(space: str, dataset: str = "mnist") -> np.ndarray:
    """What a map of `space` arranges, for every test digit (N, D): pixels in [0, 1] or the codes."""
    return _test_pixels(dataset) if space == latent.PIXELS else encoded_test_digits(space, dataset)


@st.cache_resource(show_spinner=False, max_entries=64)
def _map_projection(space: str, stamp: tuple[int, int], points: int) -> latent_view.Projection:
    features = space_features(space)
    return latent_view.fit_projection(features[latent.map_indices(len(features), points)], latent.MAP_SEED)


def map_projection(space: str, latent_map: latent.LatentMap) -> latent_view.Projection:
    """The PCA behind a PCA map of `space`, to place new digits on it: kept with the map, or (a map
    saved before maps kept it) fitted again the same way, once."""
    if latent_map.projection is not None:
        return latent_map.projection
    stamp = (0, 0) if space == latent.PIXELS else _file_stamp(space)
    return _map_projection(space, stamp, len(latent_map.indices))


# --- Anomaly page ----------------------------------------------------------------------------

def one_digit_models() -> list[str]:
    """VAE checkpoints trained on a single digit (vae_one and users' retrainings of it)."""
    return [name for name in available_models(("vae",))
            if (checkpoint_status(name).meta or {}).get("recipe", {}).get("digit") is not None]


@per_checkpoint(st.cache_resource(show_spinner="Scoring the test digits…", max_entries=16))
def _anomaly_scores(name: str, background: str | None, background_stamp,
                    dataset: str = "mnist") -> anomaly.AnomalyScores:
    if background is not None:  # the cached ELBO scores, less the background's: one VAE pass, not two
        return _read_only(anomaly.likelihood_ratio(anomaly_scores(name), load_model(background)[0],
                                                   test_digits(dataset)))
    model, meta = load_model(name)
    return _read_only(anomaly.score_digits(model, test_digits(dataset), anomaly.known_digit(meta)))


def anomaly_scores(name: str, background: str | None = None) -> anomaly.AnomalyScores:
    """Anomaly scores of every test digit under a one-digit VAE checkpoint: its negative ELBO, or
    the likelihood ratio against the all-digit VAE `background` (cached on both files' stamps)."""
    return _anomaly_scores(name, background, None if background is None else _file_stamp(background))


@per_checkpoint(st.cache_resource(show_spinner=False, max_entries=64))
def latent_grid_png(name: str, n: int = 15, span: float = 3.0, scale: int = 2, spacing: str = "linear") -> bytes:
    """A 2-D latent space's n x n decoded grid (`latent.latent_grid`) as one PNG; cached because
    decoding and encoding it took most of a page's run."""
    grid, _ = latent.latent_grid(load_model(name)[0], n, span, spacing)
    return images.to_png(images.tile(grid, pad=0), scale=scale)


# --- warm-up -----------------------------------------------------------------------------------

def warm_up() -> None:
    """Fill the caches every page's first run needs, in about the sidebar's order: the models and
    test digits, the codes the Generate page scatters, the anomaly scores, and the Latent space
    page's sprite sheets for its default space (navigation.warm_up_pages_in_background calls it
    once per server, after the home page). A checkpoint that cannot be used is left to its page."""
    test_digits("mnist")
    for name in available_models(("ae", "vae", "classifier")):
        try:
            load_model(name)
        except (FileNotFoundError, ValueError):
            continue
    import pandas  # noqa: F401  Streamlit's components v2 import it on their first use: 0.2 s

    classical.import_libraries()  # the Denoising page's filters: scikit-image and bm3d, 2-3 s

    test_sprites()
    for name, fill in (("ae20", rebuilt_sprites), ("vae2", encoded_test_digits), ("vae", encoded_test_digits),
                       ("vae_one", lambda one: anomaly_scores(one, anomaly.BACKGROUND))):  # and the ELBO's
        try:
            fill(name)
        except (FileNotFoundError, ValueError):
            continue


# --- training timelines (core.timeline) ------------------------------------------------------------

TIMELINE_LOSS_UNITS = {"ae": "loss per pixel", "denoiser": "loss per pixel", "vae": "nats per digit",
                       "classifier": "cross-entropy"}


def timeline_names() -> list[str]:
    """Checkpoints whose current weights have a training timeline: shipped ones first, then visitors'."""
    kinds = ("ae", "denoiser", "vae", "classifier")
    return [name for name in available_models(kinds) if timeline.has_timeline(name)]


@per_checkpoint(st.cache_resource(show_spinner="Reading the training timeline…", max_entries=32))
def training_timeline(name: str) -> timeline.Timeline:
    """A checkpoint's timeline (shared, do not change); raises as `core.timeline.load`."""
    return timeline.load(name)


@per_checkpoint(st.cache_resource(show_spinner=False, max_entries=32))
def timeline_bundle(name: str) -> tuple[str, bytes]:
    """(id, bytes) of a checkpoint's timeline packed for components/timeline."""
    kind = get_spec(checkpoint_status(name).meta["model"]).kind
    return _with_id(timeline.browser_bundle(training_timeline(name), TIMELINE_LOSS_UNITS.get(kind, "loss")))


@st.cache_resource(show_spinner=False, max_entries=4)
def timeline_sprites(dataset: str = "mnist") -> tuple[str, bytes]:
    """(id, bytes) of the timeline points' sprite sheet (2,000 digits, ~0.3 MB)."""
    return _with_id(timeline.sprites_bundle(dataset))


@st.cache_resource(show_spinner="Measuring the run's timeline…", max_entries=8)
def run_timeline(job_id: str, _result, dataset: str) -> timeline.Timeline:
    """The timeline of a finished run (`job_id` keys it), with its k-NN accuracy per epoch."""
    return timeline.from_result(_result, dataset, _result.timeline_labels, _result.timeline_indices,
                                _result.timeline_method)
