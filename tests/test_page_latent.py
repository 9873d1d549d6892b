"""AppTest: the Latent space page draws its maps, answers its controls, and measures each map.

The interactive map (components/latent_map) is the default; "Plain chart" gives the plotly maps
that stand in where the component cannot load."""

import base64
import errno
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import data, latent_view

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(autouse=True)
def map_cache(tmp_path, monkeypatch):
    """Maps the page computes go to a temporary folder, not the user's cache."""
    monkeypatch.setenv("AE_EMBEDDING_DIR", str(tmp_path / "maps"))


def open_page(**state) -> AppTest:
    """The page after its first run; lat_plain=True for the plotly maps."""
    at = AppTest.from_file(APP, default_timeout=600)
    at.run()
    at.switch_page("views/latent_space.py")
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception[0].value
    return at


def map_views(at) -> list[dict]:
    """The data of each interactive map view, in page order."""
    return [json.loads(e.proto.json) for e in at.get("bidi_component")
            if e.proto.component_name == "latent_map" and e.proto.json]


def bundles(at) -> dict[str, tuple[dict, bytes]]:
    """The bundles the page mounted for its map views, by id: (header, whole payload)."""
    found = {}
    for e in at.get("bidi_component"):
        if e.proto.component_name == "latent_map" and e.proto.bytes:
            header, _ = latent_view.read_bundle(e.proto.bytes)
            found[header["id"]] = (header, e.proto.bytes)
    return found


def charts(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def values(array) -> np.ndarray:
    """A plotly JSON array: a list, or a typed array {"dtype", "bdata" (base64)}."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    return np.asarray(array)


def main_chart_points(at) -> list[np.ndarray]:
    """The main map's x coordinates, one array per digit trace."""
    return [values(trace["x"]) for trace in charts(at)[0]["data"]]


def same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_plain_chart_is_a_tsne_of_ten_thousand_digits_with_its_quality_numbers():
    at = open_page(lat_plain=True)
    main = charts(at)[0]
    assert [trace["name"] for trace in main["data"]] == [str(d) for d in range(10)]  # legend toggles digits
    assert sum(len(x) for x in main_chart_points(at)) == 10_000
    assert len(charts(at)) == 4  # the main map and raw pixels vs ae2 vs ae20
    labels = [m.label for m in at.metric]
    assert labels.count("5-NN accuracy") == 4 and labels.count("Trustworthiness") == 4
    for metric in at.metric:
        value = float(metric.value.rstrip("%")) / (100 if metric.value.endswith("%") else 1)
        assert 0.0 <= value <= 1.0


def test_changing_the_space_or_the_method_changes_the_plain_chart():
    at = open_page(lat_method="PCA", lat_plain=True)
    pca_of_ae20 = main_chart_points(at)
    at.selectbox(key="lat_space").set_value("pixels").run()
    assert not at.exception
    pca_of_pixels = main_chart_points(at)
    assert not same(pca_of_pixels, pca_of_ae20)
    at.radio(key="lat_method").set_value("t-SNE").run()
    assert not at.exception
    assert not same(main_chart_points(at), pca_of_pixels)
    assert at.subheader[0].value == "t-SNE of raw pixels"


def test_fewer_points_are_computed_and_shown(tmp_path):
    at = open_page(lat_method="PCA", lat_points=2000, lat_plain=True)
    assert sum(len(x) for x in main_chart_points(at)) == 2000
    assert list((tmp_path / "maps").glob("ae20-pca-2000-*.npz"))  # kept for the next visitor


def test_without_checkpoints_the_pixel_map_still_shows_and_models_are_explained(checkpoint_dir):
    at = open_page(lat_method="PCA", lat_plain=True)
    assert at.selectbox(key="lat_space").options == ["raw pixels"]
    assert len(charts(at)) == 2  # the main map and the pixels' comparison map
    errors = " ".join(e.value for e in at.error)
    assert "no checkpoint 'ae2'" in errors and "no checkpoint 'ae20'" in errors


def test_a_map_that_cannot_be_kept_on_a_full_disk_is_shown_all_the_same(tmp_path, monkeypatch):
    from core import files

    def disk_full(*args):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path))

    monkeypatch.setattr(files.os, "fsync", disk_full)
    at = open_page(lat_plain=True, lat_method="PCA", lat_points=3000)
    assert sum(len(x) for x in main_chart_points(at)) == 3000
    expected = "The computed map could not be saved: the server's disk is full. It is shown all the same"
    assert any(w.value.startswith(expected) for w in at.warning), [w.value for w in at.warning]
    assert not [p for p in (tmp_path / "maps").rglob("*") if p.is_file()]  # no half-written map


# --- the interactive map -------------------------------------------------------------------------

def test_default_map_is_drawn_in_the_browser_from_bundles_sent_once():
    at = open_page()
    assert not charts(at)  # no plotly map: the component draws them
    views = map_views(at)
    # the main map, the seeds' comparison, and two more linked spaces
    assert [v["name"] for v in views] == ["ae20-tsne", "pixels-tsne", "ae2-tsne", "ae20-tsne", "conv-tsne", "vae-tsne"]
    main = views[0]
    assert main["report"] and not any(v["report"] for v in views[1:])  # one view sends selections
    assert len({v["group"] for v in views}) == 1  # all linked
    sent = bundles(at)
    assert {v["map"] for v in views} | {main["sprites"], main["rebuilt"]} == set(sent)  # each bundle once
    digits = data.load("mnist", "test")
    header = sent[main["sprites"]][0]
    assert header["kind"] == "sprites" and header["count"] == len(digits) == 10_000
    coords, indices, labels = latent_view.read_map_bundle(sent[main["map"]][1])
    assert len(coords) == 10_000 and np.array_equal(labels, digits.labels[indices])
    assert len(sent[main["map"]][1]) < 80_000  # 7 bytes a point
    labels = [m.label for m in at.metric]
    assert labels.count("5-NN accuracy") == 6 and labels.count("Trustworthiness") == 6
    assert "Hover a dot" in " ".join(i.value for i in at.info)


def test_more_linked_maps_are_chosen_from_the_other_spaces():
    at = open_page()
    chooser = at.multiselect(key="lat_more")
    assert "ae20" not in chooser.options and "pixels" not in chooser.options  # shown already
    chooser.set_value(["deep"]).run()
    assert not at.exception
    assert [v["name"] for v in map_views(at)][4:] == ["deep-tsne"]


def test_a_rerun_names_the_same_bundles_so_the_browser_reuses_them():
    at = open_page()
    first = {i: p for i, (_, p) in bundles(at).items()}
    at.run()
    assert not at.exception
    assert {i: p for i, (_, p) in bundles(at).items()} == first


def test_switching_the_method_sends_another_map_and_keeps_the_sprites():
    at = open_page()
    before = map_views(at)[0]
    at.radio(key="lat_method").set_value("PCA").run()
    assert not at.exception
    after = map_views(at)[0]
    assert after["name"] == "ae20-pca" and after["map"] != before["map"] and after["sprites"] == before["sprites"]


def test_raw_pixels_have_no_rebuilds_to_show():
    at = open_page(lat_space="pixels")
    assert map_views(at)[0]["rebuilt"] is None


def test_a_held_selection_is_shown_with_its_counts_and_sent_back_to_the_map():
    digits = data.load("mnist", "test")
    chosen = [int(i) for i in np.flatnonzero(digits.labels == 4)[:50]] + [int(np.flatnonzero(digits.labels == 9)[0])]
    at = open_page()
    at.session_state["lat_selection"] = {"map": ["ae20", "tsne", 10_000, 30], "indices": chosen, "revision": 7}
    at.run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
    assert "51 digits selected" in text and "4: 50 · 9: 1" in text
    assert map_views(at)[0]["selected"] == {"indices": chosen, "revision": 7}


def test_a_selection_of_another_map_is_dropped_when_the_map_changes():
    at = open_page()
    at.session_state["lat_selection"] = {"map": ["ae20", "tsne", 10_000, 30], "indices": [1, 2], "revision": 3}
    at.radio(key="lat_method").set_value("PCA").run()
    assert map_views(at)[0]["selected"]["indices"] == []



def test_without_components_v2_the_plain_chart_stands_in_and_says_why(monkeypatch):
    from components import latent_map as map_component

    monkeypatch.setattr(map_component, "available", lambda: False)
    at = open_page()
    assert not map_views(at) and not bundles(at)
    assert sum(len(x) for x in main_chart_points(at)) == 10_000
    assert any("needs Streamlit's components v2" in c.value for c in at.caption)


def test_a_link_opens_the_space_method_and_linked_maps_it_names_and_a_bad_value_falls_back_with_a_note():
    from tests.pages import open_app_page

    at = open_app_page("views/latent_space.py", timeout=600,
                       query_params={"lat_space": "conv", "lat_method": "PCA", "lat_more": ["deep", "vae"]})
    assert at.selectbox(key="lat_space").value == "conv" and at.radio(key="lat_method").value == "PCA"
    names = [v["name"] for v in map_views(at)]
    assert names[0] == "conv-pca" and names[4:] == ["deep-pca", "vae-pca"]
    assert not [i for i in at.info if "link" in i.value]
    at = open_app_page("views/latent_space.py", timeout=600, query_params={"lat_space": "nonsense"})
    assert at.selectbox(key="lat_space").value == "ae20"
    assert any("`lat_space=nonsense`" in i.value for i in at.info)
