"""A latent map drawn in the browser: hover a point to see its digit, zoom in to see every digit,
select by box or lasso; linked maps share what is hovered and selected.

The browser draws from bundles made by core.latent_view (a map's packed positions, sprite sheets
of the digits), each mounted once with `send_bundle`; a view names its bundles by id. Only a
selection comes back to Python, on release, and `map_view` hands it to the page's callback
unchecked: the page checks it (core.latent_view.checked_selection) where it enters.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import streamlit as st

import components

ASSETS = Path(__file__).resolve().parent


@functools.cache
def _component():
    return st.components.v2.component(
        "latent_map", js=components.script("bundles.js", "latent_map/latent_map.js"), css=(ASSETS / "latent_map.css").read_text())


def available() -> bool:
    """Whether this Streamlit can serve the component (components v2); else pages draw plain charts."""
    try:
        _component()
    except (AttributeError, OSError):  # no st.components.v2, or its files are missing: the plotly map stands in
        return False
    return True


def send_bundle(bundle_id: str, payload: bytes) -> None:
    """Mount a bundle (core.latent_view) for the maps on this page. Call it once per bundle and full
    page run, outside fragments; the element is the same from run to run, so after the first view
    Streamlit sends only its hash."""
    _component()(key=f"latent_map_bundle_{bundle_id}", data=payload, height=0)


def map_view(key: str, name: str, map_id: str, sprites_id: str, colors: list[str], *, height: int = 520,
             rebuilt_id: str | None = None, group: str = "maps", report: bool = False,
             selected: list[int] | None = None, revision: int = 0, own: tuple[float, float] | None = None,
             neighbours: list[int] | None = None, point: float = 1.0,
             on_selection: Callable[[object], None] | None = None) -> None:
    """Draw one map view.

    Args:
        name: what the view shows, for tests and people reading the page (data-map="...").
        rebuilt_id: a sprite sheet of the model's rebuilds, shown beside the hovered digit.
        group: views of one group highlight each other's hovered and selected digits.
        report: this view sends the group's selections to Python (one view per group).
        selected, revision: the selection Python holds (test indices); a new revision redraws it.
        own: your digit's position on this map; neighbours: test indices ringed beside it.
        point: dot size relative to the default (small maps draw smaller dots).
        on_selection: called with the browser's raw value {"indices": [...], "release": n}.
    """
    def selection_changed() -> None:
        if on_selection is not None:
            on_selection((st.session_state.get(key) or {}).get("selection"))

    _component()(
        key=key,
        data={"name": name, "map": map_id, "sprites": sprites_id, "rebuilt": rebuilt_id, "colors": colors,
              "height": height, "group": group, "report": report, "point": point,
              "selected": {"indices": list(selected or []), "revision": revision},
              "own": list(own) if own is not None else None, "neighbours": list(neighbours or [])},
        on_selection_change=selection_changed,
    )
