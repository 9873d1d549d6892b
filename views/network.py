"""Inside the network: a digit (a test digit, or drawn or uploaded) through a model's layers, drawn from the
model's own modules, and for a VAE its posterior, samples from it and the two terms of its loss."""

import functools
import html

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from components import layer_diagram
from core import activations, images, inference, metrics
from ui import caches, glossary, links, widgets

st.set_page_config(page_title="Inside the network · Autoencoder Lab", layout="wide")

DEFAULT_MODEL = "conv"
MOST_MAPS = 4         # feature maps drawn per layer in the diagram; the layer's details show more
DETAIL_MAPS = 32
CELL = 2              # px per activation in the diagram: a 28x28 map is 56 px, a 7x7 one 14 px
DENSE_HEIGHT = 232    # px of the widest dense layer: the others are drawn to its scale
SHORTEST = 10         # px: a narrow dense layer stays visible
CODE_CELL = 12        # px per code number, up to CODE_HEIGHT: the code is what the diagram is about
CODE_HEIGHT = 120
BACKGROUND_CODES = 2000  # test digits drawn faintly behind the posterior
SAMPLES = 6
PART_COLOURS = {"input": "#666", "encoder": "#2166ac", "code": "#cc5500", "decoder": "#1b7837", "output": "#666"}
BARS_STYLE = """<style>
.net-bar { display: flex; align-items: center; gap: 8px; margin: 4px 0; font-size: 14px; }
.net-bar span.fill { display: inline-block; height: 18px; border-radius: 3px; }
</style>"""


def layer_label(layer: activations.Layer) -> str:
    shape = " x ".join(map(str, layer.out_shape))
    return f"{layer.name} · {layer.kind} · {shape}"


def diagram_html(layers: list[activations.Layer]) -> str:
    """The layers in a row, each its activations for this digit drawn to scale, the code outlined; each
    layer a button (`data-layer`, its name) that components.layer_diagram turns into a pick."""
    widest = max((layer.units for layer in layers if layer.values.ndim == 1), default=1)
    columns = []
    for layer in layers:
        picture, left_out = activations.layer_picture(layer, MOST_MAPS)
        rows, cols = picture.shape
        png = activations.picture_png(picture, pixels=layer.part in ("input", "output"))
        if layer.values.ndim == 1:
            height = layer.units * DENSE_HEIGHT / widest
            if layer.part == "code":
                height = max(height, min(layer.units * CODE_CELL, CODE_HEIGHT))
            size = f"height:{max(height, SHORTEST):.0f}px;width:14px"
        else:
            size = f"height:{rows * CELL}px;width:{cols * CELL}px"
        more = f"<br>+{left_out} maps" if left_out else ""
        shape = " x ".join(map(str, layer.out_shape))
        classes = "net-col" + (" net-code" if layer.part == "code" else "")
        columns.append(
            f'<button type="button" class="{classes}" data-layer="{html.escape(layer.name)}" '
            f'title="{html.escape(layer.name)}: click for its details">'
            f'<img src="{images.data_url(png)}" style="{size}" alt="{html.escape(layer.name)} activations">'
            f'<span class="net-label" style="color:{PART_COLOURS[layer.part]}">{html.escape(layer.kind)}'
            f'<br><b>{shape}</b>{more}</span></button>')
    return '<div class="net-diagram">' + '<span class="net-arrow">›</span>'.join(columns) + "</div>"


def follow_diagram(names: list[str]) -> None:
    """A layer picked on the diagram (before the rerun): the layer picker below follows it."""
    name = layer_diagram.picked("net_diagram", names)
    if name is not None:
        st.session_state["net_layer"] = name


def loss_bars_html(post: activations.Posterior) -> str:
    """The negative ELBO's two terms as bars on one scale, and their sum."""
    total = post.negative_elbo
    rows = [("Reconstruction", post.recon_nats, "#1b7837"), ("KL", post.kl_nats, "#cc5500"),
            ("Negative ELBO", total, "#444")]
    bars = "".join(f'<div class="net-bar"><span style="width:8.5em">{name}</span>'
                   f'<span class="fill" style="width:{max(value / total, 0.005) * 60:.1f}%;background:{fill}"></span>'
                   f"<b>{value:.1f} nats</b></div>" for name, value, fill in rows)
    return f'{BARS_STYLE}<div class="net-loss" data-nats="{total:.6f}">{bars}</div>'


def plane_figure(post: activations.Posterior, background: str, background_reach: float) -> go.Figure:
    """The latent plane: test digits' codes faint (one picture, `background` over +-`background_reach`),
    the posterior's 1- and 2-sigma ellipses, its mean and samples. A handful of SVG markers: it redraws
    within a stroke's budget where 2,000 WebGL markers did not."""
    traces = [go.Scatter(x=[None], y=[None], mode="markers", name=str(d), hoverinfo="skip",
                         marker=dict(size=6, color=widgets.DIGIT_COLORS[d])) for d in range(10)]  # legend keys
    for sigmas, dash in ((2, "dot"), (1, "solid")):
        outline = activations.ellipse(post.mean, post.spread, sigmas)
        traces.append(go.Scatter(x=outline[:, 0], y=outline[:, 1], mode="lines", name=f"{sigmas} sigma",
                                 line=dict(color="#222", width=2, dash=dash), hoverinfo="skip"))
    traces.append(go.Scatter(x=post.samples[:, 0], y=post.samples[:, 1], mode="markers", name="samples",
                             marker=dict(size=9, color="#cc5500", symbol="x"),
                             hovertemplate="sample (%{x:.2f}, %{y:.2f})<extra></extra>"))
    traces.append(go.Scatter(x=[post.mean[0]], y=[post.mean[1]], mode="markers", name="mean",
                             marker=dict(size=11, color="#cc5500", line=dict(color="white", width=1)),
                             hovertemplate="mean (%{x:.2f}, %{y:.2f})<extra></extra>"))
    reach = max(4.0, float(np.abs(post.mean).max() + 2.5 * post.spread.max()))
    return go.Figure(traces, layout=dict(
        height=420, margin=dict(l=10, r=10, t=10, b=10), showlegend=True,
        legend=dict(orientation="h", y=1.02, yanchor="bottom", font=dict(size=10)),
        images=[dict(source=background, xref="x", yref="y", x=-background_reach, y=background_reach,
                     sizex=2 * background_reach, sizey=2 * background_reach, sizing="stretch", layer="below")],
        xaxis=dict(range=[-reach, reach], title=dict(text="z0"), constrain="domain"),
        yaxis=dict(range=[-reach, reach], title=dict(text="z1"), scaleanchor="x", constrain="domain")))


def dimensions_figure(post: activations.Posterior) -> go.Figure:
    """Each code dimension's mean with its spread (+-1 sigma), over the prior N(0, 1)'s band."""
    dims = np.arange(len(post.mean))
    fig = go.Figure([
        go.Scatter(x=dims, y=post.mean, mode="markers", name="mean +- 1 sigma (your digit)",
                   marker=dict(size=9, color="#cc5500"), error_y=dict(type="data", array=post.spread, width=4),
                   customdata=np.stack([post.spread, post.kl_per_dimension], 1),
                   hovertemplate="z%{x}: mean %{y:.2f}, sigma %{customdata[0]:.2f}, KL %{customdata[1]:.2f} nats"
                                 "<extra></extra>"),
    ])
    fig.add_hrect(y0=-1, y1=1, fillcolor="#888", opacity=0.15, line_width=0)
    fig.add_hline(y=0, line_color="#888", line_width=1)
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=30, b=10), showlegend=False,
                      xaxis=dict(title=dict(text="code dimension"), tickmode="linear", dtick=1),
                      yaxis=dict(title=dict(text="value"), range=[-4, 4]),
                      title=dict(text="grey band: the prior N(0, 1), mean 0 and sigma 1", font=dict(size=12)))
    return fig


@st.fragment
def through_the_network(name: str, model, meta: dict, test, link: links.PageLinks) -> None:
    """The digit (a test digit, drawn or uploaded) and all that is drawn from it: a fragment, so that a
    stroke reruns this part of the page only. Link to this view reads the address bar when opened, so
    what changes here is in it too."""
    # --- the digit ---------------------------------------------------------------------------------
    left, right = st.columns([2, 3])
    with left:
        tab_test, tab_draw, tab_upload = st.tabs(["Test digit", "Draw", "Upload"], **link.bind("net_source"),
                                                 on_change="rerun")
        digit, label, origin = None, None, ""
        if tab_test.open:
            with tab_test:
                index = st.number_input("Test digit number", 0, len(test) - 1, 0, **link.bind("net_index"),
                                        help=f"Any of MNIST's {len(test):,} test digits, 0 to {len(test) - 1:,}")
                digit, label = test.images[int(index)] / 255.0, int(test.labels[int(index)])
                origin = f"test digit {int(index):,} (a {label})"
        given = widgets.your_digit("net", tabs=(tab_upload, tab_draw),
                                   draw_hint="Draw a digit, big, in the middle of the box: the layers below follow "
                                             "each stroke.")
        for item in given:
            for note in item.digit.notes:
                item.tab.warning(note)
            digit, origin = item.digit.image, item.name
        if digit is None:
            (tab_draw if tab_draw.open else tab_upload).caption("Your digit's way through the network appears as soon "
                                                                "as you lift your finger or give a file.")

    if digit is None:
        return

    if model.is_conditional and label is None:  # a drawing or an upload: the conditional VAE is told what it reads
        classifier = widgets.model_or_reason("classifier", optional=True)
        if classifier is not None:
            read, sure = inference.read_digits(classifier, digit)
            label = int(read[0])
            origin += f" (read as a {label}, {sure[0]:.0%} sure, which {name} is told)"
        else:
            label = 0
            origin += f" ({name} is told it is a 0: the classifier that would read it is missing)"

    layers = activations.trace(model, digit, label)
    by_name = {layer.name: layer for layer in layers}
    code, output = by_name["code"], layers[-1]
    with right:
        st.markdown(f"**{widgets.describe(name)}**: {meta['parameters']:,} learnt numbers in {len(layers) - 3} layers. "
                    f"It squeezes the 784 pixels of {origin} into **{code.units:,} numbers** and rebuilds it:")
        pair = np.concatenate([digit.reshape(28, 28), np.ones((28, 2)), output.values.reshape(28, 28)], 1)
        widgets.show_png(images.to_png(pair, scale=4), caption="yours (left) and the rebuild (right)", width=232)
        bce = float(metrics.bce_per_pixel(output.values, digit.reshape(1, 28, 28))[0])
        glossary.note(("code", f"{code.units:,} numbers for {name}"), ("BCE", f"{bce:.4f} per pixel for this rebuild"))

    # --- the network -------------------------------------------------------------------------------
    st.subheader("Your digit through the network")
    st.caption("Input → encoder (blue labels) → **code** (outlined) → decoder (green labels) → output. Conv layers show "
               f"their first {MOST_MAPS} feature maps, dense layers a strip of their numbers. Click or tap a layer (or pick it "
               "below) for what it does; on a phone, swipe the row.")
    names = [layer.name for layer in layers]
    current = st.session_state.get("net_layer", "code")
    layer_diagram.layer_row("net_diagram", diagram_html(layers), current if current in by_name else "code",
                            on_pick=functools.partial(follow_diagram, names))

    picked = st.selectbox("Look closer at a layer", names, index=names.index("code"), **link.bind("net_layer"),
                          format_func=lambda n: layer_label(by_name[n]))
    layer = by_name[picked]
    info, picture = st.columns([3, 2])
    with info:
        size = " x ".join(map(str, layer.out_shape))
        first, second = st.columns(2)
        first.metric("Size", f"{layer.units:,}", help=f"Its output for one digit: {size}")
        second.metric("Learnt numbers", f"{layer.parameters:,}")
        st.markdown(f"**{layer.kind}** ({layer.part}), output {size}. {layer.description}")
    with picture:
        grid, left_out = activations.layer_grid(layer, DETAIL_MAPS)
        scale = max(1, min(48, 240 // max(grid.shape)))  # about 240 px across
        png = activations.picture_png(grid, pixels=layer.part in ("input", "output"))
        st.html(f'<img src="{images.data_url(png)}" style="image-rendering:pixelated;max-width:100%;'
                f'width:{grid.shape[1] * scale}px" alt="{html.escape(layer.name)} activations">')
        values = layer.values
        st.caption(f"Values from {values.min():.2f} to {values.max():.2f}, {float((values > 0).mean()):.0%} above zero"
                   + (f"; the first {DETAIL_MAPS} of {values.shape[0]} maps" if left_out else "") + ".")

    # --- the VAE's parts ---------------------------------------------------------------------------
    if model.is_variational:
        st.subheader("The VAE's parts")
        post = activations.posterior(model, digit, label, samples=SAMPLES)
        st.markdown("A VAE's encoder does not give one code but a cloud of likely codes: a **mean** (where your digit "
                    "most likely sits) and a **spread** (how sure it is), one of each per code number. Training draws "
                    "a code from that cloud and asks the decoder to rebuild the digit from it.")
        plane, parts = st.columns([3, 2])
        with plane:
            if len(post.mean) == 2:
                background, background_reach = caches.codes_picture(name, BACKGROUND_CODES, widgets.DIGIT_COLORS)
                st.plotly_chart(plane_figure(post, background, background_reach), key="net_plane",
                                config={"displayModeBar": False})
                st.caption(f"Your digit's mean is ({post.mean[0]:.2f}, {post.mean[1]:.2f}) and its spread "
                           f"({post.spread[0]:.2f}, {post.spread[1]:.2f}): the solid ellipse is 1 sigma, the dotted one 2. "
                           f"Faint: the means of the first {BACKGROUND_CODES:,} test digits, coloured by digit.")
            else:
                st.plotly_chart(dimensions_figure(post), key="net_dimensions", config={"displayModeBar": False})
                quiet = np.flatnonzero(post.kl_per_dimension < 0.05)
                st.caption(f"Each of the {len(post.mean)} code numbers: your digit's mean and spread against the prior "
                           f"N(0, 1). {len(quiet)} of them ({', '.join(f'z{d}' for d in quiet[:8])}"
                           f"{', ...' if len(quiet) > 8 else ''}) cost under 0.05 nats of KL: there the encoder leaves "
                           "the code at the prior, so they carry nothing about this digit." if len(quiet) else
                           f"Each of the {len(post.mean)} code numbers: your digit's mean and spread against the prior "
                           f"N(0, 1). Every one costs KL here: each carries something about this digit.")
        with parts:
            st.markdown(f"**{SAMPLES} codes drawn from the cloud, decoded**")
            widgets.digit_row(post.decoded)
            st.markdown("**The loss for your digit**")
            st.html(loss_bars_html(post))
            st.markdown(f"**Reconstruction** ({post.recon_nats:.1f} nats) is what rebuilding your digit from a code drawn "
                        f"from the cloud costs: a tight cloud makes it cheaper. **KL** ({post.kl_nats:.1f} nats) is what "
                        "the cloud costs for differing from the prior N(0, 1): it pulls every cloud wide and towards the "
                        "centre, so that any code drawn from the prior decodes to a digit. Training lowers their sum, the "
                        f"negative ELBO ({post.negative_elbo:.1f} nats): a sharper rebuild traded against a latent space "
                        "without holes.")
            glossary.note(("nats", f"{post.recon_nats:.1f} + {post.kl_nats:.1f} nats"),
                          ("KL", f"{post.kl_nats:.1f} nats"), ("ELBO", f"{post.negative_elbo:.1f} nats"))


# --- sidebar -----------------------------------------------------------------------------------
link = links.PageLinks()
with st.sidebar:
    st.header("Inside the network")
    name = widgets.model_picker("Model", **link.bind("net_model"), default=DEFAULT_MODEL)

test = caches.test_digits("mnist")
st.title("Inside the network")
link.note_here()
st.markdown("An **autoencoder** squeezes a digit into a short code (the encoder) and rebuilds it from that "
            "code alone (the decoder). Below, your digit goes through the model you pick, one layer at a time: "
            "each box shows what that layer makes of it, drawn to scale, blue for negative values and orange "
            "for positive ones.")

model = widgets.model_or_reason(name, stop=True)
_, meta = caches.load_model(name)
through_the_network(name, model, meta, test, link)
link.finish()
