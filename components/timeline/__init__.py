"""A training timeline drawn in the browser: one scrubber over epochs for one or two models, the
2,000 points blended between epochs on a canvas (hover shows the digit), the ten reconstructions
and the loss chart's cursor following it.

The browser draws from bundles made by core.timeline (a model's timeline, the points' sprite
sheet), each mounted once with `send_bundle`; a view names its bundles by id. Scrubbing, playing
and hovering run in the browser: nothing comes back to Python.
"""

from __future__ import annotations

import functools
from pathlib import Path

import streamlit as st

import components

ASSETS = Path(__file__).resolve().parent


@functools.cache
def _component():
    return st.components.v2.component(
        "training_timeline", js=components.script("bundles.js", "timeline/timeline.js"), css=(ASSETS / "timeline.css").read_text())


def send_bundle(bundle_id: str, payload: bytes) -> None:
    """Mount a bundle for the timelines on this page; once per bundle and run. The element is the same
    from run to run, so after the first view Streamlit sends only its hash."""
    _component()(key=f"timeline_bundle_{bundle_id}", data=payload, height=0)


def timeline_view(key: str, models: list[tuple[str, str]], sprites_id: str, colors: list[str], *,
                  height: int = 420, follow: bool = False, start: str = "last") -> None:
    """Draw one view of one or two timelines on one scrubber.

    Args:
        models: (name shown, bundle id) per panel, left to right.
        follow: a live run: each new epoch's points glide in, until the visitor takes the scrubber.
        start: "last" or "first": the epoch the scrubber starts on.
    """
    _component()(key=key, data={"models": [{"name": name, "id": bundle_id} for name, bundle_id in models],
                                "sprites": sprites_id, "colors": list(colors), "height": height,
                                "follow": follow, "start": start})
