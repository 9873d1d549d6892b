"""URL state: which widgets a link carries, declared once per widget, and "Link to this view".

A page makes one `PageLinks` at its top and binds each widget that belongs in a link through it,
`st.slider(..., **link.bind("rec_count"))`, which gives the widget its key and binds it to the URL,
and notes what the URL asked for before the widget could rewrite it. `note_fallbacks()` then says
which of those values the page could not use: Streamlit drops a URL value that is not a valid
choice and draws the default, and a stale link must not pass silently.
"""

from __future__ import annotations

import html
import re
import uuid
from urllib.parse import urlencode

import streamlit as st

GROUPED_NUMBER = re.compile(r"-?[0-9]{1,3}(,[0-9]{3})+")
NOTE_VALUE_CHARS = 60  # a refused value is quoted up to this long: a link may carry kilobytes


class PageLinks:
    """The URL-bound widgets of one page run, and what the URL asked of each."""

    def __init__(self):
        self.requested: dict[str, list[str]] = {}
        self.bound: list[str] = []
        self.refused: list[str] = []
        self._note_slot = None

    def bind(self, key: str) -> dict:
        """The widget arguments (`key`, `bind`) that keep widget `key` in the URL."""
        self.bound.append(key)
        # Only before the widget exists is the URL's value a link's: later it is what the visitor set.
        if key in st.query_params and key not in st.session_state:
            self.requested[key] = st.query_params.get_all(key)
        return {"key": key, "bind": "query-params"}

    def asked(self, key: str) -> list[str] | None:
        """The values the URL gave for a bound key, as they came, before its widget was drawn."""
        return self.requested.get(key)

    def refuse(self, key: str) -> None:
        """Count a URL value the page itself could not use (its widget kept it), for the note."""
        self.refused.append(key)

    def note_here(self) -> None:
        """Where the note on refused link values goes (under the page's title, say); `finish` fills it."""
        self._note_slot = st.empty()

    def finish(self) -> None:
        """Last in a page's run, once every bound widget has its value: the note on refused values
        (where `note_here` was called) and "Link to this view" in the sidebar."""
        if self._note_slot is not None:
            with self._note_slot.container():
                self.note_fallbacks()
        else:
            self.note_fallbacks()
        with st.sidebar:
            link_to_this_view()

    def note_fallbacks(self) -> None:
        """A one-line note naming the link's values that the page could not use, and that it shows
        its defaults instead. Call it after the bound widgets are drawn."""
        # Streamlit rewrites or drops a bound value it cannot use; a value it kept (a selectbox's label,
        # say) was used. A key whose widget was not drawn in this run (a closed tab) is not judged.
        refused = [f"`{key}={_shortened(', '.join(values))}`" for key, values in self.requested.items()
                   if key in self.refused or (key in st.session_state and st.query_params.get_all(key) != values
                                              and not _same_values(values, st.session_state[key]))]
        if refused:
            st.info(f"This link asked for {' and '.join(refused)}, which this page cannot show; "
                    "it shows its defaults there instead.", icon=":material/link_off:")


def _shortened(text: str, most: int = NOTE_VALUE_CHARS) -> str:
    return text if len(text) <= most else f"{text[:most]}…"


def _same_values(requested: list[str], shown) -> bool:
    shown = [str(v) for v in (shown if isinstance(shown, (list, tuple)) else [shown])]
    if len(requested) != len(shown):
        return False
    for asked, got in zip(requested, shown):
        if GROUPED_NUMBER.fullmatch(asked):  # "5,000": a select_slider's label for 5000, as its URL carries it
            asked = asked.replace(",", "")
        try:
            if float(asked) == float(got):
                continue
        except (ValueError, OverflowError):
            pass
        if asked != got:
            return False
    return True


def view_link(base: str, params: dict[str, list[str]]) -> str:
    """The URL of a view: the page's address and its query parameters (repeated keys for lists)."""
    query = urlencode([(key, value) for key, values in params.items() for value in values])
    return f"{base}?{query}" if query else base


# The popover's address is the browser's own, read when it opens and whenever it changes: a fragment's
# rerun (a stroke, a selection on a map) changes bound widgets and the address bar without running the
# code that drew the popover. The server's URL is the text until the script runs.
LIVE_LINK = """<div class="view-link" id="{id}">
<textarea readonly rows="3" aria-label="The address of this view" onfocus="this.select()"
 style="width:100%;font:13px monospace;padding:6px;border:1px solid #ccc;border-radius:4px;box-sizing:border-box;
 resize:none;word-break:break-all">{url}</textarea>
<button type="button" style="margin-top:6px;padding:6px 14px;min-height:36px;border:1px solid #ccc;
 border-radius:4px;background:#fff;cursor:pointer">Copy link</button></div>
<script>(() => {{
  const box = document.getElementById("{id}");
  if (!box) return;
  const field = box.querySelector("textarea"), button = box.querySelector("button");
  const follow = () => {{ if (document.activeElement !== field) field.value = window.location.href; }};
  follow();
  const timer = setInterval(() => document.body.contains(box) ? follow() : clearInterval(timer), 400);
  button.addEventListener("click", async () => {{
    field.value = window.location.href;
    try {{ await navigator.clipboard.writeText(field.value); }}
    catch (error) {{ field.focus(); field.select(); document.execCommand("copy"); }}
    button.textContent = "Copied";
    setTimeout(() => {{ button.textContent = "Copy link"; }}, 1500);
  }});
}})();</script>"""


def link_to_this_view() -> None:
    """A "Link to this view" popover holding the page's URL with its state, with a copy button.

    Call it last in a run, when every bound widget has written its value into the URL.
    """
    if not st.context.url:  # no browser behind this session (a test)
        return
    url = view_link(st.context.url, {key: st.query_params.get_all(key) for key in st.query_params})
    with st.popover("Link to this view", icon=":material/link:"):
        st.caption("Whoever opens it sees what you see now.")
        st.html(LIVE_LINK.format(id=f"view-link-{uuid.uuid4().hex[:8]}", url=html.escape(url, quote=True)),
                unsafe_allow_javascript=True)
