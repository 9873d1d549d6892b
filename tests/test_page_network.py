"""The Inside the network page and the Guided path under AppTest: the diagram has a box per layer of the
picked model, a layer's details are its own, a VAE's parts show its posterior and negative ELBO, and
every step of the guided path opens its page."""

import json
import re

import numpy as np
import pytest

from core import activations, checkpoints, data, inference
from tests.pages import open_app_page
from ui import guide

PAGE = "views/network.py"


def html_of(at) -> str:
    return " ".join(element.proto.body for element in at.get("html"))


def diagram_of(at) -> dict:
    """The data the layer diagram was drawn with: its row's HTML and the layer outlined."""
    (diagram,) = [json.loads(e.proto.json) for e in at.get("bidi_component") if "layer_diagram" in e.proto.component_name]
    return diagram


@pytest.fixture(scope="module")
def test_digits():
    return data.load("mnist", "test")


@pytest.mark.parametrize("name", ["conv", "deep", "tied", "vae2", "vae", "cvae"])
def test_the_diagram_has_a_box_per_layer_of_the_picked_model(name, test_digits):
    at = open_app_page(PAGE, query_params={"net_model": name, "net_index": "5"})
    assert not at.error, [e.value for e in at.error]
    model, _ = checkpoints.load(name)
    layers = activations.trace(model, test_digits.images[5], int(test_digits.labels[5]))
    diagram = diagram_of(at)["html"]
    assert diagram.count('class="net-col') == len(layers) and diagram.count("net-col net-code") == 1
    assert re.findall(r'data-layer="([^"]+)"', diagram) == [layer.name for layer in layers]  # each one clickable
    assert diagram_of(at)["current"] == "code"
    assert at.selectbox(key="net_layer").options == [f"{layer.name} · {layer.kind} · {' x '.join(map(str, layer.out_shape))}"
                                                     for layer in layers]
    assert at.selectbox(key="net_layer").value == "code"  # the code first: what the diagram is about


def test_picking_a_layer_shows_its_size_parameters_and_what_it_does(test_digits):
    at = open_app_page(PAGE, query_params={"net_model": "conv"})
    at.selectbox(key="net_layer").set_value("encoder.0").run()
    assert diagram_of(at)["current"] == "encoder.0"  # the diagram outlines the layer picked
    model, _ = checkpoints.load("conv")
    layer = {la.name: la for la in activations.trace(model, test_digits.images[0])}["encoder.0"]
    sizes = {metric.label: metric.value for metric in at.metric}
    assert sizes == {"Size": f"{layer.units:,}", "Learnt numbers": f"{layer.parameters:,}"}
    assert any(layer.description in m.value for m in at.markdown)


def test_the_vae2_plane_and_loss_bars_are_the_digits_posterior_and_negative_elbo(test_digits):
    at = open_app_page(PAGE, query_params={"net_model": "vae2", "net_index": "3"})
    model, _ = checkpoints.load("vae2")
    post = activations.posterior(model, test_digits.images[3])
    elbo = inference.negative_elbo(model, inference.as_batch(test_digits.images[3]))
    chart = at.get("plotly_chart")[0].proto.spec
    assert f"{post.mean[0]:.2f}, {post.mean[1]:.2f}" in " ".join(c.value for c in at.caption) and '"1 sigma"' in chart
    bars = [float(v) for v in re.findall(r"<b>([0-9.]+) nats</b>", html_of(at))]
    assert bars == [round(post.recon_nats, 1), round(post.kl_nats, 1), round(float(elbo["nelbo"][0]), 1)]
    assert any("trade" in m.value or "traded" in m.value for m in at.markdown)
    figure = json.loads(chart)
    mean = figure["data"][-1]
    assert mean["name"] == "mean" and np.allclose([mean["x"][0], mean["y"][0]], post.mean, atol=1e-5)
    (background,) = figure["layout"]["images"]  # 2,000 test codes as one picture, behind the ellipses
    assert background["source"].startswith("data:image/png;base64,") and background["layer"] == "below"


def test_the_16d_vae_shows_every_dimension_against_the_prior():
    at = open_app_page(PAGE, query_params={"net_model": "vae"})
    spec = at.get("plotly_chart")[0].proto.spec
    assert "prior N(0, 1)" in spec and "code dimension" in spec
    assert any("16 code numbers" in c.value for c in at.caption)


def test_the_draw_tab_waits_for_a_drawing_with_a_sentence():
    at = open_app_page(PAGE, query_params={"net_source": "Draw"})
    assert not at.error and not at.get("html")
    assert any("as soon as you lift" in c.value for c in at.caption)


def test_a_visitors_model_is_in_the_picker_and_drawn(checkpoint_dir):
    from core.registry import create_model
    from tests.visitor_models import save_visitor_model

    save_visitor_model("tiny-dense", create_model("dense", code_size=4), "dense")
    at = open_app_page(PAGE, query_params={"net_model": "tiny-dense"})
    assert at.sidebar.selectbox(key="net_model").value == "tiny-dense"
    assert "4 numbers" in " ".join(m.value for m in at.markdown) and diagram_of(at)["html"].count('class="net-col') == 5


@pytest.mark.parametrize("number", range(1, len(guide.STEPS) + 1))
def test_every_guided_path_link_opens_its_page(number):
    step = guide.STEPS[number - 1]
    at = open_app_page("views/guide.py", query_params={"guide_step": step.title})
    assert at.radio(key="guide_step").value == step.title
    at = open_app_page(step.page, query_params=step.query, timeout=180)  # the step's link, as its page_link opens it
    assert not at.error, [e.value for e in at.error]
    assert not [i for i in at.info if "This link asked for" in i.value]  # the page used every value of the link


def test_the_guided_path_resumes_and_leads_on_from_each_page():
    at = open_app_page("views/guide.py", query_params={"guide_step": guide.STEPS[2].title})
    at.button(key="guide_next").click().run()
    assert at.radio(key="guide_step").value == guide.STEPS[3].title and at.session_state[guide.AT_KEY] == 4
    at.switch_page(guide.STEPS[3].page).run(timeout=180)  # on the step's page, its sidebar says what to try, and what is next
    note = " ".join(m.value for m in at.sidebar.markdown)
    assert "step 4 of 8" in note and guide.STEPS[3].try_this in note
    at.switch_page("views/guide.py").run()  # back without a link: where the visitor left off
    assert at.radio(key="guide_step").value == guide.STEPS[3].title
    at.button(key="guide_skip").click().run()
    at.switch_page(guide.STEPS[3].page).run(timeout=180)
    assert not at.sidebar.get("flex_container") or "Guided path" not in " ".join(m.value for m in at.sidebar.markdown)


def test_every_term_has_a_plain_definition_with_the_figure_shown():
    from ui import glossary

    for term in ("BCE", "MSE", "nats", "ELBO", "KL", "PSNR", "SSIM", "ROC AUC", "t-SNE", "perplexity",
                 "trustworthiness", "k-NN accuracy"):
        text = glossary.explain(term, "12.3 units")
        assert "12.3 units" in text and f"**{term.lower().rstrip('s')}" in text.lower()
        assert 1 <= text.count(". ") + 1 <= 3  # one or two plain sentences, and the figure


@pytest.mark.parametrize("page, query, terms", [
    ("views/reconstruction.py", {}, ["**BCE** (binary cross-entropy)"]),
    ("views/reconstruction.py", {"rec_tab": "Compare models"}, ["**MSE** (mean squared error)"]),
    ("views/latent_space.py", {"lat_plain": "true"}, ["**t-SNE**", "**Perplexity**", "**Trustworthiness**",
                                                      "**k-NN accuracy**"]),
    ("views/anomaly.py", {}, ["**ROC AUC**", "A **nat**"]),
    ("views/generate.py", {}, ["**latent space**"]),
    (PAGE, {"net_model": "vae2"}, ["**code**", "**BCE**", "A **nat**", "**KL**", "**ELBO**"]),
])
def test_pages_explain_their_terms_where_they_show_them(page, query, terms):
    at = open_app_page(page, query_params=query)
    captions = " ".join(c.value for c in [*at.caption, *at.sidebar.caption])
    for term in terms:
        assert term in captions, term
