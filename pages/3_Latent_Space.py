"""Latent space: t-SNE and PCA maps of test digits in raw pixels and in autoencoders' codes, measured."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

import ui
from core import browser_values, images, latent
from core.latent import PIXELS

st.set_page_config(page_title="Latent space · Autoencoder Lab", page_icon="🗺️", layout="wide")

METHOD_NAMES = {"tsne": "t-SNE", "pca": "PCA"}
COMPARED = (PIXELS, "ae2", "ae20")  # the seed experiments' comparison: pixels vs a 2-D vs a 20-D code
COMPARE_SHOWN = 2_500  # dots drawn on each small map: the shape reads the same from a quarter of the data
POINT_CHOICES = list(range(1_000, latent.DEFAULT_POINTS + 1, 1_000))
SELECTION_SHOWN = 36  # digits drawn from a selection; the rest are counted
PANEL_COLUMNS = 6


def space_name(space: str) -> str:
    return "raw pixels" if space == PIXELS else ui.describe(space)


# --- sidebar ------------------------------------------------------------------------------
models = ui.available_models(("ae", "vae"))
spaces = [PIXELS] + [s for s in latent.SHIPPED_SPACES if s in models] + [s for s in models if s not in latent.SHIPPED_SPACES]
with st.sidebar:
    st.header("Latent space")
    space = st.selectbox("Space", spaces, index=spaces.index("ae20") if "ae20" in spaces else 0,
                         format_func=space_name, key="lat_space",
                         help="Raw pixels (784 numbers per digit) or the code an autoencoder squeezes each digit into.")
    method = st.radio("Method", latent.MAP_METHODS, format_func=METHOD_NAMES.get, key="lat_method", horizontal=True,
                      help="t-SNE keeps each digit's neighbours close (van der Maaten & Hinton 2008); "
                           "PCA shows the two directions in which the digits vary most.")
    points = st.select_slider("Points", POINT_CHOICES, value=latent.DEFAULT_POINTS, key="lat_points",
                              format_func="{:,}".format)
    perplexity = st.slider("Perplexity", 5, 50, int(latent.DEFAULT_PERPLEXITY), 5, key="lat_perplexity",
                           disabled=method != "tsne",
                           help="About how many neighbours t-SNE keeps around each digit.")
    st.caption(f"The shipped models' maps of {latent.DEFAULT_POINTS:,} digits at perplexity "
               f"{latent.DEFAULT_PERPLEXITY:g} are precomputed. Other settings are computed once "
               "(t-SNE of 10,000 digits takes 20 s or more) and kept for everyone.")

st.title("Latent space")
st.markdown(
    "Each dot is a test digit, placed so that digits the space finds alike land close together. "
    "In a good code the ten digits form separate islands. Click a dot, or draw a box or lasso around "
    "some (the chart's toolbar), to see those digits and how the model rebuilds them; click a digit "
    "in the legend to hide it."
)
digits = ui.test_digits("mnist")
ui.source_caption(digits.source)


def map_or_error(space: str, method: str, points: int, perplexity: float) -> latent.LatentMap | None:
    """The map of a space, or None after saying why it cannot be made."""
    try:
        return ui.latent_map(space, method, points, perplexity)
    except (FileNotFoundError, ValueError) as exc:
        ui.show_model_error(space, exc)
        return None


def map_figure(latent_map: latent.LatentMap, method: str, height: int, legend: bool = True,
               marker_size: float = 4, shown: int | None = None) -> go.Figure:
    """The map as one scatter trace per digit (so the legend toggles digits), square units.

    method: "tsne", "pca", or "code" for a 2-D code shown as it is.
    shown: draw only this many of the map's points, a fixed random sample (its points are in test split order).
    """
    drawn = np.ones(len(latent_map.labels), dtype=bool)
    if shown is not None and shown < len(drawn):
        drawn[:] = False
        drawn[np.random.default_rng(0).choice(len(drawn), shown, replace=False)] = True
    traces = []
    for d in range(10):
        keep = drawn & (latent_map.labels == d)
        traces.append(go.Scattergl(
            x=latent_map.coords[keep, 0], y=latent_map.coords[keep, 1], mode="markers", name=str(d),
            customdata=latent_map.indices[keep],  # the test split position of each point, for the hover
            marker=dict(size=marker_size, color=ui.DIGIT_COLORS[d], opacity=0.7),
            hovertemplate=f"digit {d}<br>test digit #%{{customdata}}<extra></extra>",
        ))
    axis_titles = {"pca": ("PC 1", "PC 2"), "code": ("z0", "z1")}.get(method, ("", ""))
    meaningful = method != "tsne"  # t-SNE's axes have no units worth reading
    style = dict(showticklabels=meaningful, showgrid=meaningful, zeroline=False, constrain="domain")
    # One constructor call: add_trace and update_* calls made building the figure 3x slower.
    return go.Figure(traces, layout=dict(
        xaxis=dict(title=dict(text=axis_titles[0]), **style),
        yaxis=dict(title=dict(text=axis_titles[1]), scaleanchor="x", scaleratio=1, **style),
        height=height, margin=dict(l=10, r=10, t=10, b=10), showlegend=legend,
        legend=dict(title=dict(text="digit"), itemsizing="constant", orientation="h", x=0, y=1.0, yanchor="bottom")))


def spaces_models(space: str) -> tuple[str, ...]:
    """The checkpoints a map of `space` depends on: none for raw pixels."""
    return () if space == PIXELS else (space,)


def shown_as(space: str, method: str) -> str:
    """How a map's axes read: PCA of a 2-D code is the code itself (`latent.pca_2d` keeps it)."""
    if method == "pca" and space != PIXELS and ui.load_model(space)[0].code_shape == (2,):
        return "code"
    return method


def quality_metrics(latent_map: latent.LatentMap) -> None:
    left, right = st.columns(2)
    left.metric(f"{latent.QUALITY_NEIGHBOURS}-NN accuracy", f"{latent_map.knn_accuracy:.1%}",
                help=f"How often a digit's {latent.QUALITY_NEIGHBOURS} nearest dots on the map are mostly the "
                     "same digit: are the digits kept apart?")
    right.metric("Trustworthiness", f"{latent_map.trustworthiness:.3f}",
                 help="Whether neighbours on the map are also neighbours in pixels (1 = all are; Venna & "
                      f"Kaski 2001), on {latent.TRUST_SAMPLE:,} of the dots: are neighbours kept together?")


def reconstructions(model, test_positions: np.ndarray) -> np.ndarray:
    """The model's rebuilds (N, 28, 28) of test digits."""
    labels = digits.labels[test_positions] if model.is_conditional else None
    return latent.decode(model, latent.encode(model, digits.images[test_positions], labels), labels)


def selection_panel(selected: list[int]) -> None:
    """The selected digits, their reconstructions in the chosen space's model, and what they are."""
    if not selected:
        st.info("Click a dot, or choose **Box Select** or **Lasso Select** in the chart's toolbar and "
                "draw around some dots: their digits and reconstructions appear here.")
        return
    shown = np.asarray(selected[:SELECTION_SHOWN])
    counts = np.bincount(digits.labels[selected], minlength=10)
    top = [f"{d}s {c / len(selected):.0%}" for d, c in sorted(enumerate(counts), key=lambda t: -t[1])[:3] if c]
    if len(selected) == 1:
        st.markdown(f"**Test digit #{shown[0]}**, a {digits.labels[shown[0]]}")
    else:
        st.markdown(f"**{len(selected):,} digits selected**: {', '.join(top)}"
                    + (f" (first {SELECTION_SHOWN} shown)" if len(selected) > SELECTION_SHOWN else ""))
    scale = 5 if len(shown) == 1 else 2
    columns = min(PANEL_COLUMNS, len(shown))
    ui.show_png(images.to_png(images.tile(digits.images[shown] / 255.0, columns=columns, pad=2), scale=scale),
             caption="test digits")
    if space == PIXELS:
        st.caption("Raw pixels have no model to rebuild them: pick an autoencoder's space to see reconstructions.")
        return
    model, _ = ui.load_model(space)
    ui.show_png(images.to_png(images.tile(reconstructions(model, shown), columns=columns, pad=2), scale=scale),
             caption=f"rebuilt by {space}")


@st.fragment
def main_map(latent_map: latent.LatentMap) -> None:
    """The big map and the panel its selections feed; a selection re-runs only this part."""
    chart_column, panel_column = st.columns([2, 1])
    with chart_column:
        quality_metrics(latent_map)
        event = st.plotly_chart(
            ui.cached_figure("latent map", lambda: map_figure(latent_map, shown_as(space, method), height=540),
                             space, method, points, perplexity, models=spaces_models(space)),
            key=f"lat_map_{space}_{method}_{points}_{perplexity}",
            on_select="rerun", selection_mode=("points", "box", "lasso"), config={"displaylogo": False},
        )
    with panel_column:
        per_digit = [latent_map.indices[latent_map.labels == d] for d in range(10)]  # trace d's points
        picked = browser_values.selected_points(event.selection.get("points"), [len(p) for p in per_digit])
        selected = list(dict.fromkeys(int(per_digit[trace][point]) for trace, point in picked))
        selection_panel(selected)


st.subheader(f"{METHOD_NAMES[method]} of {space_name(space)}")
chosen_map = map_or_error(space, method, points, perplexity)
if chosen_map is not None and shown_as(space, method) == "code":
    st.caption(f"{space}'s code is already 2-D: PCA leaves it as it is, so this is the code itself.")
if chosen_map is not None:
    main_map(chosen_map)

# --- the seeds' comparison ------------------------------------------------------------------
st.subheader("Raw pixels vs a 2-D code vs a 20-D code")
st.markdown(
    f"The same {latent.DEFAULT_POINTS:,} test digits mapped by {METHOD_NAMES[method]} from their pixels, from "
    "`ae2`'s 2-D code and from `ae20`'s 20-D code. The numbers say how well each map keeps the digits "
    f"apart ({latent.QUALITY_NEIGHBOURS}-NN accuracy) and real neighbours together (trustworthiness, "
    "against the pixels for all three), so the comparison is measured, not eyeballed. Each small map "
    f"draws {COMPARE_SHOWN:,} of its digits, picked at random; the numbers are for all {latent.DEFAULT_POINTS:,}."
)
for column, compared in zip(st.columns(len(COMPARED)), COMPARED):
    with column:
        st.markdown(f"**{space_name(compared)}**")
        compared_map = map_or_error(compared, method, latent.DEFAULT_POINTS, latent.DEFAULT_PERPLEXITY)
        if compared_map is None:
            continue
        st.plotly_chart(ui.cached_figure("small latent map", lambda: map_figure(
                            compared_map, shown_as(compared, method), height=300, legend=False, marker_size=3,
                            shown=COMPARE_SHOWN), compared, method, models=spaces_models(compared)),
                        key=f"lat_compare_{compared}", config={"displaylogo": False})
        quality_metrics(compared_map)
