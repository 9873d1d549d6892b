"""Widget values as a browser sends them, checked in the one place Streamlit reads them.

Every widget value arrives as a WidgetState proto and is deserialized by Streamlit when the page
first reads it. Streamlit trusts what it is given: a forged value of another kind (a number for
a multiselect, a string for a slider, JSON that does not parse) raised inside Streamlit's own
widget code, or later in the page, and showed a traceback. Here a value of another kind than the
widget's, or one its deserializer cannot read, counts as no value: the widget's default.

This wraps a private Streamlit method (`WStates.__getitem__`), which no public API reaches; it is
installed once, explicitly (`install`, from `ui.startup`), and refuses a Streamlit version it was
not written for, so an upgrade is checked by a person rather than silently unguarded.
Logged at debug level only: a client sending thousands of forged values would fill a warning log.

A link seeds a URL-bound widget through another private method (`SessionState._seed_widget_from_url`),
which catches ValueError, TypeError and IndexError from the widget's deserializer but not the
OverflowError of `int(float("inf"))` (a number input given `inf` or `1e400`), and lets a required
st.segmented_control take no value from an empty parameter. It is wrapped the same way: a URL value
the widget cannot take (unreadable, not finite, or empty where the widget needs a value) is cleared
from the URL and the widget keeps its default, which `ui.links` then names in its note.
"""

from __future__ import annotations

import functools
import logging
import math

import streamlit as st
from streamlit.runtime.state import query_params as st_query_params
from streamlit.runtime.state import session_state as st_session_state

log = logging.getLogger(__name__)

WRITTEN_FOR = ("1.67.",)  # Streamlit versions whose WStates this was read against
_ALSO_SENT = {"double_value": {"int_value"}}  # Streamlit's frontend sends an integer st.number_input this
# What a widget's deserializer raises on a value it cannot read (int(inf) raises OverflowError).
_UNREADABLE = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError)


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
            except _UNREADABLE as exc:
                log.debug("widget %s: unreadable value from the browser (%s: %s)", widget_id, type(exc).__name__, exc)
        else:
            log.debug("widget %s: the browser sent a %s, not a %s", widget_id, sent, metadata.value_type)
        self.states[widget_id] = st_session_state.Value(metadata.deserializer(None))
        return self.states[widget_id].value
    read.checks_browser_values = True
    return read


def _is_finite(value) -> bool:
    """False for a float that is NaN or infinite, also inside a list or tuple (a range slider's two ends)."""
    if isinstance(value, (list, tuple)):
        return all(_is_finite(v) for v in value)
    return not isinstance(value, float) or math.isfinite(value)


def _url_value_problem(metadata, url_value) -> str | None:
    """Why a widget cannot take a link's value (a few words), or None when Streamlit may seed it."""
    try:
        value = metadata.deserializer(st_query_params.parse_url_param(url_value, metadata.value_type))
        default = metadata.deserializer(None)
    except _UNREADABLE as exc:
        return f"{type(exc).__name__}: {exc}"
    if not _is_finite(value):
        return "not a finite number"
    if value is None and default is not None:  # a required widget the link would leave without a value
        return "empty where the widget needs a value"
    return None


def _seed_widget_from_url(original):
    @functools.wraps(original)
    def seed(self, metadata, user_key: str, widget_id: str, url_value) -> bool:
        problem = _url_value_problem(metadata, url_value)
        if problem is None:
            try:
                return original(self, metadata, user_key, widget_id, url_value)
            except _UNREADABLE as exc:
                problem = f"{type(exc).__name__}: {exc}"
        log.debug("link value for widget %s refused (%s)", user_key, problem)
        self._clear_url_param(user_key)  # as Streamlit does for a value it finds invalid: the default is shown
        return False
    seed.checks_browser_values = True
    return seed


def installed() -> bool:
    return all(getattr(method, "checks_browser_values", False) for method in
               (st_session_state.WStates.__getitem__, st_session_state.SessionState._seed_widget_from_url))


def install() -> None:
    """Check every widget value the browser sends and every value a link gives a bound widget (idempotent)."""
    if not st.__version__.startswith(WRITTEN_FOR):
        raise RuntimeError(f"ui.guard was written for Streamlit {WRITTEN_FOR}, not {st.__version__}: read "
                           "streamlit/runtime/state/session_state.py's WStates and update the guard.")
    if not getattr(st_session_state.WStates.__getitem__, "checks_browser_values", False):
        st_session_state.WStates.__getitem__ = _read_widget_value(st_session_state.WStates.__getitem__)
    seeding = st_session_state.SessionState._seed_widget_from_url
    if not getattr(seeding, "checks_browser_values", False):
        st_session_state.SessionState._seed_widget_from_url = _seed_widget_from_url(seeding)
