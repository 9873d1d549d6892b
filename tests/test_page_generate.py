"""The Generate page under AppTest: every tab renders, Python-side buttons and plain sliders set
the live pads' codes, the conditional VAE is scored, and a missing checkpoint is explained."""

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import checkpoints, data, generate, inference
from tests.pages import open_app_page

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "views/generate.py"
TABS = ["Latent grid", "Live sliders", "Pick a digit", "Interpolate", "Sample"]


def open_generate(tab: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page(PAGE)
    at.session_state["gen_tab"] = tab
    at.run()
    assert not at.exception, at.exception
    return at


def slider_values(at: AppTest, key: str, size: int) -> list[float]:
    return [at.slider(key=f"{key}_slider{i}").value for i in range(size)]


@pytest.mark.parametrize("tab", TABS)
def test_every_tab_renders_without_errors(tab):
    at = open_generate(tab)
    assert not at.error, [e.value for e in at.error]


def test_grid_tab_draws_the_grid_beside_the_scatter():
    at = open_generate("Latent grid")
    assert len(at.get("plotly_chart")) == 2
    at.sidebar.slider(key="gen_grid_size").set_value(7).run()
    at.sidebar.radio(key="gen_spacing").set_value("quantile").run()
    assert not at.exception
    assert any("normal quantiles" in m.value for m in at.markdown)


def test_the_live_digit_starts_from_the_preselected_digit_not_zero():
    at = open_generate("Live sliders")
    model, _ = checkpoints.load("vae")
    test = data.load("mnist", "test")
    centroid = generate.class_centroids(inference.encode(model, test.images), test.labels)[at.selectbox(key="gen_vae_digit").value]
    np.testing.assert_allclose(at.session_state["gen_vae_z"], np.clip(centroid, -3, 3), atol=0.006)


def test_buttons_set_the_code_and_the_plain_sliders_follow():
    at = open_generate("Live sliders")
    revision = at.session_state["gen_vae_revision"]

    at.button(key="gen_vae_random").click().run()
    z = at.session_state["gen_vae_z"]
    assert any(v != 0 for v in z) and max(abs(v) for v in z) <= 3.0
    assert at.session_state["gen_vae_revision"] == revision + 1  # the browser pad takes the new code
    assert slider_values(at, "gen_vae", 16) == z

    at.button(key="gen_vae_reset").click().run()
    assert at.session_state["gen_vae_z"] == [0.0] * 16 == slider_values(at, "gen_vae", 16)


def test_jump_to_a_digits_centroid():
    at = open_generate("Live sliders")
    at.selectbox(key="gen_vae2_digit").set_value(0).run()
    at.button(key="gen_vae2_centroid").click().run()
    model, _ = checkpoints.load("vae2")
    test = data.load("mnist", "test")
    centroid = generate.class_centroids(inference.encode(model, test.images), test.labels)[0]
    span = at.session_state["gen_span"]
    np.testing.assert_allclose(at.session_state["gen_vae2_z"], np.clip(centroid, -span, span), atol=0.006)


def test_a_plain_slider_moves_the_code_and_a_smaller_span_keeps_it_inside():
    at = open_generate("Live sliders")
    at.slider(key="gen_vae2_slider0").set_value(2.5).run()
    assert at.session_state["gen_vae2_z"][0] == 2.5
    at.sidebar.slider(key="gen_span").set_value(1.5).run()  # the sidebar's span acts on the pad
    assert not at.exception
    assert at.session_state["gen_vae2_z"][0] == 1.5 == at.slider(key="gen_vae2_slider0").value


def test_conditional_vae_is_scored_by_the_classifier():
    at = open_generate("Pick a digit")
    assert "sure this is a 7" in at.get("progress")[0].proto.text
    at.button_group(key="gen_cvae_digit").set_value(3).run()
    assert "sure this is a 3" in at.get("progress")[0].proto.text
    assert any("every digit" in m.value for m in at.markdown)


def test_interpolation_between_digit_classes():
    at = open_generate("Interpolate")
    at.radio(key="gen_interp_ends").set_value("two digit classes").run()
    at.selectbox(key="gen_interp_class_a_vae").set_value(4).run()
    at.selectbox(key="gen_interp_model").set_value("vae2").run()
    assert not at.exception
    headings = " ".join(m.value for m in at.markdown)
    assert "Linear" in headings and "Spherical" in headings


def test_the_sidebar_holds_the_grid_controls_only_on_the_tabs_they_act_on():
    assert {s.key for s in open_generate("Latent grid").sidebar.slider} == {"gen_grid_size", "gen_span"}
    assert {s.key for s in open_generate("Live sliders").sidebar.slider} == {"gen_span"}
    for tab in ("Pick a digit", "Interpolate", "Sample"):
        assert not open_generate(tab).sidebar.slider, tab


def test_interpolation_starts_from_a_pair_whose_paths_differ():
    at = open_generate("Interpolate")
    a, b = at.number_input(key="gen_interp_a_vae").value, at.number_input(key="gen_interp_b_vae").value
    model, _ = checkpoints.load("vae")
    test = data.load("mnist", "test")
    codes = inference.encode(model, test.images[[a, b]])
    firsts = [int(np.argmax(test.labels == c)) for c in range(10)]
    others = inference.encode(model, test.images[firsts])
    shown = generate.path_difference(model, codes[0], codes[1])
    assert shown == pytest.approx(max(generate.path_difference(model, others[i], others[j])
                                      for i in range(10) for j in range(i + 1, 10)), rel=1e-5)
    assert shown > 2 * generate.path_difference(model, others[1], others[7])  # the old first pair, 1 -> 7
    assert any("differ by" in c.value for c in at.caption)


def test_digit_badges_on_the_pad_do_not_overlap():
    points = np.array([[0.78, -0.43], [0.79, -0.28], [-0.49, 0.11], [-0.49, 0.22], [-0.72, 0.04], [0.0, 0.0], [0.0, 0.0]])
    placed = generate.spread_marks(points, 0.48)
    distances = np.linalg.norm(placed[:, None] - placed[None], axis=-1)[np.triu_indices(len(points), 1)]
    assert distances.min() >= 0.48 - 1e-9
    assert np.abs(placed - points).max() < 0.5  # each badge stays near its centre


def test_new_samples_draws_a_new_seed():
    at = open_generate("Sample")
    before = at.get("image")[0].proto.imgs[0].url
    at.button(key="gen_sample_new").click().run()
    assert at.query_params["gen_sample_seed"] == "1"  # in the link
    assert at.get("image")[0].proto.imgs[0].url != before
    assert any("samples show" in caption.value for caption in at.caption)


def test_a_missing_checkpoint_is_explained_not_raised(checkpoint_dir):
    at = open_generate("Live sliders")
    assert at.error and "vae" in at.error[0].value


def test_a_link_reproduces_the_live_code_and_the_samples():
    z = [round(0.1 * i - 0.8, 2) for i in range(16)]
    at = open_app_page(PAGE, query_params={"gen_tab": "Live sliders", "gen_vae_z": ",".join(map(str, z)),
                                           "gen_vae2_digit": "8"})
    assert at.session_state["gen_vae_z"] == z
    assert at.selectbox(key="gen_vae2_digit").value == 8
    assert not at.info
    at = open_app_page(PAGE, query_params={"gen_tab": "Sample", "gen_sample_seed": "4", "gen_temperature": "0.5"})
    assert at.slider(key="gen_temperature").value == 0.5
    first = at.get("image")[0].proto.imgs[0].url
    assert open_app_page(PAGE, query_params={"gen_tab": "Sample", "gen_sample_seed": "4",
                                             "gen_temperature": "0.5"}).get("image")[0].proto.imgs[0].url == first


def test_a_link_that_does_not_fit_falls_back_with_a_note():
    at = open_app_page(PAGE, query_params={"gen_tab": "Live sliders", "gen_vae_z": "1,2,oops", "gen_span": "9"})
    assert not at.error
    notes = " ".join(i.value for i in at.info)
    assert "16 numbers from -3 to 3" in notes and "`gen_span=9`" in notes
    assert at.session_state["gen_span"] == 3.0


def test_the_temperature_help_says_what_the_samples_show():
    """Below 1 the samples collapse to one blurred shape: the help says so, and the caption's count agrees."""
    import re

    counts = {}
    for temperature in ("0.1", "1.0"):
        at = open_app_page(PAGE, query_params={"gen_tab": "Sample", "gen_temperature": temperature})
        caption = next(c.value for c in at.caption if "samples show" in c.value)
        counts[temperature] = int(re.search(r"which digit (\d+) of", caption).group(1))
    assert counts["0.1"] < counts["1.0"] / 3
    help_text = at.slider(key="gen_temperature").help
    assert "blob" in help_text and "typical" not in help_text
