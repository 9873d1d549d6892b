"""Latent space: t-SNE and PCA maps of test digits in raw pixels and in autoencoders' codes, measured."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from components import latent_map as map_component
from core import browser_values, images, inference, latent, latent_view
from core.latent import PIXELS
from ui import caches, glossary, links, widgets

st.set_page_config(page_title="Latent space · Autoencoder Lab", layout="wide")

METHOD_NAMES = {"tsne": "t-SNE", "pca": "PCA"}
METHOD_BY_NAME = {name: method for method, name in METHOD_NAMES.items()}  # the radio's options are the names people read
COMPARED = (PIXELS, "ae2", "ae20")  # the seed experiments' comparison: pixels vs a 2-D vs a 20-D code
COMPARE_SHOWN = 2_500  # dots drawn on each small map: the shape reads the same from a quarter of the data
POINT_CHOICES = list(range(1_000, latent.DEFAULT_POINTS + 1, 1_000))
# The perplexities the slider offers, and the only ones a link may ask for: each other value would be a
# new t-SNE of 9-23 s of a core, which a link could repeat with 37, "1_0" or a fullwidth digit.
PERPLEXITY_CHOICES = list(range(5, 51, 5))
SELECTION_SHOWN = 36  # digits drawn from a selection; the rest are counted
PANEL_COLUMNS = 6


def space_name(space: str) -> str:
    return "raw pixels" if space == PIXELS else space


# --- sidebar ------------------------------------------------------------------------------
models = caches.available_models(("ae", "vae"))
spaces = [PIXELS] + [s for s in latent.SHIPPED_SPACES if s in models] + [s for s in models if s not in latent.SHIPPED_SPACES]
link = links.PageLinks()
with st.sidebar:
    st.header("Latent space")
    space = st.selectbox("Space", spaces, index=spaces.index("ae20") if "ae20" in spaces else 0,
                         format_func=space_name, **link.bind("lat_space"),
                         help="Raw pixels (784 numbers per digit) or the code an autoencoder squeezes each digit into.")
    widgets.visitor_caption([space] if space != PIXELS else [])
    # The options are the names shown, so a link reads `lat_method=t-SNE` as the page writes it.
    method = METHOD_BY_NAME[st.radio(
        "Method", [METHOD_NAMES[m] for m in latent.MAP_METHODS], **link.bind("lat_method"), horizontal=True,
        help="t-SNE keeps each digit's neighbours close (van der Maaten & Hinton 2008); "
             "PCA shows the two directions in which the digits vary most.")]
    points = st.select_slider("Points", POINT_CHOICES, value=latent.DEFAULT_POINTS, **link.bind("lat_points"),
                              format_func="{:,}".format)
    perplexity = st.select_slider("Perplexity", PERPLEXITY_CHOICES, value=int(latent.DEFAULT_PERPLEXITY),
                                  **link.bind("lat_perplexity"), disabled=method != "tsne",
                                  help="About how many neighbours t-SNE keeps around each digit.")
    glossary.note(("t-SNE", f"{points:,} test digits"), ("perplexity", f"{perplexity:g}"))
    st.caption(f"Every shipped model's maps of {latent.DEFAULT_POINTS:,} digits at perplexity "
               f"{latent.DEFAULT_PERPLEXITY:g} are precomputed. Other settings are computed once "
               "(t-SNE of 10,000 digits takes 20 s or more) and kept for everyone.")
    plain = st.toggle("Plain chart", **link.bind("lat_plain"),
                      help="The map drawn by plotly, for a browser where the interactive map does not load. "
                           "It has no digits on hover or zoom and no linked maps.")

live = not plain and map_component.available()
st.title("Latent space")
link.note_here()
if live:
    st.markdown(
        "Each dot is a test digit, placed so that digits the space finds alike land close together; in a "
        "good code the ten digits form separate islands. **Hover** a dot to see its digit (and how the "
        "model rebuilds it; on a phone, tap one); **zoom** with Ctrl + wheel, a pinch or **+** and past 4x "
        "the dots become the digits "
        "themselves; pick **Box** or **Lasso** and draw around some dots to see them below. The small maps "
        "further down are linked: a digit hovered or selected on one is marked on all."
    )
else:
    st.markdown(
        "Each dot is a test digit, placed so that digits the space finds alike land close together. "
        "In a good code the ten digits form separate islands. Click a dot, or draw a box or lasso around "
        "some (the chart's toolbar), to see those digits and how the model rebuilds them; click a digit "
        "in the legend to hide it."
    )
    if not plain:
        st.caption("The interactive map needs Streamlit's components v2, which this server lacks: "
                   "the plain chart stands in.")
digits = caches.test_digits("mnist")
widgets.source_caption(digits.source)


def map_or_error(space: str, method: str, points: int, perplexity: float) -> latent.LatentMap | None:
    """The map of a space, or None after saying why it cannot be made."""
    try:
        return caches.latent_map(space, method, points, perplexity)
    except (FileNotFoundError, ValueError) as exc:
        widgets.show_model_error(space, exc)
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
            marker=dict(size=marker_size, color=widgets.DIGIT_COLORS[d], opacity=0.7),
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
    if method == "pca" and space != PIXELS and caches.load_model(space)[0].code_shape == (2,):
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
    glossary.note(("k-NN accuracy", f"{latent_map.knn_accuracy:.1%}, with {latent.QUALITY_NEIGHBOURS} neighbours"),
                  ("trustworthiness", f"{latent_map.trustworthiness:.3f}"))


def reconstructions(model, test_positions: np.ndarray) -> np.ndarray:
    """The model's rebuilds (N, 28, 28) of test digits."""
    labels = digits.labels[test_positions] if model.is_conditional else None
    return inference.reconstruct(model, digits.images[test_positions], labels)


def digit_tiles(test_positions: np.ndarray, caption: str, rebuilt_by: str | None = None) -> None:
    """Test digits (or a model's rebuilds of them) as one sharp image."""
    scale = 5 if len(test_positions) == 1 else 2
    columns = min(PANEL_COLUMNS, len(test_positions))
    if rebuilt_by is None:
        pictures = digits.images[test_positions] / 255.0
    else:
        pictures = reconstructions(caches.load_model(rebuilt_by)[0], test_positions)
    widgets.show_png(images.to_png(images.tile(pictures, columns=columns, pad=2), scale=scale), caption=caption)


def selection_panel(selected: np.ndarray) -> None:
    """A fair sample of the selected digits, their reconstructions in the chosen space's model, and
    how many of each digit the selection holds."""
    if not len(selected):
        st.info("Hover a dot to see its digit. Choose **Box** or **Lasso** above the map and draw around "
                "some dots, or click (or tap) one: their digits and reconstructions appear here." if live else
                "Click a dot, or choose **Box Select** or **Lasso Select** in the chart's toolbar and "
                "draw around some dots: their digits and reconstructions appear here.")
        return
    labels = digits.labels[selected]
    counts = np.bincount(labels, minlength=10)
    if len(selected) == 1:
        st.markdown(f"**Test digit #{selected[0]}**, a {labels[0]}")
        shown = selected
    else:
        how = st.radio("Sample", latent_view.SAMPLE_METHODS, horizontal=True, **link.bind("lat_sample"),
                       help="Per digit: each digit in the selection gets an equal share of the places. "
                            "At random: a plain random sample, which mirrors the selection's make-up.")
        shown = latent_view.sample_selection(selected, labels, SELECTION_SHOWN, how)
        common = int(counts.argmax())
        st.markdown(f"**{len(selected):,} digits selected**, {counts[common] / len(selected):.0%} of them {common}s"
                    + (f" ({len(shown)} shown, {how})" if len(selected) > len(shown) else ""))
        st.caption("Selected of each digit: " + " · ".join(f"{d}: {c:,}" for d, c in enumerate(counts) if c))
    digit_tiles(shown, "test digits")
    if space == PIXELS:
        st.caption("Raw pixels have no model to rebuild them: pick an autoencoder's space to see reconstructions.")
        return
    digit_tiles(shown, f"rebuilt by {space}", rebuilt_by=space)


def map_identity(space: str, method: str, points: int, perplexity: float) -> list:
    return [space, method, points, perplexity]


def held_selection(identity: list, latent_map: latent.LatentMap) -> dict:
    """The selection Python holds for the map `identity` ({"indices", "revision"}); another map's is
    dropped. A session's first map takes the selection its link carries (`lat_sel`)."""
    held = st.session_state.get("lat_selection")
    if not held or held["map"] != identity:
        indices = []
        if held is None and st.query_params.get("lat_sel"):
            try:
                indices = latent_view.selection_from_token(st.query_params["lat_sel"], latent_map.indices).tolist()
            except ValueError as exc:
                st.session_state["lat_selection_problem"] = str(exc)
        held = {"map": identity, "indices": indices, "revision": (held or {}).get("revision", 0) + 1}
        st.session_state["lat_selection"] = held
        keep_selection_in_link(indices, latent_map)
    return held


def keep_selection_in_link(indices, latent_map: latent.LatentMap) -> None:
    """The selection in the URL, so "Link to this view" carries it."""
    token = latent_view.selection_token(np.asarray(indices, dtype=np.int64), latent_map.indices)
    if token:
        st.query_params["lat_sel"] = token
    else:
        st.query_params.pop("lat_sel", None)


def take_selection(value, latent_map: latent.LatentMap, identity: list) -> None:
    """The map sent a selection: keep it when it is one, else say why it was ignored."""
    held = held_selection(identity, latent_map)
    try:
        selected = latent_view.checked_selection(value, latent_map.indices)
    except (TypeError, ValueError) as exc:
        st.session_state["lat_selection_problem"] = str(exc)
        return
    st.session_state.pop("lat_selection_problem", None)
    st.session_state["lat_selection"] = {"map": identity, "indices": selected.tolist(), "revision": held["revision"] + 1}
    keep_selection_in_link(selected, latent_map)


# --- your own digit --------------------------------------------------------------------------

def own_digit() -> tuple[np.ndarray, str] | None:
    """Your uploaded or drawn digit made MNIST-like (core.images), and its name; None before there is one."""
    # Each tab runs only while open: the drawing canvas's own page slowed the map's first view.
    given = widgets.your_digit("lat")
    return (given[0].digit.image, given[0].name) if given else None


def placement(space: str, method: str, latent_map: latent.LatentMap, image: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray] | None:
    """(position on the map, nearest test digits) of your digit in `space`; None where it cannot be placed."""
    if space == PIXELS:
        new = image.reshape(1, -1)
    else:
        model = caches.load_model(space)[0]
        if model.is_conditional:  # its code needs the digit's label, which your digit does not come with
            return None
        new = inference.encode(model, image[None])
    features = caches.space_features(space)[latent_map.indices]
    projection = caches.map_projection(space, latent_map) if method == "pca" else None
    positions, rows = latent_view.place(method, features, latent_map.coords, new, projection)
    return positions[0], latent_map.indices[rows[0]]


def own_panel(image: np.ndarray, name: str, placed: tuple[np.ndarray, np.ndarray] | None) -> None:
    left, right = st.columns([1, 4])
    widgets.show_png(images.to_png(image, scale=4), where=left, caption=f"{name}, as MNIST sees it")
    with right:
        if placed is None:
            st.info(f"{space} is conditional: its code needs the digit's label, so your digit is not placed on it.")
            return
        neighbours = placed[1]
        labels = digits.labels[neighbours]
        common = np.bincount(labels, minlength=10).argmax()
        how = {"tsne": f"at the middle of its {latent_view.PLACE_NEIGHBOURS} nearest test digits in "
                       f"{space_name(space)} (t-SNE cannot place a new point by formula)",
               "pca": "by the map's own PCA"}[method]
        st.markdown(f"Your digit is the **black star** on every map below, placed {how}. Its "
                    f"{len(neighbours)} nearest test digits in {space_name(space)}, ringed on the map: "
                    f"{(labels == common).sum()} of them are {common}s.")
        widgets.show_png(images.to_png(images.tile(digits.images[neighbours] / 255.0, pad=2), scale=2),
                    caption="nearest test digits: " + " ".join(str(d) for d in labels))


# --- the main map ----------------------------------------------------------------------------------
st.subheader(f"{METHOD_NAMES[method]} of {space_name(space)}")
chosen_map = map_or_error(space, method, points, perplexity)
if chosen_map is not None and shown_as(space, method) == "code":
    st.caption(f"{space}'s code is already 2-D: PCA leaves it as it is, so this is the code itself.")
own_box = st.expander("Your own digit on the maps: upload or draw one", key="lat_own_expander", on_change="rerun")
own = None
if own_box.open:  # closed, it sends nothing (and your digit leaves the maps)
    with own_box:
        own = own_digit()
own_placed = None
if own is not None and chosen_map is not None:
    own_placed = placement(space, method, chosen_map, own[0])
    with st.container(key="lat_own"):
        own_panel(own[0], own[1], own_placed)

sent_bundles: set[str] = set()


def send_bundle(bundle_id: str, payload: bytes) -> str:
    """Mount a bundle for the map views once per run (two maps may share one), outside the fragment."""
    if bundle_id not in sent_bundles:
        sent_bundles.add(bundle_id)
        map_component.send_bundle(bundle_id, payload)
    return bundle_id


# The bundles the map views draw from. The maps' 70 kB go before their views, so dots are drawn at
# once; the sprite sheets (1.7 and 1.3 MB, for hover and zoom) go at the end of the page.
sheets = {}
if live:
    sprites_id, sheets[sprites_id] = caches.test_sprites()
    rebuilt_id = None
    if chosen_map is not None:
        send_bundle(*caches.latent_map_bundle(space, method, points, perplexity))
        if space != PIXELS:
            rebuilt_id, sheets[rebuilt_id] = caches.rebuilt_sprites(space)


@st.fragment
def main_map(latent_map: latent.LatentMap) -> None:
    """The big map and the panel its selections feed; a selection re-runs only this part."""
    chart_column, panel_column = st.columns([2, 1])
    identity = map_identity(space, method, points, perplexity)
    with chart_column:
        quality_metrics(latent_map)
        if live:
            held = held_selection(identity, latent_map)
            map_component.map_view(
                "lat_live_map", f"{space}-{method}", caches.latent_map_bundle(space, method, points, perplexity)[0],
                sprites_id, widgets.DIGIT_COLORS, rebuilt_id=rebuilt_id, report=True, selected=held["indices"],
                revision=held["revision"], own=None if own_placed is None else tuple(map(float, own_placed[0])),
                neighbours=None if own_placed is None else own_placed[1].tolist(),
                on_selection=lambda value: take_selection(value, latent_map, identity))
            if "lat_selection_problem" in st.session_state:
                st.warning(st.session_state["lat_selection_problem"])
            selected = np.asarray(held_selection(identity, latent_map)["indices"], dtype=np.int64)
        else:
            event = st.plotly_chart(
                caches.cached_figure("latent map", lambda: map_figure(latent_map, shown_as(space, method), height=540),
                                 space, method, points, perplexity, models=spaces_models(space)),
                key=f"lat_map_{space}_{method}_{points}_{perplexity}",
                on_select="rerun", selection_mode=("points", "box", "lasso"), config={"displaylogo": False},
            )
            per_digit = [latent_map.indices[latent_map.labels == d] for d in range(10)]  # trace d's points
            picked = browser_values.selected_points(event.selection.get("points"), [len(p) for p in per_digit])
            selected = np.array(list(dict.fromkeys(int(per_digit[trace][point]) for trace, point in picked)),
                                dtype=np.int64)
    with panel_column:
        selection_panel(selected)


if chosen_map is not None:
    main_map(chosen_map)

# --- the seeds' comparison ------------------------------------------------------------------
st.subheader("Raw pixels vs a 2-D code vs a 20-D code")
st.markdown(
    f"The same {latent.DEFAULT_POINTS:,} test digits mapped by {METHOD_NAMES[method]} from their pixels, from "
    "`ae2`'s 2-D code and from `ae20`'s 20-D code. The numbers say how well each map keeps the digits "
    f"apart ({latent.QUALITY_NEIGHBOURS}-NN accuracy) and real neighbours together (trustworthiness, "
    "against the pixels for all three), so the comparison is measured, not eyeballed. "
    + ("These maps are linked to the one above: hover or select digits on any of them to see where they "
       "land on the others." if live else
       f"Each small map draws {COMPARE_SHOWN:,} of its digits, picked at random; the numbers are for all "
       f"{latent.DEFAULT_POINTS:,}.")
)


def small_map(compared: str) -> None:
    """A small map of `compared` at the default settings, linked to the main one, with its numbers."""
    st.markdown(f"**{space_name(compared)}**")
    compared_map = map_or_error(compared, method, latent.DEFAULT_POINTS, latent.DEFAULT_PERPLEXITY)
    if compared_map is None:
        return
    if live:
        compared_id = send_bundle(*caches.latent_map_bundle(compared, method, latent.DEFAULT_POINTS,
                                                        latent.DEFAULT_PERPLEXITY))
        placed = None if own is None else placement(compared, method, compared_map, own[0])
        map_component.map_view(f"lat_compare_live_{compared}", f"{compared}-{method}", compared_id,
                               sprites_id, widgets.DIGIT_COLORS, height=300, point=0.7,
                               own=None if placed is None else tuple(map(float, placed[0])))
    else:
        st.plotly_chart(caches.cached_figure("small latent map", lambda: map_figure(
                            compared_map, shown_as(compared, method), height=300, legend=False, marker_size=3,
                            shown=COMPARE_SHOWN), compared, method, models=spaces_models(compared)),
                        key=f"lat_compare_{compared}", config={"displaylogo": False})
    quality_metrics(compared_map)


for column, compared in zip(st.columns(len(COMPARED)), COMPARED):
    with column:
        small_map(compared)

if live:  # "where does this 4 land in each space?": more spaces, linked the same way
    st.subheader("More linked maps")
    others = [s for s in spaces if s not in COMPARED and s != space]
    usable = [s for s in ("conv", "vae") if s in others and caches.checkpoint_status(s).state == "ok"]
    more = st.multiselect("Spaces", others, default=usable, max_selections=3,
                          **link.bind("lat_more"), format_func=space_name,
                          help="Up to three more spaces, each a small map linked to all the others.")
    for column, extra in zip(st.columns(3), more):
        with column:
            small_map(extra)

for sheet_id, payload in sheets.items():
    send_bundle(sheet_id, payload)

link.finish()
