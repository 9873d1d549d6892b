"""Live latent controls: sliders or a 2-D pad whose digit the browser decodes while you drag.

The browser runs the decoder itself (exported by core.export, run by latent_pad.js), so a drag
needs no server round trip; the chosen code comes back to Python when the user lets go. Python
keeps each pad's code in st.session_state[f"{key}_z"], and plain st.sliders (updating on
release) stay in step with it for browsers where the component cannot run.
"""

from __future__ import annotations

import functools
import logging
import math
from pathlib import Path

import numpy as np
import streamlit as st

ASSETS = Path(__file__).resolve().parent
STEP = 0.01  # slider resolution; codes are stored rounded to it
log = logging.getLogger(__name__)


@functools.cache
def _component():
    return st.components.v2.component(
        "latent_pad", js=(ASSETS / "latent_pad.js").read_text(), css=(ASSETS / "latent_pad.css").read_text())


def send_decoder(decoder_id: str, payload: bytes) -> None:
    """Mount a decoder for the pads on this page: the JSON bytes of a core.export export.

    Call it once per decoder and full page run, outside the fragments that hold the pads. The
    element is the same from run to run, so after the first Streamlit sends only its hash.
    """
    _component()(key=f"latent_pad_decoder_{decoder_id}", data=payload, height=0)


def current_latent(key: str, size: int, limit: float) -> np.ndarray:
    """The code of pad `key`, (size,): zeros at first, kept within +-limit."""
    values = st.session_state.get(f"{key}_z")
    if values is None or len(values) != size:
        set_latent(key, np.zeros(size), limit)
    elif max(abs(v) for v in values) > limit:  # the span of a 2-D pad shrank: clip to it
        set_latent(key, values, limit)
    return np.asarray(st.session_state[f"{key}_z"])


def checked_code(sent, size: int, limit: float) -> list[float] | None:
    """The code in a pad's "z" value as the browser sent it, or None when it is not one.

    The pad sends {"values": [size numbers within +-limit]}; anything else (another length, a
    string, NaN, a value beyond the limit, a missing key) comes from no browser running
    latent_pad.js, and is ignored rather than repaired. Its length is checked before any
    value is read, so a forged million-value list costs nothing here.
    """
    values = sent.get("values") if isinstance(sent, dict) else None
    if not isinstance(values, list) or len(values) != size:
        return None
    # The range first: a JSON integer of 400 digits compares with a float exactly, but math.isfinite
    # (a float conversion) raises OverflowError on it; NaN and infinities fail the range too.
    if not all(type(v) in (int, float) and abs(v) <= limit + STEP / 2 and math.isfinite(v) for v in values):
        return None
    return [round(min(max(float(v), -limit), limit), 2) for v in values]


def set_latent(key: str, z, limit: float) -> None:
    """Set pad `key`'s code from Python (a button, a plain slider); the browser pad follows.

    Call it from a widget callback, or before the pad's plain sliders are drawn in a run.
    """
    values = [round(float(v), 2) for v in np.clip(np.asarray(z, dtype=float), -limit, limit)]
    st.session_state[f"{key}_z"] = values
    st.session_state[f"{key}_revision"] = st.session_state.get(f"{key}_revision", 0) + 1
    _sync_sliders(key, values)


def _sync_sliders(key: str, values: list[float]) -> None:
    for i, value in enumerate(values):
        st.session_state[f"{key}_slider{i}"] = value


def _on_release(key: str, size: int, limit: float) -> None:
    """The user let go of the pad: keep its code (the browser already shows it)."""
    values = checked_code(st.session_state[f"{key}_live"].get("z"), size, limit)
    if values is None:
        log.debug("latent pad %s: ignored a code that is not %d numbers within +-%g", key, size, limit)
        return
    st.session_state[f"{key}_z"] = values
    _sync_sliders(key, values)


def live_pad(key: str, decoder_id: str, mode: str, limit: float, label: int | None = None,
             marks: list[tuple] | None = None) -> None:
    """Draw pad `key`: "sliders" (one per latent value) or "pad" (a 2-D square) beside its digit.

    Call `current_latent(key, ...)` earlier in the run: it sets up the code the pad starts from.

    Args:
        decoder_id: the id of a decoder given to `send_decoder` on this page.
        label: the digit a conditional decoder draws.
        marks: points (z0, z1, text, css colour) drawn on a 2-D pad, e.g. digit centroids, optionally
            followed by where to draw the badge (b0, b1) when it must sit apart from the point.
    """
    if mode not in ("sliders", "pad"):
        raise ValueError(f"Unknown pad mode {mode!r}; choose 'sliders' or 'pad'.")
    z = st.session_state[f"{key}_z"]
    _component()(
        key=f"{key}_live",
        data={"name": key, "decoder": decoder_id, "mode": mode, "latent": len(z), "limit": limit, "z": z,
              "revision": st.session_state.get(f"{key}_revision", 0), "label": label, "marks": marks or []},
        on_z_change=functools.partial(_on_release, key, len(z), limit),
    )


def _on_slider(key: str, size: int, limit: float) -> None:
    set_latent(key, [st.session_state[f"{key}_slider{i}"] for i in range(size)], limit)


def plain_sliders(key: str, limit: float, columns: int = 4) -> None:
    """One st.slider per latent value of pad `key`, in step with the live pad; they rerun on release."""
    values = st.session_state[f"{key}_z"]
    size = len(values)
    for i, value in enumerate(values):  # a slider not drawn in the last run has lost its state
        st.session_state.setdefault(f"{key}_slider{i}", value)
    cells = st.columns(columns)
    for i in range(size):
        cells[i % columns].slider(f"z{i}", -limit, limit, step=STEP, key=f"{key}_slider{i}",
                                  on_change=_on_slider, args=(key, size, limit))


def url_code(key: str, size: int, limit: float) -> np.ndarray | None:
    """The code a link gives pad `key` (query parameter KEY_z: comma-separated numbers), or None.

    Raises:
        ValueError: the link's value is not `size` numbers within +-limit; says what it should be.
    """
    text = st.query_params.get(f"{key}_z")
    if text is None:
        return None
    try:
        values = np.array([float(part) for part in text.split(",")])
    except ValueError:
        values = np.array([np.nan])
    if values.shape != (size,) or not np.all(np.abs(values) <= limit):  # NaN fails the comparison too
        raise ValueError(f"{size} numbers from -{limit:g} to {limit:g}")
    return values


def keep_code_in_url(key: str) -> None:
    """Write pad `key`'s current code into the URL (KEY_z), so a link reproduces the digit."""
    st.query_params[f"{key}_z"] = ",".join(f"{v:g}" for v in st.session_state[f"{key}_z"])
