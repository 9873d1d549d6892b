"""Nothing one anonymous client sends can exhaust the server or show it (issue 27): an oversized widget
message, links with values no widget can take, link-chosen map settings, files planted where
checkpoints and thumbnails are listed, and what an exception page shows.

Each test goes through the app's own path: a real server spoken to with Streamlit's websocket
protocol (bench/load_probe.py's client), or AppTest through app.py.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import tomllib
from pathlib import Path

import pytest
import websockets
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest

from bench.load_probe import PAGES, PageCheck, Session, run_sync
from core import browser_values, catalogue, checkpoints, data, latent
from tests.app_server import start_server, stop_server
from tests.pages import open_app_page
from ui import widgets

PROJECT = Path(__file__).resolve().parents[1]
APP = str(PROJECT / "app.py")
CONFIG = tomllib.loads((PROJECT / ".streamlit" / "config.toml").read_text())
RUN_BOUND = 30.0  # seconds one run may take on a loaded 2-core machine
MESSAGE_TOO_BIG = 1009  # RFC 6455: the server closes a connection whose message is over its limit
SERVER_PATHS = ("/work/", "site-packages", str(PROJECT))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on a free loopback port; any map a test's values might compute goes to a temporary folder."""
    process, url = start_server({"AE_EMBEDDING_DIR": str(tmp_path_factory.mktemp("embeddings"))})
    yield url
    stop_server(process)


def json_state(widget_id: str, text: str) -> WidgetState:
    return WidgetState(id=widget_id, json_value=text)


async def open_view(session: Session, page: str, query: str = ""):
    await session.open("")  # the home page tells the client every page's script hash
    return await session.open(page, query_string=query, check=PageCheck(PAGES[page].title, ()))


def shown_text(at: AppTest) -> str:
    """Every text a page shows: alerts, markdown, captions, exceptions."""
    parts = [e.value for kind in ("markdown", "caption", "info", "warning", "error", "success", "title")
             for e in getattr(at, kind)]
    parts += [f"{e.message} {' '.join(e.stack_trace)}" for e in at.exception]
    return "\n".join(map(str, parts))


# --- 1: one widget message of many megabytes ------------------------------------------------------

def test_the_widget_message_limit_leaves_room_for_the_largest_honest_value_only():
    limit = CONFIG["server"]["maxWidgetStateSize"] * 1e6  # bytes, as Streamlit reads the option
    assert browser_values.MAX_CANVAS_URL + 100_000 < limit <= 4e6


def test_a_10mb_widget_message_closes_its_connection_and_an_honest_session_keeps_running(server):
    async def attack():
        async with Session(server, run_timeout=RUN_BOUND) as honest, Session(server, run_timeout=RUN_BOUND) as hostile:
            await open_view(honest, "Reconstruction")
            opened = await open_view(hostile, "Generate", "gen_tab=Live+sliders")
            pad = opened.widget("gen_vae_live")
            code = json.dumps({"z": {"values": [0.5] * 1_000}, "padding": "A" * 10_000_000})  # 10 MB of JSON
            hostile.widgets[pad.id] = json_state(pad.id, code)
            started = time.perf_counter()
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await hostile.rerun("a 10 MB widget value")
            refused_in = time.perf_counter() - started
            honest_runs = [await honest.rerun("rerun") for _ in range(3)]
            return closed.value, refused_in, honest_runs

    closed, refused_in, honest_runs = run_sync(attack())
    assert closed.rcvd is not None and closed.rcvd.code == MESSAGE_TOO_BIG, closed
    assert refused_in < RUN_BOUND
    for run in honest_runs:
        run.check(PAGES["Reconstruction"])
        assert run.seconds < RUN_BOUND


def test_a_latent_code_of_a_400_digit_number_is_ignored(server):
    async def forge():
        async with Session(server, run_timeout=RUN_BOUND) as session:
            opened = await open_view(session, "Generate", "gen_tab=Live+sliders")
            pad = opened.widget("gen_vae_live")
            start = json.loads(pad.json)["z"]
            session.widgets[pad.id] = json_state(pad.id, json.dumps({"z": {"values": [10**400] + [0] * 15}}))
            return start, [await session.rerun("a 400-digit code"), await session.rerun("rerun")]

    start, runs = run_sync(forge())
    for run in runs:
        assert not run.of("exception"), [e.message for e in run.of("exception")]
        assert json.loads(run.widget("gen_vae_live").json)["z"] == start  # the forged code was ignored


# --- 7: links whose values no widget can take, and what an exception page shows --------------------------

LINKS = [  # (page, query parameters, the keys the note must name, {widget key: the default it shows})
    ("views/generate.py", {"gen_tab": "Interpolate", "gen_interp_a_vae": "inf"}, ["gen_interp_a_vae"], {}),
    ("views/generate.py", {"gen_tab": "Interpolate", "gen_interp_a_vae": "1e400"}, ["gen_interp_a_vae"], {}),
    ("views/generate.py", {"gen_tab": "Interpolate", "gen_interp_model": "vae2", "gen_interp_b_vae2": "-inf"},
     ["gen_interp_b_vae2"], {}),
    ("views/generate.py", {"gen_tab": "Pick a digit", "gen_cvae_digit": ""}, ["gen_cvae_digit"], {"gen_cvae_digit": 7}),
    ("views/generate.py", {"gen_tab": "Latent grid", "gen_span": "nan", "gen_grid_size": "inf"},
     ["gen_span", "gen_grid_size"], {"gen_span": 3.0, "gen_grid_size": 15}),
    ("views/generate.py", {"gen_tab": "Sample", "gen_temperature": "-1e400"}, ["gen_temperature"],
     {"gen_temperature": 1.0}),
    ("views/reconstruction.py", {"rec_count": "1e400"}, ["rec_count"], {"rec_count": 10}),
]


@pytest.mark.parametrize("page, query, refused, defaults", LINKS, ids=[str(q) for _, q, _, _ in LINKS])
def test_a_link_value_no_widget_can_take_falls_back_to_the_default_with_a_note(page, query, refused, defaults):
    at = open_app_page(page, query_params=query)  # fails on an exception
    notes = " ".join(i.value for i in at.info if "This link asked for" in i.value)
    for key in refused:
        assert f"`{key}=" in notes, notes
    for key, default in defaults.items():
        assert at.session_state[key] == default


def test_the_interpolation_ends_given_by_a_link_are_used():
    at = open_app_page("views/generate.py", query_params={"gen_tab": "Interpolate", "gen_interp_a_vae": "12"})
    assert at.number_input(key="gen_interp_a_vae").value == 12
    assert not [i for i in at.info if "This link asked for" in i.value]


def test_an_exception_page_shows_no_server_path(monkeypatch):
    assert CONFIG["client"]["showErrorDetails"] == "none"
    from streamlit import config

    assert config.get_option("client.showErrorDetails") == "none"  # the project's config is the one in force
    secret = str(PROJECT / "checkpoints" / "secret.safetensors")

    def broken(*args, **kwargs):
        raise OSError(5, "Input/output error", secret)

    monkeypatch.setattr(catalogue, "cards", broken)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert at.exception  # the forced failure reached the page
    text = shown_text(at)
    assert not [path for path in SERVER_PATHS if path in text], text
    assert "OSError" not in text and "Input/output" not in text


# --- 8: the maps a link can ask for -----------------------------------------------------------------

@pytest.fixture
def map_computations(tmp_path, monkeypatch):
    """Maps computed while the test runs, as (space, method, points, perplexity); each computed as a quick PCA."""
    monkeypatch.setenv("AE_EMBEDDING_DIR", str(tmp_path / "maps"))
    computed = []
    compute = latent.compute_map

    def record(model, digits, method="tsne", points=latent.DEFAULT_POINTS, perplexity=latent.DEFAULT_PERPLEXITY,
               progress=None):
        computed.append((method, points, perplexity))
        return compute(model, digits, "pca", points, perplexity, progress)

    monkeypatch.setattr(latent, "compute_map", record)
    return computed


@pytest.mark.parametrize("perplexity", ["37", "\uff19", "1_0", "30.0000001", "inf"])
def test_a_perplexity_the_slider_does_not_offer_computes_nothing_and_gets_a_note(map_computations, perplexity):
    at = open_app_page("views/latent_space.py", timeout=600,
                       query_params={"lat_perplexity": perplexity, "lat_plain": "true"})
    assert map_computations == []
    assert at.session_state["lat_perplexity"] == 30
    assert any(f"`lat_perplexity={perplexity}`" in i.value for i in at.info), [i.value for i in at.info]


def test_a_perplexity_the_slider_offers_is_computed_once(map_computations):
    query = {"lat_perplexity": "35", "lat_plain": "true", "lat_space": "raw pixels", "lat_points": "1,000"}
    at = open_app_page("views/latent_space.py", timeout=600, query_params=query)
    assert at.session_state["lat_perplexity"] == 35
    assert not [i for i in at.info if "This link asked for" in i.value]
    open_app_page("views/latent_space.py", timeout=600, query_params=query)
    assert map_computations == [("tsne", 1_000, 35)]  # the second visitor is served from the cache


def test_the_maps_kept_in_memory_are_bounded_and_the_latest_used_stay():
    from ui import caches

    kept = caches._RecentMaps(size=3)
    maps = {f"map-{i}": object() for i in range(5)}
    for name in ("map-0", "map-1", "map-2"):
        kept.put(name, maps[name])
    assert kept.get("map-0") is maps["map-0"]  # used: now the most recent
    kept.put("map-3", maps["map-3"])
    kept.put("map-4", maps["map-4"])
    assert len(kept) == 3
    assert kept.get("map-1") is None and kept.get("map-2") is None
    assert all(kept.get(n) is maps[n] for n in ("map-0", "map-3", "map-4"))
    assert caches._latent_maps().size == caches.MAPS_IN_MEMORY <= 64


def test_the_maps_kept_on_disk_are_bounded_and_the_shipped_ones_untouched(tmp_path, monkeypatch):
    folder = tmp_path / "maps"
    monkeypatch.setenv("AE_EMBEDDING_DIR", str(folder))
    monkeypatch.setattr(latent, "MAPS_ON_DISK", 2)
    shipped = sorted((p.name, p.stat().st_mtime_ns) for p in latent.SHIPPED_MAP_DIR.iterdir())
    digits = data.load("mnist", "test")
    for points in (100, 200, 300):
        latent.get_map(latent.PIXELS, None, None, digits, "pca", points)
        time.sleep(0.01)  # distinct modification times
    kept = sorted(p.name for p in folder.iterdir())
    assert len(kept) == 2 and not [n for n in kept if "-100-" in n]  # the oldest went
    assert sorted((p.name, p.stat().st_mtime_ns) for p in latent.SHIPPED_MAP_DIR.iterdir()) == shipped


# --- 9: files planted where checkpoints and thumbnails are listed ------------------------------------------

@pytest.fixture
def planted(tmp_path, monkeypatch):
    """A copy of the shipped checkpoints and thumbnails, with a FIFO and a symlink loop under checkpoint
    names in the checkpoint folder and the visitors' folder, and FIFOs in place of thumbnails."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for path in (PROJECT / "checkpoints").glob(f"*{checkpoints.SUFFIX}"):
        shutil.copy2(path, folder / path.name)
    shutil.copytree(PROJECT / "checkpoints" / catalogue.THUMBNAIL_FOLDER, folder / catalogue.THUMBNAIL_FOLDER)
    visitors = folder / "visitors"
    visitors.mkdir()
    for where in (folder, visitors):
        os.mkfifo(where / f"fifo{checkpoints.SUFFIX}")
        os.symlink(where / f"loop{checkpoints.SUFFIX}", where / f"loop{checkpoints.SUFFIX}")
    (folder / f"tied{checkpoints.SUFFIX}").unlink()
    os.mkfifo(folder / f"tied{checkpoints.SUFFIX}")  # a shipped model's name
    thumbnails = folder / catalogue.THUMBNAIL_FOLDER
    for name in [catalogue.TEST_ROW_FILE, *[p.name for p in thumbnails.glob("dense-*.json")]]:
        (thumbnails / name).unlink()
        os.mkfifo(thumbnails / name)
    monkeypatch.setenv("AE_CHECKPOINT_DIR", str(folder))
    monkeypatch.delenv("AE_VISITOR_DIR", raising=False)
    return folder


@pytest.mark.parametrize("page", ["app.py", "views/train.py"])
def test_a_fifo_or_a_symlink_loop_under_a_checkpoint_name_is_never_opened(planted, page):
    started = time.perf_counter()
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    if page != "app.py":
        at.switch_page(page)
        at.run()
    seconds = time.perf_counter() - started
    assert not at.exception, at.exception[0].message
    text = shown_text(at)
    assert str(planted) not in text and "/tmp/" not in text, text
    assert "fifo" not in text and "loop" not in text  # never listed, so never offered as a model
    assert seconds < 60
    if page == "app.py":
        assert "**dense**" in text or "dense" in text  # the real checkpoints still have their cards


def test_only_regular_files_are_listed_or_read(planted):
    names = checkpoints.list_checkpoints()
    assert "fifo" not in names and "loop" not in names and "tied" not in names
    assert checkpoints.status("tied").state in ("missing", "corrupt")
    assert catalogue.test_row() is None
    assert [card.name for card in catalogue.cards() if card.name in ("fifo", "loop")] == []
    with pytest.raises(OSError, match="not a regular file"):
        catalogue.open_regular(planted / f"fifo{checkpoints.SUFFIX}")


# --- 11: a long typed-indices link, and the map method by the name people read --------------------------

def test_a_rec_indices_link_over_400_characters_falls_back_with_a_note():
    text = ", ".join(str(i) for i in range(200))
    assert len(text) > browser_values.MAX_INDEX_TEXT
    at = open_app_page("views/reconstruction.py", query_params={"rec_mode": "By test index", "rec_indices": text})
    assert [t.value for t in at.title] == ["Reconstruction"] and not at.error  # not stopped
    assert any("`rec_indices=0, 1, 2" in i.value for i in at.info)
    assert "**Originals (test digits 0, 1, 2, 3, 4, 7, 11, 18, 61, 84)**" in [m.value for m in at.markdown]  # the default


def test_a_typed_index_list_that_is_wrong_still_says_why():
    at = open_app_page("views/reconstruction.py", query_params={"rec_mode": "By test index"})
    at.text_input(key="rec_indices").set_value("1, 2, x").run()
    assert [e.value for e in at.error] == ["`x` is not a whole number: test indices must be whole numbers separated by "
                                           "commas, such as 3, 14, 159."]


def test_typed_indices_name_the_ones_that_are_wrong():
    at = open_app_page("views/reconstruction.py", query_params={"rec_mode": "By test index"})
    at.text_input(key="rec_indices").set_value("1, 2, 99999, abc").run()
    assert [e.value for e in at.error] == ["`abc` is not a whole number: test indices must be whole numbers separated "
                                           "by commas, such as 3, 14, 159."]
    at.text_input(key="rec_indices").set_value("1, 2, 99999").run()
    assert [e.value for e in at.error] == ["`99999` is past the last test digit: pick test indices from 0 to 9,999."]
    assert not at.info  # typed here, not a link


@pytest.mark.parametrize("name", ["t-SNE", "PCA"])
def test_the_map_method_link_takes_the_name_people_read(name):
    at = open_app_page("views/latent_space.py", timeout=600, query_params={"lat_method": name, "lat_plain": "true"})
    assert at.radio(key="lat_method").value == name
    assert at.subheader[0].value == f"{name} of {widgets.describe('ae20')}"
    assert not [i for i in at.info if "This link asked for" in i.value]
