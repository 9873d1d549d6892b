"""The app's pages in navigation order, with a title and a one-line blurb each; no torch, no Streamlit.

`app.py` builds the navigation from this list (Streamlit stops reading pages/ by itself once
`st.navigation` is called), the home page draws a card per page, and the Train page links back.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

PAGES = {
    "pages/1_Reconstruction.py": ("Reconstruction", "How each autoencoder rebuilds digits, and what its code looks like."),
    "pages/2_Denoising.py": ("Denoising", "Add noise, upload or draw a digit, and clean it up."),
    "pages/3_Latent_Space.py": ("Latent space", "A t-SNE / PCA map of encoded digits."),
    "pages/4_Generate.py": ("Generate", "Drag latent sliders and watch a digit morph."),
    "pages/5_Anomaly.py": ("Anomaly", "A VAE that knows one digit flags all the others."),
    "pages/6_Train.py": ("Train", "Retrain any model with your own settings."),
}
PAGE_ICONS = {"pages/1_Reconstruction.py": "🔁", "pages/2_Denoising.py": "🧽", "pages/3_Latent_Space.py": "🗺️",
              "pages/4_Generate.py": "✨", "pages/5_Anomaly.py": "🚨", "pages/6_Train.py": "🏋️"}


def existing_pages() -> dict[str, tuple[str, str]]:
    """The pages of PAGES whose files exist, in order."""
    root = Path(__file__).resolve().parent
    return {path: info for path, info in PAGES.items() if (root / path).is_file()}


def leave_pages_folder_mode() -> None:
    """Rerun a session that Streamlit started in its old pages-folder mode, so app.py's navigation runs.

    Until some session has run app.py's `st.navigation` in this server process, Streamlit treats a
    `pages/` folder the old way: a link straight to a page (a shared link, a bookmark) ran that file
    alone, with "app" for a sidebar entry and no Home. Pages call this (through `ui`) first; after
    it, Streamlit runs app.py for every page, as it does once any visitor has seen the home page.
    """
    import streamlit as st
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False  # what st.navigation itself sets on its first call
        st.rerun()


_warm_up_started = threading.Event()
_import_lock = threading.Lock()


def import_ui() -> None:
    """Import `ui` (and through it torch and every core module) one thread at a time.

    Sessions that open different pages of a fresh server at once import ui and the core modules
    in different orders; Python's import locks then break the cycle by handing one of them a
    half-initialised module (seen as "module 'ui' has no attribute ..." on the page). Importing
    ui whole, behind one lock, before a page runs leaves the pages nothing to race for.
    """
    with _import_lock:
        import ui  # noqa: F401


def warm_up_pages_in_background(delay: float = 0.3) -> None:
    """Once per server process, `delay` s after the call: import `ui` (torch, the models) and fill
    the caches that the pages' first runs need (`ui.warm_up`), in a background thread.

    The home page imports no torch, so it draws in the time Streamlit needs to start; without
    this, the first page a visitor opens next would wait seconds for torch's import. The home page
    calls it last, once its elements are sent: the short delay leaves the browser drawing them
    before the import takes the interpreter, and the warm-up (about 4 s of one core) is done
    by the time a visitor has read the page and picked a link.
    AE_WARM_UP=0 turns it off (the tests, which load what they need themselves).
    """
    if _warm_up_started.is_set() or os.environ.get("AE_WARM_UP", "1") == "0":
        return
    _warm_up_started.set()

    def warm_up() -> None:
        # Streamlit warns that this thread runs no script, once per cached call; it is meant not to.
        quiet = logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context")
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        try:
            import_ui()
            import ui

            ui.warm_up()
        finally:
            quiet.setLevel(level)

    timer = threading.Timer(delay, warm_up)
    timer.daemon = True
    timer.start()
