"""A box to draw a digit in, with a finger, a pen or the mouse: plain JavaScript, no build step.

Undo and Clear are buttons under the box, always visible and never over it (a toolbar that shows on
hover is never seen on a phone, and one over the box takes taps meant for the drawing). Each stroke's
end sends the drawing to Python as a PNG data URL; Undo and Clear send the new drawing, or nothing
once the box is empty.
"""

from __future__ import annotations

import functools
from pathlib import Path

import streamlit as st

ASSETS = Path(__file__).resolve().parent
SIDE = 280  # px: the box, and the PNG sent (core.images makes it 28x28 like MNIST)
STROKE = 18  # px: a felt pen's width in the box, about MNIST's stroke once scaled to 28 px


@functools.cache
def _component():
    return st.components.v2.component(
        "digit_canvas", js=(ASSETS / "digit_canvas.js").read_text(), css=(ASSETS / "digit_canvas.css").read_text())


def _drawn() -> None:
    """The drawing changed: the page reruns with it (nothing else to do here)."""


def drawing(key: str):
    """Draw the box; the drawing as the browser last sent it: a PNG data URL, or None before the first
    stroke and after Clear. Unchecked: a forged client may send anything (core.browser_values checks)."""
    _component()(key=key, data={"side": SIDE, "stroke": STROKE}, on_png_change=_drawn)
    state = st.session_state.get(key)
    return state.get("png") if isinstance(state, dict) else None
