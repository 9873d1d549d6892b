"""Widgets every page shares: model pickers, digit rows, "your digit: upload or draw", errors shown."""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import streamlit as st

from components import digit_canvas as digit_canvas_component
from core import browser_values, images
from ui import pages
from ui.caches import DISPLAY_SCALE, available_models, checkpoint_status, load_model

log = logging.getLogger(__name__)

# One colour per digit on every page (plotly's default qualitative palette, without importing plotly)
DIGIT_COLORS = ("#636EFA", "#EF553B", "#00CC96", "#AB63FA", "#FFA15A",
                "#19D3F3", "#FF6692", "#B6E880", "#FF97FF", "#FECB52")
# The file endings an uploader accepts: those of the formats core.images lets Pillow decode
UPLOAD_TYPES = [ending for fmt in images.UPLOAD_FORMATS for ending in {"JPEG": ("jpg", "jpeg")}.get(fmt, (fmt.lower(),))]


# One colour per shipped model wherever models are compared (Tableau 20's darker half, no two alike);
# a visitor's model gets a grey of its own.
MODEL_COLORS = {
    "dense": "#1f77b4", "dense_mse": "#ff7f0e", "sparse": "#2ca02c", "deep": "#d62728", "conv": "#9467bd",
    "tied": "#8c564b", "ae2": "#e377c2", "ae20": "#17becf", "denoising": "#bcbd22", "unet": "#393b79",
    "vae2": "#637939", "vae": "#ad494a", "cvae": "#7b4173", "vae_one": "#8c6d31",
}
VISITOR_MODEL_COLOR = "#7f7f7f"


def model_color(name: str) -> str:
    """The colour of a model's bars and lines on every chart."""
    return MODEL_COLORS.get(name, VISITOR_MODEL_COLOR)


def describe(name: str) -> str:
    """A checkpoint's label for pickers: its name and, for a user's, the model it is."""
    status = checkpoint_status(name)
    if status.meta and status.meta["model"] != name:
        return f"{name} ({status.meta['model']}, saved by a visitor)"
    return name


def model_picker(label: str, key: str, kinds: tuple[str, ...] = ("ae", "vae"), default: str | None = None,
                 multi: bool = False, defaults: list[str] | None = None, bind: str | None = None):
    """A selectbox (or multiselect) of the models with usable checkpoints, in the sidebar's style;
    bind="query-params" keeps the choice in the URL."""
    options = available_models(kinds)
    if not options:
        st.warning("No trained models are available yet: train one on the Train page "
                   "or run `python -m core.train --all`.")
        st.stop()
    # The options show bare names: a bound widget's URL carries what it shows, and a link should
    # carry `ux3-vae2`, not `ux3-vae2 (vae2, saved by a visitor)`. What a visitor's model is goes below.
    if multi:
        chosen = [n for n in (defaults or options[:1]) if n in options]
        picked = st.multiselect(label, options, default=chosen, key=key, bind=bind)
        visitor_caption(picked)
        return picked
    index = options.index(default) if default in options else 0
    picked = st.selectbox(label, options, index=index, key=key, bind=bind)
    visitor_caption([picked])
    return picked


def visitor_caption(names: list[str]) -> None:
    """What each visitor's model among `names` is, in a caption ("ux3 (vae2, saved by a visitor)")."""
    saved = [describe(name) for name in names if name and describe(name) != name]
    if saved:
        st.caption("; ".join(saved))


def show_model_error(name: str, exc: Exception) -> None:
    """Explain a checkpoint that cannot be used, and where to fix it."""
    st.error(str(exc))
    st.page_link(pages.TRAIN, label=f"Retrain {name} on the Train page", icon=":material/model_training:")


def model_or_reason(name: str, optional: bool = False, stop: bool = False):
    """A checkpoint's model, or None after saying why it cannot be used: as an error with a link to
    retrain it (`stop`: and the page's run ends there, for a page that needs it), or (`optional`, for
    parts of a page that do without it) as a caption. Its metadata: `caches.load_model(name)[1]`."""
    try:
        return load_model(name)[0]
    except (FileNotFoundError, ValueError) as exc:
        if optional:
            st.caption(f"Without {name}: {exc}")
        else:
            show_model_error(name, exc)
        if stop:
            st.stop()
        return None


MAX_BATCH_FILES = 16       # files of one batch that are prepared; the rest are named and left out
MAX_BATCH_BYTES = 30 * 2**20  # their bytes together
BATCH_DECODE_SECONDS = 20.0  # CPU seconds of preparing new files in one run of a page
MINUTE_DECODE_SECONDS = 30.0  # CPU seconds of preparing a session may spend in any 60 s
# Prepared files remembered per session: a whole batch, so a rerun decodes none of it again, and drawings.
UPLOADS_KEPT = MAX_BATCH_FILES + 8


class DecodeBudget:
    """The preparing time one run of a page may still spend on new files (BATCH_DECODE_SECONDS)."""

    def __init__(self, seconds: float | None = None):
        self.left = BATCH_DECODE_SECONDS if seconds is None else seconds
        self.busy = False  # the server said busy once: the rest of the batch does not wait again


def _minute_spent(now: float) -> float:
    """CPU seconds this session spent preparing uploads in the last 60 s (and forget older ones)."""
    spent = st.session_state.setdefault("_upload_decode_seconds", [])
    spent[:] = [(when, seconds) for when, seconds in spent if now - when < 60.0]
    return sum(seconds for _, seconds in spent)


def prepared_upload(data: bytes, budget: DecodeBudget | None = None) -> images.UploadedDigit:
    """`images.prepare_upload` of a file or drawing, done once per content and session.

    Every rerun of a page hands it the same uploads again; decoding them again each time cost
    each rerun the whole decoding budget. Kept by content hash, the last UPLOADS_KEPT files, and
    a refusal as well as a result. A file not yet prepared waits (is refused for this run, not
    kept) while this session has spent MINUTE_DECODE_SECONDS in the last minute, or the run's
    `budget` is spent, or the server is busy.

    Raises:
        ValueError: as `images.prepare_upload`, with its sentence, or why the file waits.
    """
    kept = st.session_state.setdefault("_prepared_uploads", OrderedDict())
    digest = hashlib.blake2b(data, digest_size=16).digest()
    if digest in kept:
        kept.move_to_end(digest)
    else:
        now = time.monotonic()
        if _minute_spent(now) >= MINUTE_DECODE_SECONDS:
            raise ValueError(f"Not prepared yet: this visit used its {MINUTE_DECODE_SECONDS:g} s of preparing time "
                             "for the last minute; the file is prepared when the page next runs after that.")
        if budget is not None and (budget.left <= 0 or budget.busy):
            raise ValueError("Not prepared yet: the files before it used this run's preparing time"
                             + (" (the server is busy)" if budget.busy else "")
                             + "; it is prepared when the page next runs.")
        started = time.thread_time()
        try:
            kept[digest] = images.prepare_upload(data)
        except images.ServerBusy:
            if budget is not None:
                budget.busy = True
            raise  # a refusal for now, not of the file: not kept
        except ValueError as exc:
            kept[digest] = str(exc)
        finally:
            seconds = time.thread_time() - started
            st.session_state["_upload_decode_seconds"].append((now, seconds))
            if budget is not None:
                budget.left -= seconds
        while len(kept) > UPLOADS_KEPT:
            kept.popitem(last=False)
    prepared = kept[digest]
    if isinstance(prepared, str):
        raise ValueError(prepared)
    return prepared


def digit_canvas(key: str) -> images.UploadedDigit | None:
    """A 280 px box to draw a digit in with a finger, a pen or the mouse, with Undo and Clear under it
    (components/digit_canvas), and the drawing made MNIST-like; None before anything is drawn.

    Raises:
        ValueError: a sentence, for a drawing that cannot be used (fully transparent) or a value
            the canvas cannot have sent.
    """
    png = browser_values.canvas_png(digit_canvas_component.drawing(key))
    return None if png is None else prepared_upload(png)


def show_png(png: bytes | list[bytes], where=st, **options) -> None:
    """st.image for PNG bytes (in `where`, a column say), sent as they are.

    With st.image's default output_format "auto", Streamlit decodes a grey PNG and re-encodes it
    as JPEG: blurred digits, and CPU spent on every run.
    """
    where.image(png, output_format="PNG", **options)


def digit_row(digits: np.ndarray | bytes, label: str | None = None, scale: int = DISPLAY_SCALE,
              columns: int | None = None) -> None:
    """One labelled row of digits (N, 28, 28) in [0, 1], drawn as a single sharp image (or that PNG);
    `columns`: wrap after this many, so many digits stay large enough to read."""
    if label:
        st.markdown(f"**{label}**")
    show_png(digits if isinstance(digits, bytes) else images.to_png(images.tile(digits, columns, pad=2), scale=scale))

def source_caption(source: str) -> None:
    st.caption(f"Data: {source}")



@dataclass(frozen=True)
class YourDigit:
    """A digit a visitor gave: uploaded or drawn, made MNIST-like, and the tab it was given in."""

    name: str  # the file's name, or "your drawing"
    digit: images.UploadedDigit
    tab: object  # the Upload or Draw tab, to show results beside the input
    drawn: bool = False  # drawn on the canvas, not uploaded
    position: int = 0  # its place in the batch of files, refused ones counted


def your_digit(key: str, tabs=None, multiple: bool = False,
               draw_hint: str = "Draw a digit with a finger or the mouse, big, in the middle of the box."
               ) -> list[YourDigit]:
    """Upload and Draw tabs (`tabs`, or two made here; only the open one runs) and the digits given
    there, made MNIST-like, in order. A file or drawing that cannot be used is explained in its tab
    and left out; a blank drawing is left out.

    key: the page's prefix for the widgets' keys (`den` gives `den_upload`, `den_canvas`).
    multiple: several files at once (a batch), else one.
    """
    upload_tab, draw_tab = tabs or st.tabs(["Upload", "Draw"], key=f"{key}_own_tab", on_change="rerun")
    given = []
    if upload_tab.open:
        with upload_tab:
            label = ("Images of digits: PNG, JPEG, BMP, GIF or WebP, any size, dark ink on light paper or light on dark"
                     if multiple else "An image of one handwritten digit")
            files = st.file_uploader(label, type=UPLOAD_TYPES, accept_multiple_files=multiple, key=f"{key}_upload")
            files = [file for file in ((files if multiple else [files]) or []) if file is not None]
            budget, total, left_out = DecodeBudget(), 0, []
            for position, file in enumerate(files):
                total += file.size
                if position >= MAX_BATCH_FILES or total > MAX_BATCH_BYTES:
                    left_out.append(file.name)
                    continue
                try:
                    given.append(YourDigit(file.name, prepared_upload(file.getvalue(), budget), upload_tab,
                                           position=position))
                except ValueError as exc:
                    st.error(f"**{file.name}**: {exc}")
            if left_out:
                st.warning(f"A batch is at most {MAX_BATCH_FILES} files and {MAX_BATCH_BYTES // 2**20} MB together, "
                           f"so {len(left_out)} were left out ({', '.join(left_out[:3])}"
                           f"{', ...' if len(left_out) > 3 else ''}): remove some and upload those in another batch.")
    if draw_tab.open:
        with draw_tab:
            st.markdown(draw_hint)
            try:
                drawn = digit_canvas(f"{key}_canvas")
            except ValueError as exc:  # e.g. a canvas cleared to transparent, or a forged value
                st.error(f"**Your drawing**: {exc}")
            else:
                if drawn is not None and not drawn.blank:
                    given.append(YourDigit("your drawing", drawn, draw_tab, drawn=True))
    return given
