"""AppTest: the Latent space page draws its maps, answers its controls, and measures each map."""

import base64
import errno
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(autouse=True)
def map_cache(tmp_path, monkeypatch):
    """Maps the page computes go to a temporary folder, not the user's cache."""
    monkeypatch.setenv("AE_EMBEDDING_DIR", str(tmp_path / "maps"))


def open_page(**state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=600)
    at.run()
    at.switch_page("pages/3_Latent_Space.py")
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception[0].value
    return at


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


def test_default_map_is_a_tsne_of_ten_thousand_digits_with_its_quality_numbers():
    at = open_page()
    main = charts(at)[0]
    assert [trace["name"] for trace in main["data"]] == [str(d) for d in range(10)]  # legend toggles digits
    assert sum(len(x) for x in main_chart_points(at)) == 10_000
    assert len(charts(at)) == 4  # the main map and raw pixels vs ae2 vs ae20
    labels = [m.label for m in at.metric]
    assert labels.count("5-NN accuracy") == 4 and labels.count("Trustworthiness") == 4
    for metric in at.metric:
        value = float(metric.value.rstrip("%")) / (100 if metric.value.endswith("%") else 1)
        assert 0.0 <= value <= 1.0


def test_changing_the_space_or_the_method_changes_the_map():
    at = open_page(lat_method="pca")
    pca_of_ae20 = main_chart_points(at)
    at.selectbox(key="lat_space").set_value("pixels").run()
    assert not at.exception
    pca_of_pixels = main_chart_points(at)
    assert not same(pca_of_pixels, pca_of_ae20)
    at.radio(key="lat_method").set_value("tsne").run()
    assert not at.exception
    assert not same(main_chart_points(at), pca_of_pixels)
    assert at.subheader[0].value == "t-SNE of raw pixels"


def test_fewer_points_are_computed_and_shown(tmp_path):
    at = open_page(lat_method="pca", lat_points=2000)
    assert sum(len(x) for x in main_chart_points(at)) == 2000
    assert list((tmp_path / "maps").glob("ae20-pca-2000-*.npz"))  # kept for the next visitor


def test_without_checkpoints_the_pixel_map_still_shows_and_models_are_explained(checkpoint_dir):
    at = open_page(lat_method="pca")
    assert at.selectbox(key="lat_space").options == ["raw pixels"]
    assert len(charts(at)) == 2  # the main map and the pixels' comparison map
    errors = " ".join(e.value for e in at.error)
    assert "no checkpoint 'ae2'" in errors and "no checkpoint 'ae20'" in errors


def test_a_map_that_cannot_be_kept_on_a_full_disk_is_shown_all_the_same(tmp_path, monkeypatch):
    from core import files

    def disk_full(*args):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path))

    monkeypatch.setattr(files.os, "fsync", disk_full)
    at = open_page(lat_method="pca", lat_points=3000)
    assert sum(len(x) for x in main_chart_points(at)) == 3000
    expected = "The computed map could not be saved: the server's disk is full. It is shown all the same"
    assert any(w.value.startswith(expected) for w in at.warning), [w.value for w in at.warning]
    assert not [p for p in (tmp_path / "maps").rglob("*") if p.is_file()]  # no half-written map
