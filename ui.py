"""Streamlit glue shared by every page: the only module that caches, and the shared widgets.

Pages import this module, never `core` internals that need caching. Cached models are shared
between sessions: never mutate one (no .train(), no optimizer steps).
"""

from __future__ import annotations

import core  # noqa: F401  (sets OMP_WAIT_POLICY before torch is imported anywhere)

import copy
import functools
import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st
import torch
from streamlit.runtime.state import session_state as st_session_state

from core import (anomaly, browser_values, checkpoints, data, denoise, evaluate, export, images, latent, metrics,
                  models)
from core.registry import get_spec, list_models

if TYPE_CHECKING:  # the home page never draws a chart: no plotly import on the first run
    import plotly.graph_objects as go

log = logging.getLogger(__name__)


# --- widget values as a browser sends them ---------------------------------------------------
# Every widget value arrives as a WidgetState proto and is deserialized by Streamlit when the page
# first reads it. Streamlit trusts what it is given: a forged value of another kind (a number for
# a multiselect, a string for a slider, JSON that does not parse) raised inside Streamlit's own
# widget code, or later in the page, and showed a traceback. Here, the one place every widget
# value passes, a value of another kind than the widget's, or one its deserializer cannot read,
# counts as no value: the widget's default. Logged at debug level only: at warning level every
# forged value would write a line, and a client sending thousands would fill the log (and a
# server whose output is a pipe nobody reads would block on it).

_ALSO_SENT = {"double_value": {"int_value"}}  # Streamlit's frontend sends an integer st.number_input this


def _read_widget_value(original):
    @functools.wraps(original)
    def read(self, widget_id: str):
        state, metadata = self.states.get(widget_id), self.widget_metadata.get(widget_id)
        if not isinstance(state, st_session_state.Serialized) or metadata is None:
            return original(self, widget_id)
        sent = state.value.WhichOneof("value")
        if sent in (None, metadata.value_type, *_ALSO_SENT.get(metadata.value_type, ())):
            try:
                return original(self, widget_id)
            except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
                log.debug("widget %s: unreadable value from the browser (%s: %s)", widget_id, type(exc).__name__, exc)
        else:
            log.debug("widget %s: the browser sent a %s, not a %s", widget_id, sent, metadata.value_type)
        self.states[widget_id] = st_session_state.Value(metadata.deserializer(None))
        return self.states[widget_id].value
    read.checks_browser_values = True
    return read


if not getattr(st_session_state.WStates.__getitem__, "checks_browser_values", False):
    st_session_state.WStates.__getitem__ = _read_widget_value(st_session_state.WStates.__getitem__)

# One intra-op thread per request: with several sessions on 2 cores, threads that wait on
# each other made single decodes 10x slower; parallelism comes from sessions instead.
torch.set_num_threads(1)

PAGES = {
    "pages/1_Reconstruction.py": ("Reconstruction", "How each autoencoder rebuilds digits, and what its code looks like."),
    "pages/2_Denoising.py": ("Denoising", "Add noise, upload or draw a digit, and clean it up."),
    "pages/3_Latent_Space.py": ("Latent space", "A t-SNE / PCA map of encoded digits."),
    "pages/4_Generate.py": ("Generate", "Drag latent sliders and watch a digit morph."),
    "pages/5_Anomaly.py": ("Anomaly", "A VAE that knows one digit flags all the others."),
    "pages/6_Train.py": ("Train", "Retrain any model with your own settings."),
}


def existing_pages() -> dict[str, tuple[str, str]]:
    """The pages of PAGES whose files exist, in order."""
    root = Path(__file__).resolve().parent
    return {path: info for path, info in PAGES.items() if (root / path).is_file()}


DISPLAY_SCALE = 3  # 28 px digits are drawn 84 px wide, pixel-sharp


def _file_stamp(name: str) -> tuple[int, int]:
    """(mtime_ns, size) of a checkpoint file, so caches refresh when the file changes; (0, 0) when it
    cannot be read (missing, a symlink loop, no permission): loading it then says why in a sentence."""
    try:
        stat = checkpoints.path_for(name).stat()
    except OSError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)


@st.cache_resource(show_spinner="Loading model…", max_entries=64)
def _load_model(name: str, stamp: tuple[int, int]):
    return checkpoints.load(name)


def load_model(name: str):
    """(model in eval mode, metadata) for a checkpoint name; cached until the file changes.

    Raises the checkpoint errors (FileNotFoundError, StaleCheckpointError, CorruptCheckpointError),
    whose messages are sentences for people; `show_model_error` shows them.
    """
    return _load_model(name, _file_stamp(name))


# Large cached values are cache_resource, shared as they are: cache_data would unpickle a copy
# on every call (a checkpoint's metadata holds its worst digits and histograms; 14 cards read it).
# Their arrays are made read-only, so a page that tried to change one would fail loudly.

def _read_only(value):
    """`value` with its numpy arrays (itself, or a dataclass's fields) made read-only."""
    arrays = [value] if isinstance(value, np.ndarray) else [v for v in vars(value).values() if isinstance(v, np.ndarray)]
    for array in arrays:
        array.flags.writeable = False
    return value


@functools.lru_cache(maxsize=256)  # called dozens of times a run: Streamlit's cache costs ~0.1 ms a call
def _status(name: str, stamp: tuple[int, int]) -> checkpoints.CheckpointStatus:
    return checkpoints.status(name)


def checkpoint_status(name: str) -> checkpoints.CheckpointStatus:
    return _status(name, _file_stamp(name))


@st.cache_resource(show_spinner="Loading digits…")
def test_digits(dataset: str = "mnist") -> data.Digits:
    """The test split (shared, read-only): uint8 images, labels and the source sentence."""
    return data.load(dataset, "test")


def available_models(kinds: tuple[str, ...] = ("ae", "vae")) -> list[str]:
    """Checkpoint names whose model is of one of `kinds`: shipped ones first, then users'."""
    names = []
    for name in checkpoints.list_checkpoints():
        status = checkpoint_status(name)
        model_name = status.meta["model"] if status.meta else name
        if model_name in list_models() and get_spec(model_name).kind in kinds:
            names.append(name)
    return names


@st.cache_resource(show_spinner=False, max_entries=64)
def _layer_summary(name: str, stamp: tuple[int, int]) -> list[dict]:
    # The summary hooks every layer and runs a digit through: on a private copy, because the
    # shared model may be serving other sessions at the same moment.
    return models.layer_summary(copy.deepcopy(load_model(name)[0]))


def layer_summary(name: str) -> list[dict]:
    """`core.models.layer_summary` of a checkpoint's model: one row per layer (shared, do not change)."""
    return _layer_summary(name, _file_stamp(name))


def describe(name: str) -> str:
    """A checkpoint's label for pickers: its name and, for a user's, the model it is."""
    status = checkpoint_status(name)
    if status.meta and status.meta["model"] != name:
        return f"{name} ({status.meta['model']}, yours)"
    return name


def model_picker(label: str, key: str, kinds: tuple[str, ...] = ("ae", "vae"), default: str | None = None,
                 multi: bool = False, defaults: list[str] | None = None):
    """A selectbox (or multiselect) of the models with usable checkpoints, in the sidebar's style."""
    options = available_models(kinds)
    if not options:
        st.warning("No trained models are available yet: train one on the Train page "
                   "or run `python -m core.train --all`.")
        st.stop()
    if multi:
        chosen = [n for n in (defaults or options[:1]) if n in options]
        return st.multiselect(label, options, default=chosen, key=key, format_func=describe)
    index = options.index(default) if default in options else 0
    return st.selectbox(label, options, index=index, key=key, format_func=describe)


def show_model_error(name: str, exc: Exception) -> None:
    """Explain a checkpoint that cannot be used, and where to fix it."""
    st.error(str(exc))
    st.page_link("pages/6_Train.py", label=f"Retrain {name} on the Train page", icon="🔁")


def show_png(png: bytes | list[bytes], where=st, **options) -> None:
    """st.image for PNG bytes (in `where`, a column say), sent as they are.

    With st.image's default output_format "auto", Streamlit decodes a grey PNG and re-encodes it
    as JPEG: blurred digits, and CPU spent on every run.
    """
    where.image(png, output_format="PNG", **options)


def digit_row(digits: np.ndarray | bytes, label: str | None = None, scale: int = DISPLAY_SCALE) -> None:
    """One labelled row of digits (N, 28, 28) in [0, 1], drawn as a single sharp image (or that PNG)."""
    if label:
        st.markdown(f"**{label}**")
    show_png(digits if isinstance(digits, bytes) else images.to_png(images.tile(digits, pad=2), scale=scale))


@st.cache_resource(show_spinner=False, max_entries=1024)
def _reconstruction_row(name: str, stamp: tuple[int, int], indices: tuple[int, ...]) -> tuple[bytes, float]:
    model = load_model(name)[0]
    digits = test_digits("mnist").subset(np.array(indices))
    x = digits.floats()
    recon = evaluate.reconstruct(model, x, torch.from_numpy(digits.labels))
    return images.to_png(images.tile(recon[:, 0].numpy(), pad=2), scale=DISPLAY_SCALE), float(
        metrics.bce_per_pixel(recon, x).mean())


def reconstruction_row(name: str, indices: np.ndarray) -> tuple[bytes, float]:
    """A checkpoint's reconstructions of some test digits as a `digit_row` PNG, and their mean BCE
    per pixel; cached, since every visitor starts from the same digits."""
    return _reconstruction_row(name, _file_stamp(name), tuple(int(i) for i in indices))


@st.cache_resource(show_spinner=False, max_entries=128)
def _figure(name: str, key: tuple, _build: Callable[[], go.Figure]) -> go.Figure:
    return _build()


def cached_figure(name: str, build: Callable[[], go.Figure], *key, models: tuple[str, ...] = ()) -> go.Figure:
    """`build()`, made once per name and key and shared by every session: building plotly figures was
    most of a chart page's run. `key` holds every value the figure depends on, except the
    checkpoints named in `models`, whose files are added to the key here. Never change the figure."""
    return _figure(name, (*key, *(_file_stamp(model) for model in models)), build)


def source_caption(source: str) -> None:
    st.caption(f"Data: {source}")


@st.cache_resource(show_spinner=False, max_entries=16)
def _browser_decoder(name: str, stamp: tuple[int, int]) -> tuple[str, bytes]:
    spec = export.export_decoder(load_model(name)[0])
    return spec["id"], json.dumps(spec).encode()


def browser_decoder(name: str) -> tuple[str, bytes]:
    """(id, JSON bytes) of a checkpoint's decoder exported for the browser (core.export).

    Bytes, encoded once: Streamlit would re-serialise a 3 MB dict on every run.
    """
    return _browser_decoder(name, _file_stamp(name))


@st.cache_resource(show_spinner="Encoding the test digits…", max_entries=32)
def _encoded_test_digits(name: str, stamp: tuple[int, int], dataset: str) -> np.ndarray:
    model, _ = load_model(name)
    digits = test_digits(dataset)
    return _read_only(latent.encode(model, digits.images, digits.labels if model.is_conditional else None))


def encoded_test_digits(name: str, dataset: str = "mnist") -> np.ndarray:
    """The codes (a VAE's posterior means) of the test digits under a checkpoint, (N, latent)."""
    return _encoded_test_digits(name, _file_stamp(name), dataset)


# --- Denoising page --------------------------------------------------------------------------

@st.cache_resource(show_spinner=False, max_entries=256)
def _noise_lab(name: str, stamp: tuple[int, int], indices: tuple[int, ...], kind: str, strength: float,
               seed: int) -> tuple[denoise.DenoisedDigits, list[str]]:
    result = denoise.noise_and_denoise(load_model(name)[0], test_digits("mnist").images[list(indices)] / 255.0,
                                       kind, strength, seed)
    columns = [images.png_data_url(images.tile(np.stack([result.clean[i], result.noisy[i], result.denoised[i]]),
                                               columns=1, pad=2), scale=DISPLAY_SCALE)
               for i in range(len(indices))]
    return _read_only(result), columns


def noise_lab(name: str, indices: np.ndarray, kind: str, strength: float, seed: int
              ) -> tuple[denoise.DenoisedDigits, list[str]]:
    """Test digits with seeded noise, denoised by a checkpoint (`denoise.noise_and_denoise`), and a
    PNG data URL per digit of clean over noisy over denoised; cached, since every visitor starts
    from the same digits."""
    return _noise_lab(name, _file_stamp(name), tuple(int(i) for i in indices), kind, float(strength), int(seed))


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


@st.cache_data(show_spinner="Scoring the clean digits…", max_entries=16)
def _clean_accuracy(digits: int, stamp: tuple[int, int]) -> float:
    test = test_digits("mnist")
    return denoise.accuracy(load_model("classifier")[0], test.images[:digits] / 255.0, test.labels[:digits])


def clean_accuracy() -> float:
    """The classifier's accuracy on the first `denoise.SWEEP_DIGITS` clean test digits."""
    return _clean_accuracy(denoise.SWEEP_DIGITS, _file_stamp("classifier"))


# --- Latent space page -----------------------------------------------------------------------

@st.cache_data(show_spinner=False, max_entries=4)
def _digits_fingerprint(dataset: str) -> str:
    return latent.digits_fingerprint(test_digits(dataset))


@st.cache_resource(show_spinner=False, max_entries=64)
def _map_from_disk(file_name: str) -> latent.LatentMap:
    return _read_only(latent.read_map(file_name))  # FileNotFoundError is raised, not cached


def latent_map(space: str, method: str, points: int, perplexity: float) -> latent.LatentMap:
    """A 2-D map of test digits (space: `latent.PIXELS` or a checkpoint name) from the disk cache,
    else computed once under a progress bar and kept on disk. Raises the checkpoint errors.

    The file name holds the weights hash and the digits' fingerprint, so a cached map is never stale.
    """
    model, weights = None, None
    if space != latent.PIXELS:
        model, meta = load_model(space)
        weights = meta["sha256"]
    name = latent.map_file_name(space, weights, method, points, perplexity, _digits_fingerprint("mnist"))
    try:
        return _map_from_disk(name)
    except FileNotFoundError:
        pass
    bar = st.progress(0.0, text="Computing the map…")
    latent.get_map(space, model, weights, test_digits("mnist"), method, points, perplexity,
                   progress=lambda fraction, text: bar.progress(fraction, text=text))
    bar.empty()
    return _map_from_disk(name)


# --- Anomaly page ----------------------------------------------------------------------------

def one_digit_models() -> list[str]:
    """VAE checkpoints trained on a single digit (vae_one and users' retrainings of it)."""
    return [name for name in available_models(("vae",))
            if (checkpoint_status(name).meta or {}).get("recipe", {}).get("digit") is not None]


@st.cache_resource(show_spinner="Scoring the test digits…", max_entries=16)
def _anomaly_scores(name: str, stamp: tuple[int, int], dataset: str) -> anomaly.AnomalyScores:
    model, meta = load_model(name)
    return _read_only(anomaly.score_digits(model, test_digits(dataset), anomaly.known_digit(meta)))


def anomaly_scores(name: str, dataset: str = "mnist") -> anomaly.AnomalyScores:
    """Anomaly scores (negative ELBO) of every test digit under a one-digit VAE checkpoint."""
    return _anomaly_scores(name, _file_stamp(name), dataset)


@st.cache_resource(show_spinner=False, max_entries=64)
def _latent_grid_png(name: str, stamp: tuple[int, int], n: int, span: float, scale: int, spacing: str) -> bytes:
    grid, _ = latent.latent_grid(load_model(name)[0], n, span, spacing)
    return images.to_png(images.tile(grid, pad=0), scale=scale)


def latent_grid_png(name: str, n: int = 15, span: float = 3.0, scale: int = 2, spacing: str = "linear") -> bytes:
    """A 2-D latent space's n x n decoded grid (`latent.latent_grid`) as one PNG; cached because
    decoding and encoding it took most of a page's run."""
    return _latent_grid_png(name, _file_stamp(name), n, span, scale, spacing)


# --- uploads and drawings --------------------------------------------------------------------

UPLOADS_KEPT = 16  # prepared files remembered per session: a batch of uploads, and the drawings since


def prepared_upload(data: bytes) -> images.UploadedDigit:
    """`images.prepare_upload` of a file or drawing, done once per content and session.

    Every rerun of a page hands it the same uploads again; decoding them again each time cost
    each rerun the whole decoding budget. Kept by content hash, the last UPLOADS_KEPT files.

    Raises:
        ValueError: as `images.prepare_upload`, with its sentence (the refusal is kept too).
    """
    kept = st.session_state.setdefault("_prepared_uploads", OrderedDict())
    digest = hashlib.blake2b(data, digest_size=16).digest()
    if digest in kept:
        kept.move_to_end(digest)
    else:
        try:
            kept[digest] = images.prepare_upload(data)
        except ValueError as exc:
            kept[digest] = str(exc)
        while len(kept) > UPLOADS_KEPT:
            kept.popitem(last=False)
    prepared = kept[digest]
    if isinstance(prepared, str):
        raise ValueError(prepared)
    return prepared


def drawn_digit(key: str) -> images.UploadedDigit | None:
    """A 280x280 canvas to draw a digit on, and the drawing made MNIST-like; None before any drawing.

    Raises:
        ValueError: a sentence, for a drawing that cannot be used (fully transparent) or a value
            the canvas cannot have sent.
    """
    from streamlit_drawable_canvas import st_canvas  # here: it declares its component on import, which needs a server

    try:
        drawing = st_canvas(stroke_width=18, stroke_color="#000000", background_color="#FFFFFF", width=280,
                            height=280, drawing_mode="freedraw", key=key, return_image_data=True)
        data_url = drawing._image_data_url  # as the browser sent it: `image_bytes` would decode it unchecked
    except (AttributeError, TypeError, KeyError) as exc:  # st_canvas reads its component's state unchecked
        log.debug("canvas %s: unreadable value from the browser (%s: %s)", key, type(exc).__name__, exc)
        raise ValueError("The drawing could not be read; clear the canvas and draw again.") from None
    png = browser_values.canvas_png(data_url)
    return None if png is None else prepared_upload(png)
