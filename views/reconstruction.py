"""Reconstruction: originals vs each model's reconstruction, model comparison, worst digits, codes."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import browser_values, images, inference
from core.models import code_maps
from ui import caches, glossary, links, widgets

st.set_page_config(page_title="Reconstruction · Autoencoder Lab", layout="wide")

DEFAULT_MODELS = ["dense", "deep", "conv", "vae"]
DEFAULT_INDICES = "0, 1, 2, 3, 4, 7, 11, 18, 61, 84"
MOST_DIGITS = 16  # the slider's top; more rows of digits would be too thin to read
METRICS = {"bce": "BCE per pixel", "mse": "MSE per pixel", "euclidean_sum": "Summed Euclidean error",
           "parameters": "Parameters", "mean_code_activation": "Mean code activation"}


DEAD_MAP_DIGITS = 2_000  # test digits a code map must stay zero for to be called unused
STRIP_WIDTH = 4  # a flat code's strip is four digits wide, whatever its length
WORST_PER_ROW = 8  # 32 worst digits in one row were 25 px each; eight a row keeps them 80 px or more


def bar_figure(series: dict[str, tuple[list, list]], x_title: str, y_title: str, height: int,
               grouped: bool = True, text_format: str | None = None) -> go.Figure:
    """Bars of one colour per series name; series: name -> (x values, y values).

    Built from graph objects: plotly express took 60-90 ms a chart, more than the rest of the page.
    grouped: series side by side at each x; else each series has x values of its own.
    """
    fig = go.Figure([go.Bar(x=x, y=y, name=name, marker_color=widgets.model_color(name),
                            texttemplate=text_format and f"%{{y:{text_format}}}")
                     for name, (x, y) in series.items()])
    fig.update_layout(barmode="group" if grouped else "overlay", showlegend=grouped, height=height,
                      margin=dict(t=20, b=20), xaxis_title=x_title, yaxis_title=y_title)
    fig.update_xaxes(type="category", tickmode="linear", dtick=1)  # every label: plotly thins them at narrow widths
    return fig


def code_figure(originals: np.ndarray, maps: np.ndarray) -> go.Figure:
    """Each digit (gray) beside its code's feature maps (one colour scale), a row per digit.

    Two heatmaps of tiled images side by side: a subplot per map took a quarter of a second to build.
    originals: (N, 28, 28) uint8; maps: (N, maps, rows, cols).
    """
    n, n_maps, rows, cols = maps.shape
    gap = np.nan  # shown as nothing
    digit_tile = images.tile(originals[:, None] / 255.0, pad=4, fill=gap)
    side = originals.shape[1]
    if rows == 1 and n_maps == 1:  # a flat code has no 2-D layout: one strip of numbers per digit
        cell = STRIP_WIDTH * side / cols
        codes = go.Heatmap(z=maps[::-1, 0, 0].astype(np.float32), dx=cell, dy=side + 4, y0=(side - 1) / 2, xaxis="x2",
                           ygap=4, coloraxis="coloraxis", hovertemplate="number %{x:.0f}: %{z:.3f}<extra></extra>",
                           x0=cell / 2)
        split = side / (side + cols * cell)
    else:
        map_tile = images.tile(maps.astype(np.float32), pad=1, fill=gap)
        cell = (side + 4) / (rows + 1)  # a code pixel's size, so a row of maps is as tall as a digit and its gap
        codes = go.Heatmap(z=map_tile[::-1], dx=cell, dy=cell, y0=(side - 1) / 2 - (rows - 1) * cell / 2, xaxis="x2",
                           coloraxis="coloraxis", hovertemplate="code value %{z:.3f}<extra></extra>")
        split = side / (side + n_maps * (cols + 1) * cell)  # the digits' share of the width
    fig = go.Figure([go.Heatmap(z=digit_tile[::-1], colorscale="gray", showscale=False, hoverinfo="skip"), codes])
    square = dict(visible=False, scaleanchor="y")  # square pixels
    fig.update_layout(height=110 * n + 60, margin=dict(t=20, b=20), coloraxis=dict(colorscale="Viridis"),
                      xaxis=dict(domain=[0, split * 0.95], **square), xaxis2=dict(domain=[split, 1], **square),
                      yaxis=dict(visible=False))
    return fig

def numbered(values) -> str:
    """1 -> "1"; 1, 2, 5 -> "1, 2 and 5"."""
    words = [str(v) for v in values]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def dead_maps_caption(name: str, code_shape: tuple[int, ...]) -> None:
    """Say which of a conv code's maps stay zero for every test digit: numbers the code never uses."""
    codes = caches.encoded_test_digits(name)[:DEAD_MAP_DIGITS].reshape(-1, *code_shape)
    dead = np.flatnonzero(np.abs(codes).max(axis=(0, 2, 3)) == 0)
    if len(dead):
        per_map = code_shape[1] * code_shape[2]
        st.caption(f"{len(dead)} of {name}'s {code_shape[0]} code maps ({'number' if len(dead) == 1 else 'numbers'} {numbered(dead + 1)}) "
                   f"are zero for every one of the first {len(codes):,} test digits: their filters never fire (a ReLU "
                   f"stuck below zero), so the code really has {(code_shape[0] - len(dead)) * per_map} numbers in use, "
                   f"not {code_shape[0] * per_map}.")


def training_compared(first: str, second: str, compared: str) -> str:
    """A sentence on how two checkpoints were trained: by the same recipe (named), so `compared` is the
    one difference, or what else differs."""
    recipes = [caches.checkpoint_status(name).meta.get("recipe") or {} for name in (first, second)]
    differ = {key: (recipes[0].get(key), recipes[1].get(key)) for key in sorted(set(recipes[0]) | set(recipes[1]))
              if recipes[0].get(key) != recipes[1].get(key)}
    if not differ:
        recipe = recipes[0]
        return (f"Both were trained by the same recipe ({recipe.get('epochs')} epochs, batch {recipe.get('batch_size')}, "
                f"{str(recipe.get('optimizer', 'adam')).capitalize()} at lr {recipe.get('lr'):g}), so {compared} is "
                "the one difference.")
    return ("Their training also differs, so read the comparison with care: "
            + "; ".join(f"{key} {a} against {b}" for key, (a, b) in differ.items()) + ".")


# --- sidebar ------------------------------------------------------------------------------
link = links.PageLinks()
with st.sidebar:
    st.header("Reconstruction")
    chosen = widgets.model_picker("Models", **link.bind("rec_models"), multi=True, defaults=DEFAULT_MODELS)
    mode = st.radio("Digits", ["Random", "By class", "By test index"], **link.bind("rec_mode"), horizontal=True)
    count = st.slider("How many digits", 4, MOST_DIGITS, 10, **link.bind("rec_count"))
    if mode == "Random":
        # The seed is in the URL, so a shared link shows the same random digits.
        seed = st.query_params.get("rec_seed", "0")
        seed = int(seed) if seed.isdigit() and len(seed) < 10 else 0
        if st.button("New random digits", key="rec_shuffle", icon=":material/casino:"):
            seed += 1
            st.query_params["rec_seed"] = str(seed)
    elif mode == "By class":
        digit_class = st.selectbox("Digit", list(range(10)), **link.bind("rec_class"))
    else:
        index_text = st.text_input("Test indices, comma-separated", DEFAULT_INDICES, **link.bind("rec_indices"),
                                   max_chars=browser_values.MAX_INDEX_TEXT,
                                   help=f"Up to {MOST_DIGITS} of them, from 0 to 9,999")


test = caches.test_digits("mnist")
if mode == "Random":
    index = np.random.default_rng(seed).choice(len(test), count, replace=False)
elif mode == "By class":
    rng = np.random.default_rng(digit_class)
    index = rng.choice(np.flatnonzero(test.labels == digit_class), count, replace=False)
else:
    try:
        index = np.array(browser_values.typed_indices(index_text, len(test), MOST_DIGITS))
    except ValueError as exc:
        # The text box cuts a link's value to its max_chars: a value longer than that came from the link too.
        from_link = index_text in [value[:browser_values.MAX_INDEX_TEXT] for value in link.asked("rec_indices") or []]
        if not from_link:  # typed here: say what is wrong
            st.error(str(exc))
            st.stop()
        link.refuse("rec_indices")  # from a shared link: the default digits, with a note
        index = np.array(browser_values.typed_indices(DEFAULT_INDICES, len(test), MOST_DIGITS))
digits = test.subset(index)

st.title("Reconstruction")
link.note_here()
st.markdown("Each autoencoder squeezes a digit through its code and rebuilds it. The top row is the "
            "original test digit; each row below is one model's reconstruction.")
widgets.source_caption(test.source)

models = {}
for name in chosen:
    if widgets.model_or_reason(name) is not None:
        models[name] = caches.load_model(name)

tab_grid, tab_compare, tab_worst, tab_codes, tab_layers, tab_loss = st.tabs(
    ["Reconstructions", "Compare models", "Worst digits", "Codes", "Layers", "BCE vs MSE"],
    **link.bind("rec_tab"), on_change="rerun")

# --- originals and reconstructions -------------------------------------------------------
if tab_grid.open:  # only the open tab runs: the others cost nothing until picked
    with tab_grid:
        widgets.digit_row(digits.images / 255.0, f"Originals (test digits {', '.join(map(str, index[:16]))})")
        if not models:
            st.info("Pick at least one model in the sidebar.")
        for name in models:
            row, bce = caches.reconstruction_row(name, index)
            widgets.digit_row(row, f"{widgets.describe(name)} · BCE {bce:.4f} on these digits")
        if models:
            glossary.note(("BCE", f"{bce:.4f} per pixel for {name} on these digits"))

# --- comparison table and per-class error ------------------------------------------------
if tab_compare.open:
    with tab_compare:
        rows, unusable = [], []
        for name in caches.available_models(("ae", "vae")):
            status = caches.checkpoint_status(name)
            if status.state != "ok":
                unusable.append(name)
                continue
            m = caches.model_metrics(name)
            rows.append({"model": name, **{label: getattr(m, key) for key, label in METRICS.items()},
                         "epochs": status.meta["epochs"]})
        table = pd.DataFrame(rows).set_index("model")
        st.markdown("Every model on the full test split (from its checkpoint's evaluation).")
        if unusable:
            st.warning(f"Left out, their checkpoints cannot be used: {', '.join(unusable)}. Retrain them on the Train page.")
        st.dataframe(table, width="stretch", column_config={
            "BCE per pixel": st.column_config.NumberColumn(format="%.4f"),
            "MSE per pixel": st.column_config.NumberColumn(format="%.4f"),
            "Summed Euclidean error": st.column_config.NumberColumn(format="%.0f"),
            "Mean code activation": st.column_config.NumberColumn(format="%.3f"),
        })
        if len(table):
            first = table.iloc[0]
            glossary.note(("BCE", f"{first['BCE per pixel']:.4f} per pixel for {table.index[0]}"),
                          ("MSE", f"{first['MSE per pixel']:.4f} per pixel for {table.index[0]}"))
        metric = st.selectbox("Chart", list(METRICS.values()), **link.bind("rec_metric"))
        st.plotly_chart(bar_figure({name: ([name], [value]) for name, value in table[metric].items()}, "model", metric,
                                   360, grouped=False, text_format=".4~g"), key="rec_metric_chart")

        if models:
            st.subheader("Error per digit class")
            per_class = []
            for name in models:
                for c, value in enumerate(caches.model_metrics(name).bce_per_class):
                    if value is not None:
                        per_class.append({"model": name, "digit": str(c), "BCE per pixel": value})
            by_model = pd.DataFrame(per_class).groupby("model", sort=False)
            st.plotly_chart(bar_figure({name: (rows["digit"], rows["BCE per pixel"]) for name, rows in by_model},
                                       "digit", "BCE per pixel", 380), key="rec_class_chart")
            by_digit = pd.DataFrame(per_class).groupby("digit")["BCE per pixel"].mean()
            st.caption(f"Averaged over these models, {by_digit.idxmin()}s are the easiest digits to rebuild "
                       f"and {by_digit.idxmax()}s the hardest.")

# --- worst reconstructed digits ----------------------------------------------------------
if tab_worst.open:
    with tab_worst:
        if models:
            worst_model = st.selectbox("Model", list(models), **link.bind("rec_worst_model"))
            widgets.visitor_caption([worst_model])
            model, meta = models[worst_model]
            stored = caches.model_metrics(worst_model)
            n_worst = st.slider("How many", 3, len(stored.worst), 5, **link.bind("rec_worst_n"))
            worst = np.array([i for i, _ in stored.worst[:n_worst]])
            errors = np.array([e for _, e in stored.worst[:n_worst]])
            subset = test.subset(worst)
            recon = inference.reconstruct(model, subset.images, subset.labels)
            st.markdown(f"The {n_worst} test digits {worst_model} rebuilds worst, out of {stored.test_digits:,}"
                        + (f" (its digit {stored.digit} only)." if stored.digit is not None else "."))
            wrap = min(n_worst, WORST_PER_ROW)
            widgets.digit_row(subset.images / 255.0, "Originals", columns=wrap)
            widgets.digit_row(recon, "Reconstructions", columns=wrap)
            st.dataframe(pd.DataFrame({"test index": worst, "label": subset.labels, "BCE per pixel": errors.round(4)}),
                         hide_index=True)
            histogram = stored.bce_histogram
            edges = np.array(histogram["edges"])
            hist = go.Figure(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=histogram["counts"], width=np.diff(edges)))
            hist.add_vline(x=float(errors[-1]), line_dash="dash", annotation_text="worst shown")
            hist.update_layout(height=280, margin=dict(t=20, b=20), xaxis_title="BCE per pixel",
                               yaxis_title="test digits", yaxis_type="log")
            st.plotly_chart(hist, key="rec_worst_hist")

# --- what codes look like ----------------------------------------------------------------
if tab_codes.open:
    with tab_codes:
        if models:
            code_model = st.selectbox("Model", list(models), **link.bind("rec_code_model"))
            widgets.visitor_caption([code_model])
            model, _ = models[code_model]
            shown = min(len(index), 6)
            codes = inference.encode(model, digits.images[:shown], digits.labels[:shown])
            flat = len(model.code_shape) == 1
            # (digits, maps, rows, cols); a flat code as one row: a 4x8 block would suggest neighbours it has not
            maps = codes.reshape(len(codes), 1, 1, -1) if flat else code_maps(codes, model.code_shape)
            n_maps = maps.shape[1]
            st.markdown(f"**{code_model}** turns each 784-pixel digit into {codes.shape[1]} numbers"
                        + (f", {n_maps} feature maps of {maps.shape[2]}x{maps.shape[3]}." if n_maps > 1 else
                           ", a list with no layout: drawn as one strip per digit, in the code's order."))
            st.plotly_chart(code_figure(digits.images[:shown], maps), key="rec_code_maps")
            if not flat:
                dead_maps_caption(code_model, model.code_shape)
            glossary.note(("code", f"{codes.shape[1]:,} numbers for {code_model}"))

        sparse_pair = [n for n in ("dense", "sparse") if caches.checkpoint_status(n).state == "ok"]
        if len(sparse_pair) == 2:
            st.subheader("Sparse vs dense codes")
            unit_means, measured = {}, {}
            for name in sparse_pair:
                codes = caches.encoded_test_digits(name)[:1000]
                unit_means[name] = (np.arange(codes.shape[1]), np.sort(codes.mean(0))[::-1])
                measured[name] = (codes.mean(), (codes > 1e-6).mean(), caches.model_metrics(name).bce)
            st.plotly_chart(bar_figure(unit_means, "code unit (sorted)", "mean activation", 320), key="rec_sparse_chart")
            (dense_mean, dense_on, dense_bce), (sparse_mean, sparse_on, sparse_bce) = measured["dense"], measured["sparse"]
            st.markdown(
                f"Measured on 1,000 test digits: the L1 penalty on `sparse`'s code made its activations "
                f"**{dense_mean / sparse_mean:.1f}x smaller** on average ({sparse_mean:.2f} against {dense_mean:.2f}), "
                f"but it switched few of them off: **{sparse_on:.0%}** of its code values are non-zero, against "
                f"{dense_on:.0%} for `dense`. So it is a code of small values rather than of few units. It costs "
                f"reconstruction: test BCE {sparse_bce:.4f} against {dense_bce:.4f}. "
                + training_compared("dense", "sparse", "the L1 penalty on the code"))

# --- layer summary -----------------------------------------------------------------------
if tab_layers.open:
    with tab_layers:
        for name, (_, meta) in models.items():
            rows = caches.layer_summary(name)
            with st.expander(f"{widgets.describe(name)}: {meta['parameters']:,} parameters, {len(rows)} layers", expanded=len(models) == 1):
                st.dataframe(pd.DataFrame([{**r, "output shape": " x ".join(map(str, r["output shape"])) or "-"} for r in rows]),
                             hide_index=True, width="stretch")

# --- BCE versus MSE ----------------------------------------------------------------------
if tab_loss.open:
    with tab_loss:
        pair = [n for n in ("dense", "dense_mse") if caches.checkpoint_status(n).state == "ok"]
        if len(pair) < 2:
            st.info("This comparison needs usable dense and dense_mse checkpoints.")
        else:
            st.markdown("The same 784-32-784 network trained twice: once with binary cross-entropy (BCE), once "
                        "with mean squared error (MSE). Tutorials expect BCE to draw crisper, darker strokes, "
                        "since it punishes a confident wrong pixel much harder. Here is what the two models do. "
                        + training_compared("dense", "dense_mse", "the loss"))
            recons = {}
            for name in pair:
                model, meta = caches.load_model(name)
                recons[name] = inference.reconstruct(model, digits.images, digits.labels)
            widgets.digit_row(digits.images / 255.0, "Originals")
            widgets.digit_row(recons["dense"], "dense (BCE)")
            widgets.digit_row(recons["dense_mse"], "dense_mse (MSE)")
            difference = np.abs(recons["dense"] - recons["dense_mse"])
            widgets.digit_row(np.clip(difference * 3, 0, 1), f"Difference x3 (white = they disagree; the largest "
                                                        f"gap on these digits is {difference.max():.2f} of full ink)")
            originals = digits.images / 255.0
            stroke = originals > 0.5
            looks = {name: (float(recons[name][stroke].mean()), float(((recons[name] > 0.1) & (recons[name] < 0.9)).mean()))
                     for name in pair}  # (mean ink on the originals' strokes, share of grey pixels)
            tested = {name: caches.model_metrics(name) for name in pair}
            st.dataframe(pd.DataFrame([{
                "model": name, "trained with": "BCE" if name == "dense" else "MSE",
                "test BCE per pixel": tested[name].bce, "test MSE per pixel": tested[name].mse,
                "stroke ink (these digits)": looks[name][0], "grey pixels (these digits)": looks[name][1],
            } for name in pair]), hide_index=True, column_config={
                "test BCE per pixel": st.column_config.NumberColumn(format="%.4f"),
                "test MSE per pixel": st.column_config.NumberColumn(format="%.4f"),
                "stroke ink (these digits)": st.column_config.NumberColumn(
                    format="%.3f", help=f"The mean value drawn where the original is darker than half (the originals "
                                        f"themselves: {originals[stroke].mean():.3f}). Higher: darker strokes."),
                "grey pixels (these digits)": st.column_config.NumberColumn(
                    format="percent", help="The share of pixels between 0.1 and 0.9, neither ink nor paper. "
                                           "Lower: crisper."),
            })
            (bce_ink, bce_grey), (mse_ink, mse_grey) = looks["dense"], looks["dense_mse"]
            if abs(bce_ink - mse_ink) < 0.03 and abs(bce_grey - mse_grey) < 0.02:
                drawn = (f"the two draw these digits almost alike: strokes as dark ({bce_ink:.3f} against {mse_ink:.3f}) "
                         f"and as many grey pixels ({bce_grey:.1%} against {mse_grey:.1%})")
            else:
                darker = "dense (BCE)" if bce_ink > mse_ink else "dense_mse (MSE)"
                drawn = (f"{darker} draws the darker strokes on these digits ({bce_ink:.3f} for BCE against "
                         f"{mse_ink:.3f} for MSE), with {bce_grey:.1%} grey pixels for BCE against {mse_grey:.1%}")
            bce_wins_mse = tested["dense"].mse < tested["dense_mse"].mse
            st.markdown(f"What the measurement shows: {drawn}. On the test split, "
                        + ("dense (BCE) has the lower MSE too, although only dense_mse was trained to lower it "
                           f"({tested['dense'].mse:.4f} against {tested['dense_mse'].mse:.4f})."
                           if bce_wins_mse else
                           f"dense_mse has the lower MSE ({tested['dense_mse'].mse:.4f} against "
                           f"{tested['dense'].mse:.4f}) and dense the lower BCE."))

link.finish()
