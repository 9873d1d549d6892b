"""A model's layers in a row, each drawn with a digit's activations: click or tap a layer to pick it.

The row's HTML is made in Python (views/network.py draws each layer's pictures); this component shows
it, outlines the picked layer, and sends back the name of a layer clicked, tapped, or chosen with the
keyboard (Enter or Space on a focused layer). A forged client may send any name: `picked` keeps only
the names of this model's layers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import streamlit as st

ASSETS = Path(__file__).resolve().parent


@functools.cache
def _component():
    return st.components.v2.component(  # page styles reach it: the row is plain HTML of the page
        "layer_diagram", js=(ASSETS / "layer_diagram.js").read_text(), css=(ASSETS / "layer_diagram.css").read_text(),
        isolate_styles=False)


def picked(key: str, names: list[str]) -> str | None:
    """The layer the visitor last picked in diagram `key`, when it is one of `names`; else None."""
    state = st.session_state.get(key)
    name = state.get("picked") if isinstance(state, dict) else None
    return name if isinstance(name, str) and name in names else None


def layer_row(key: str, row_html: str, current: str, on_pick: Callable[[], None]) -> None:
    """Draw the row `row_html`: layers are elements with a `data-layer` name; `current` is outlined.
    `on_pick` runs (before the rerun) when a layer is picked: read it with `picked(key, names)`."""
    _component()(key=key, data={"html": row_html, "current": current}, on_picked_change=on_pick)
