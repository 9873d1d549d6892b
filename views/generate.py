"""Generate: decode digits from VAE latent spaces: a latent grid, live sliders, conditional
digits, interpolation and random samples."""

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from components import latent_pad
from core import generate, inference, latent
from core.images import data_url, tile, to_png
from ui import caches, glossary, links, widgets

st.set_page_config(page_title="Generate · Autoencoder Lab", layout="wide")

PRIOR_LIMIT = 3.0  # sliders for 16-D and 8-D codes reach 3 standard deviations of the prior
SAMPLERS = ("vae", "vae2")  # unconditional VAEs for interpolation and sampling
SPACING_NAMES = {"linear": "even steps", "quantile": "normal quantiles"}
TABS = ["Latent grid", "Live sliders", "Pick a digit", "Interpolate", "Sample"]
FIRST_DIGIT = 3  # the digit the live controls start from
BADGE_DIAMETER = 0.16  # a digit badge on the 2-D pad, as a share of the span (latent_pad.js: radius 0.8 / 22 of the pad)
# At 390 px the five tab names do not fit on one line: let them wrap instead of scrolling out of sight.
# The square grid and scatter take their height from their width (their plotly charts stretch to
# it), so a phone's narrow column has no empty band below them; the scatter's legend sits on top.
TAB_STYLE = """<style>.st-key-gen_tab [role="tablist"] { flex-wrap: wrap; row-gap: .25rem; }
.st-key-gen_grid { aspect-ratio: 1 / 1; height: auto; }
.st-key-gen_scatter { aspect-ratio: 10 / 11; height: auto; }
</style>"""


link = links.PageLinks()
st.title("Generate")
st.markdown(
    "A variational autoencoder's decoder turns any point of its latent space into a digit. "
    "Walk a grid over a 2-D latent space, drag sliders and watch the digit morph (the decoder "
    "runs in your browser), ask the conditional VAE for a digit, interpolate between two digits, "
    "and sample new ones."
)
glossary.note(("latent space", "2-D for vae2 (the grid and the pad), 16-D for vae (the sliders), 8-D for cvae"))
digits = caches.test_digits("mnist")


def grid_figure(png: bytes, values: np.ndarray) -> go.Figure:
    """The n x n decoded grid (one PNG, 28 px a cell) as a picture, its axes labelled with the codes of the cells."""
    n = len(values)
    every = max(1, n // 8)
    centres = [28 * i + 13.5 for i in range(0, n, every)]
    return go.Figure(go.Image(source=data_url(png)), layout=dict(  # one constructor call: the cheapest to build
        xaxis=dict(tickvals=centres, ticktext=[f"{v:.1f}" for v in values[::every]], title=dict(text="z0")),
        yaxis=dict(tickvals=centres, ticktext=[f"{v:.1f}" for v in values[::-1][::every]], title=dict(text="z1"),
                   constrain="domain", constraintoward="top"),
        margin=dict(l=10, r=10, t=10, b=10)))


def scatter_figure(codes: np.ndarray, labels: np.ndarray, reach: float) -> go.Figure:
    """Test digits' latent means coloured by digit, over the grid's square of latent space."""
    traces = [go.Scattergl(x=codes[labels == d, 0], y=codes[labels == d, 1], mode="markers", name=str(d),
                           marker=dict(size=3, color=widgets.DIGIT_COLORS[d], opacity=0.6)) for d in range(10)]
    return go.Figure(traces, layout=dict(
        xaxis=dict(range=[-reach, reach], title=dict(text="z0"), constrain="domain"),
        yaxis=dict(range=[-reach, reach], title=dict(text="z1"), scaleanchor="x", constrain="domain",
                   constraintoward="top"),
        margin=dict(l=10, r=10, t=10, b=10),
        legend=dict(title=dict(text="digit"), orientation="h", x=0, y=1.0, yanchor="bottom")))


def animation_figure(paths: dict[str, np.ndarray]) -> go.Figure:
    """An animation that walks every path at once, one panel per interpolation method."""
    frames = np.stack(list(paths.values()), axis=1)  # (steps, methods, 28, 28)
    fig = px.imshow(frames, animation_frame=0, facet_col=1, binary_string=True,
                    labels={"animation_frame": "step"})
    for annotation, method in zip(fig.layout.annotations, paths):
        annotation.text = method
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    fig.layout.updatemenus[0].buttons[0].args[1]["frame"]["duration"] = 120
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=30, b=10))
    return fig


def randomise(key: str, size: int, limit: float) -> None:
    """Widget callback: a fresh code from the prior for pad `key`."""
    seed = st.session_state.get(f"{key}_seed", 0) + 1
    st.session_state[f"{key}_seed"] = seed
    latent_pad.set_latent(key, generate.prior_samples(size, 1, seed=seed)[0], limit)


def pad_buttons(key: str, size: int, limit: float, centroids: np.ndarray | None = None) -> None:
    """Buttons that set pad `key` from Python: a digit's centroid, a random code, zero."""
    with st.container(horizontal=True, vertical_alignment="bottom"):
        if centroids is not None:
            digit = st.selectbox("Digit", range(10), index=FIRST_DIGIT, **link.bind(f"{key}_digit"), width=110)
            st.button(f"Jump to the centroid of the {digit}s", key=f"{key}_centroid",
                      on_click=latent_pad.set_latent, args=(key, centroids[digit], limit))
        st.button("Randomise", key=f"{key}_random", on_click=randomise, args=(key, size, limit))
        st.button("Reset to 0", key=f"{key}_reset", on_click=latent_pad.set_latent, args=(key, np.zeros(size), limit))


def plain_controls(key: str, model, z: np.ndarray, limit: float, label: int | None = None) -> None:
    """The plain-slider fallback: the server decodes the code when a slider is released."""
    with st.expander("Plain sliders: update on release (use these if the live controls do not load)"):
        image_cell, slider_cell = st.columns([1, 5])
        widgets.show_png(to_png(inference.decode(model, z, label), scale=4), image_cell, caption="decoded on the server")
        with slider_cell:
            latent_pad.plain_sliders(key, limit)


def start_code(key: str, size: int, limit: float, default: np.ndarray) -> np.ndarray:
    """The code pad `key` starts from: a link's (KEY_z in the URL), else `default`, with a note
    when the link's code does not fit this latent space."""
    try:
        code = latent_pad.url_code(key, size, limit)
    except ValueError as exc:
        st.info(f"This link's code for this digit is not {exc}; it starts from the default instead.",
                icon=":material/link_off:")
        code = None
    return default if code is None else code


def sample_seed() -> int:
    """The prior samples' seed, kept in the URL (gen_sample_seed) so a link shows the same samples."""
    seed = st.query_params.get("gen_sample_seed", "0")
    return int(seed) if seed.isdigit() and len(seed) < 10 else 0


def new_samples() -> None:
    """Widget callback: the next seed for the prior samples."""
    st.query_params["gen_sample_seed"] = str(sample_seed() + 1)


@st.fragment
def live_controls(name: str, key: str, mode: str, limit: float) -> None:
    """Live sliders (mode "sliders") or a 2-D pad ("pad") for an unconditional VAE, with its buttons."""
    model = caches.load_model(name)[0]
    centroids = generate.class_centroids(caches.encoded_test_digits(name), digits.labels)
    size = model.code_shape[0]
    if f"{key}_z" not in st.session_state:  # a link's code, else the digit preselected below, never z = 0
        latent_pad.set_latent(key, start_code(key, size, limit, centroids[st.session_state.get(f"{key}_digit", FIRST_DIGIT)]),
                              limit)
    z = latent_pad.current_latent(key, size, limit)
    latent_pad.keep_code_in_url(key)
    marks = None
    if mode == "pad":
        badges = generate.spread_marks(centroids, BADGE_DIAMETER * limit)
        marks = [(float(x), float(y), str(d), widgets.DIGIT_COLORS[d], float(bx), float(by))
                 for d, ((x, y), (bx, by)) in enumerate(zip(centroids, badges))]
    latent_pad.live_pad(key, caches.browser_decoder(name)[0], mode, limit, marks=marks)
    pad_buttons(key, size, limit, centroids)
    plain_controls(key, model, z, limit)


@st.fragment
def conditional_controls(classifier) -> None:
    """The conditional VAE: a digit picker, live style sliders, and what the classifier reads."""
    model = caches.load_model("cvae")[0]
    key, size = "gen_cvae", model.code_shape[0]
    digit = st.segmented_control("Digit", range(10), default=7, required=True, **link.bind("gen_cvae_digit"))
    if f"{key}_z" not in st.session_state:
        latent_pad.set_latent(key, start_code(key, size, PRIOR_LIMIT, np.zeros(size)), PRIOR_LIMIT)
    z = latent_pad.current_latent(key, size, PRIOR_LIMIT)
    latent_pad.keep_code_in_url(key)
    latent_pad.live_pad(key, caches.browser_decoder("cvae")[0], "sliders", PRIOR_LIMIT, label=digit)
    pad_buttons(key, size, PRIOR_LIMIT)
    if classifier is not None:
        probabilities = inference.classify(classifier, inference.decode(model, z, digit))[0]
        read = int(probabilities.argmax())
        st.progress(float(probabilities[digit]),
                    text=f"The classifier is **{probabilities[digit]:.0%}** sure this is a {digit}"
                         + ("" if read == digit else f"; it reads a {read} ({probabilities[read]:.0%})")
                         + " (updated when you let go of a slider).")
    same_style = inference.decode(model, np.repeat(z[None], 10, axis=0), np.arange(10))
    widgets.digit_row(same_style, "The same style code, every digit")
    plain_controls(key, model, z, PRIOR_LIMIT, label=digit)


link.note_here()
st.html(TAB_STYLE)
grid_tab, live_tab, conditional_tab, interpolate_tab, sample_tab = st.tabs(TABS, **link.bind("gen_tab"))
# The square of vae2's latent space is set in the sidebar, shown only on the two tabs it acts on;
# bound to the URL, its values outlast a visit to another tab and travel with a link.
if grid_tab.open or live_tab.open:
    with st.sidebar:
        st.header("2-D latent space")
        if grid_tab.open:
            grid_size = st.slider("Digits per side", 5, 30, 15, **link.bind("gen_grid_size"))
        span = st.slider("Span: z from −span to +span", 1.0, 4.0, 3.0, 0.25, **link.bind("gen_span"))
        if grid_tab.open:
            spacing = st.radio("Spacing", latent.GRID_SPACINGS, format_func=SPACING_NAMES.get, **link.bind("gen_spacing"),
                               help="Normal quantiles put more digits near the centre, where most codes fall "
                                    "(the Keras VAE example's grid).")
        st.caption("The latent grid and the 2-D pad cover this square of vae2's latent space.")

if grid_tab.open:
    with grid_tab:
        if widgets.model_or_reason("vae2") is not None:  # else the reason is shown
            with st.spinner("Decoding the grid…"):
                png = caches.latent_grid_png("vae2", grid_size, span, scale=1, spacing=spacing)
            values = latent.grid_values(grid_size, span, spacing)
            half_cell = span / max(grid_size - 1, 1)
            grid_cell, scatter_cell = st.columns(2)
            grid_cell.markdown("**vae2 decodes an even grid of codes**" if spacing == "linear"
                               else "**vae2 decodes a grid of codes at normal quantiles**")
            scatter_cell.markdown(f"**Where the {len(digits):,} test digits' codes fall**")
            # no toolbar: on a phone plotly's floats over the grid's top row, and a picture needs no zoom box
            grid_cell.plotly_chart(grid_figure(png, values), key="gen_grid", height="stretch",
                                   config={"displayModeBar": False})
            reach = span + half_cell
            codes_figure = caches.cached_figure("vae2 codes", lambda: scatter_figure(
                caches.encoded_test_digits("vae2"), digits.labels, reach), reach, models=("vae2",))
            scatter_cell.plotly_chart(codes_figure, key="gen_scatter", height="stretch")
            st.caption("Each cell decodes the code at its axis values; high z1 is at the top, as in the "
                       "scatter, so a digit's cloud sits where the grid draws that digit. "
                       + ("With normal-quantile spacing the cells are closer together near 0 than the "
                          "scatter's even axis." if spacing == "quantile" else ""))
            widgets.source_caption(digits.source)

if live_tab.open:
    with live_tab:
        st.markdown("Drag a slider or the point on the pad: your browser decodes the digit on every "
                    "movement, with the decoder's weights sent once from the checkpoint.")
        st.subheader("vae: a 16-D latent space")
        if widgets.model_or_reason("vae") is not None:
            latent_pad.send_decoder(*caches.browser_decoder("vae"))
            live_controls("vae", "gen_vae", "sliders", PRIOR_LIMIT)
        st.subheader("vae2: a pad over the 2-D latent space")
        if widgets.model_or_reason("vae2") is not None:
            latent_pad.send_decoder(*caches.browser_decoder("vae2"))
            st.caption("Numbers mark where each digit's test codes are centred; where two centres lie closer than "
                       "a badge, the badges are pushed apart, with a line to the centre.")
            live_controls("vae2", "gen_vae2", "pad", span)

if conditional_tab.open:
    with conditional_tab:
        st.markdown("The conditional VAE is told which digit to draw; its 8 latent values only hold "
                    "the style: slant, width, stroke.")
        if widgets.model_or_reason("cvae") is not None:
            latent_pad.send_decoder(*caches.browser_decoder("cvae"))
            conditional_controls(widgets.model_or_reason("classifier"))

if interpolate_tab.open:
    with interpolate_tab:
        model_cell, ends_cell = st.columns(2)
        name = model_cell.selectbox("Model", SAMPLERS, **link.bind("gen_interp_model"))
        ends = ends_cell.radio("Between", ["two test digits", "two digit classes"], horizontal=True,
                               **link.bind("gen_interp_ends"))
        model = widgets.model_or_reason(name)
        if model is not None:
            codes = caches.encoded_test_digits(name)
            first_cell, second_cell, steps_cell = st.columns(3)
            if ends == "two test digits":
                last = len(digits) - 1
                first, second = caches.interpolation_pair(name, "digits")
                a = first_cell.number_input("From test digit no.", 0, last, first, **link.bind(f"gen_interp_a_{name}"))
                b = second_cell.number_input("To test digit no.", 0, last, second, **link.bind(f"gen_interp_b_{name}"))
                start, end = codes[a], codes[b]
                widgets.digit_row(digits.images[[a, b]] / 255.0, "The two test digits")
            else:
                centroids = generate.class_centroids(codes, digits.labels)
                first, second = caches.interpolation_pair(name, "classes")
                a = first_cell.selectbox("From the centroid of", range(10), index=first, **link.bind(f"gen_interp_class_a_{name}"))
                b = second_cell.selectbox("To the centroid of", range(10), index=second, **link.bind(f"gen_interp_class_b_{name}"))
                start, end = centroids[a], centroids[b]
            steps = steps_cell.slider("Steps", 5, 20, 10, **link.bind("gen_interp_steps"))
            paths = {method: inference.decode(model, latent.interpolate(start, end, steps, method))
                     for method in ("linear", "spherical")}
            widgets.digit_row(paths["linear"], "Linear: a straight line between the two codes")
            widgets.digit_row(paths["spherical"], "Spherical: along the great circle (slerp), keeping the "
                                             "codes' length typical of the prior")
            angle = np.degrees(np.arccos(np.clip(np.dot(start, end) / (np.linalg.norm(start) * np.linalg.norm(end) + 1e-12),
                                                 -1, 1)))
            st.caption(f"The two paths' digits differ by {np.abs(paths['linear'] - paths['spherical']).mean():.3f} of "
                       f"full ink per pixel on average; the codes are {angle:.0f}° apart, and the further apart, "
                       "the more the straight line cuts through the low-norm middle that slerp goes around.")
            st.markdown("**Both paths as an animation** (press ▶)")
            st.plotly_chart(animation_figure(paths), key="gen_interp_animation")

if sample_tab.open:
    with sample_tab:
        model_cell, temperature_cell, side_cell = st.columns(3)
        name = model_cell.selectbox("Model", SAMPLERS, **link.bind("gen_sample_model"))
        temperature = temperature_cell.slider(
            "Temperature", 0.1, 2.0, 1.0, 0.1, **link.bind("gen_temperature"),
            help="Scales the spread of the codes drawn from the prior. At 1 they spread as the VAE learnt. "
                 "Below 1 they crowd round the centre of the latent space, where this VAE decodes one blurred, "
                 "average shape: at 0.1 nearly every sample is that blob. Above 1 the samples vary more. The "
                 "caption under the samples counts how many the classifier can read.")
        side = side_cell.slider("Digits per side", 4, 12, 8, **link.bind("gen_sample_side"))
        st.button("New samples", key="gen_sample_new", on_click=new_samples)
        model = widgets.model_or_reason(name)
        if model is not None:
            z = generate.prior_samples(model.code_shape[0], side * side, temperature,
                                       seed=sample_seed())
            samples = inference.decode(model, z)
            widgets.show_png(to_png(tile(samples.reshape(side, side, 28, 28), pad=2), scale=2))
            classifier = widgets.model_or_reason("classifier")
            if classifier is not None:
                sure = inference.classify(classifier, samples).max(axis=1) >= 0.9
                st.caption(f"The classifier is at least 90% sure which digit {sure.sum()} of the "
                           f"{len(samples)} samples show: the share of recognisable digits at temperature "
                           f"{temperature:g}.")

link.finish()
