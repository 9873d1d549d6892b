"""What a server process does once before the first page that needs torch, and the warm-up thread.

The home page imports no torch, so it draws in the time Streamlit needs to start. Every other
page needs torch, the core modules, pandas and plotly. Sessions opening different pages of a fresh
server at once, and the warm-up thread, would import those in different orders, and Python's
import locks break such a deadlock by handing one thread a half-initialised module (seen as
"partially initialized module 'pandas' has no attribute 'Series'"). So every import a page or the
warm-up needs happens here, behind one lock, before any page runs; later imports are look-ups.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading

# What the pages and the warm-up import, the heaviest first; components v2 import pandas on first use.
# (The drawing canvas's package registers its component when imported: its pages import it when drawn.)
PAGE_MODULES = ("torch", "pandas", "plotly.graph_objects", "plotly.express", "ui.caches", "ui.widgets",
                "ui.links", "ui.settings", "ui.session")

_lock = threading.Lock()
_ready = threading.Event()
_warm_up_started = threading.Event()


def prepare_pages() -> None:
    """Import what the pages need, install the widget-value guard, set torch's threads and apply the
    operator's settings: once per process, one thread at a time; a no-op once done."""
    if _ready.is_set():
        return
    with _lock:
        if _ready.is_set():
            return
        for module in PAGE_MODULES:
            importlib.import_module(module)
        import torch

        from ui import guard, settings, uploads

        # One intra-op thread per request: with several sessions on 2 cores, threads that wait on
        # each other made single decodes 10x slower; parallelism comes from sessions instead.
        torch.set_num_threads(1)
        guard.install()
        uploads.install()
        settings.apply()
        _ready.set()


def warm_up_in_background(delay: float = 0.3) -> threading.Thread | None:
    """Once per server process, `delay` s after the call: `prepare_pages` and fill the caches the
    pages' first runs need (`ui.caches.warm_up`), in a background thread.

    The home page calls it last, once its elements are sent: the short delay leaves the browser
    drawing them before the imports take the interpreter, and the warm-up (about 4 s of one core)
    is done by the time a visitor has read the page and picked a link.
    AE_WARM_UP=0 turns it off (the tests, which load what they need themselves).
    Returns the thread it started, else None.
    """
    if _warm_up_started.is_set() or os.environ.get("AE_WARM_UP", "1") == "0":
        return None
    _warm_up_started.set()

    def warm_up() -> None:
        # Streamlit warns that this thread runs no script, once per cached call; it is meant not to.
        quiet = logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context")
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        try:
            prepare_pages()
            from ui import caches

            caches.warm_up()
        finally:
            quiet.setLevel(level)

    timer = threading.Timer(delay, warm_up)
    timer.daemon = True
    timer.start()
    return timer
