"""README's promises, tested through the path the pages take: shared maps, a warm-up that no
first click races, and URL state declared once per widget."""

import ast
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core import latent
from tests.pages import open_app_page
from ui import caches, pages

PROJECT = Path(__file__).resolve().parents[1]


# --- one computation per map, through ui.caches.latent_map (what the Latent space page calls) -----------

def test_sessions_asking_for_one_uncached_map_at_once_share_one_computation(tmp_path, monkeypatch):
    monkeypatch.setenv("AE_EMBEDDING_DIR", str(tmp_path))
    computed = []
    real = latent.compute_map

    def slow_compute(*args, **kwargs):
        computed.append(1)
        time.sleep(0.5)  # long enough for every session to ask while it runs
        return real(*args, **kwargs)

    monkeypatch.setattr(latent, "compute_map", slow_compute)
    points, perplexity = 600, 13.0  # a map nothing ships or caches
    maps, errors = [], []

    def session():
        try:
            maps.append(caches.latent_map(latent.PIXELS, "pca", points, perplexity))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=session) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors and len(maps) == 4
    assert computed == [1]  # one computation for four sessions
    assert all(m.coords.shape == (points, 2) for m in maps)
    assert len(list(tmp_path.glob("*.npz"))) == 1  # kept once on disk


def test_a_map_that_cannot_be_saved_is_shown_with_a_sentence(tmp_path, monkeypatch):
    folder = tmp_path / "not-a-folder"
    folder.write_text("a file where the map folder should be")
    monkeypatch.setenv("AE_EMBEDDING_DIR", str(folder))
    found = latent.get_map(latent.PIXELS, None, None, caches.test_digits("mnist"), "pca", 500, 30.0)
    assert found.coords.shape == (500, 2) and found.unsaved and "/" not in found.unsaved


# --- the warm-up and a first click at the same moment ----------------------------------------------------

RACE = """
import os, sys
os.environ["AE_WARM_UP"] = "1"
from streamlit.testing.v1 import AppTest
from ui import startup
at = AppTest.from_file({app!r}, default_timeout=120)
at.run()  # the home page starts the warm-up thread
startup._warm_up_started.clear()
warm_up = startup.warm_up_in_background(delay=0.0)  # and the warm-up is under way as the page is opened
at.switch_page({page!r})
at.run()
assert not at.exception, [e.value for e in at.exception]
warm_up.join(120)  # a process must not end under a thread running torch
print("ok")
"""


@pytest.mark.parametrize("page", [page.path for page in pages.PAGES])
def test_opening_any_page_while_the_warm_up_runs_raises_nothing(page):
    """Each run is a fresh process: the imports that raced happen once per process."""
    env = {**os.environ, "AE_WARM_UP": "1", "PYTHONPATH": str(PROJECT)}
    done = subprocess.run([sys.executable, "-c", RACE.format(app=str(PROJECT / "app.py"), page=page)],
                          cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]


# --- URL state: declared once, on the widget ---------------------------------------------------------------

def test_views_bind_widgets_to_the_url_only_through_their_page_links():
    """`**link.bind(key)` gives a widget its key and its place in the URL at once, so no bound widget can
    be missing from what the page checks; a literal bind= would bypass it."""
    for path in [*(PROJECT / "views").glob("*.py"), *(PROJECT / "ui").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                literal = [k for k in node.keywords if k.arg == "bind" and isinstance(k.value, ast.Constant)]
                assert not literal or path.name == "links.py", f"{path.name}:{node.lineno} binds {literal[0].value.value!r}"


@pytest.mark.parametrize("page, query, key", [
    (pages.RECONSTRUCTION, {"rec_count": "999"}, "rec_count"),
    (pages.RECONSTRUCTION, {"rec_tab": "Nope"}, "rec_tab"),
    (pages.DENOISING, {"den_tab": "Nope"}, "den_tab"),
    (pages.ANOMALY, {"an_your_digit": "Nope"}, "an_your_digit"),
    (pages.GENERATE, {"gen_tab": "Interpolate", "gen_interp_steps": "999"}, "gen_interp_steps"),
    (pages.LATENT_SPACE, {"lat_points": "7"}, "lat_points"),
])
def test_a_link_value_a_bound_widget_cannot_show_gets_the_note(page, query, key):
    at = open_app_page(page, query_params=query)
    notes = [info.value for info in at.info if "This link asked for" in info.value]
    assert notes and f"`{key}=" in notes[0], [i.value for i in at.info]
