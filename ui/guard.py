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
"""

from __future__ import annotations

import functools
import logging

import streamlit as st
from streamlit.runtime.state import session_state as st_session_state

log = logging.getLogger(__name__)

WRITTEN_FOR = ("1.67.",)  # Streamlit versions whose WStates this was read against
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


def installed() -> bool:
    return getattr(st_session_state.WStates.__getitem__, "checks_browser_values", False)


def install() -> None:
    """Check every widget value the browser sends (idempotent)."""
    if not st.__version__.startswith(WRITTEN_FOR):
        raise RuntimeError(f"ui.guard was written for Streamlit {WRITTEN_FOR}, not {st.__version__}: read "
                           "streamlit/runtime/state/session_state.py's WStates and update the guard.")
    if not installed():
        st_session_state.WStates.__getitem__ = _read_widget_value(st_session_state.WStates.__getitem__)
