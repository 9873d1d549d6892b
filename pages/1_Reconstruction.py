"""Reconstruction: originals vs each model's reconstruction, model comparison, worst digits, codes."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch

import ui
from core import browser_values, images, inference, latent
from core.evaluate import DENOISE_NOISE
from core.models import code_maps

st.set_page_config(page_title="Reconstruction · Autoencoder Lab", page_icon="🔢", layout="wide")

DEFAULT_MODELS = ["dense", "deep", "conv", "vae"]
MOST_DIGITS = 16  # the slider's top; more rows of digits would be too thin to read
METRICS = {"bce": "BCE per pixel", "mse": "MSE per pixel", "euclidean_sum": "Summed Euclidean error",
           "parameters": "Parameters", "mean_code_activation": "Mean code activation"}


def bar_figure(series: dict[str, tuple[list, list]], x_title: str, y_title: str, height: int,
               grouped: bool = True, text_format: str | None = None) -> go.Figure:
    """Bars of one colour per series name; series: name -> (x values, y values).

    Built from graph objects: plotly express took 60-90 ms a chart, more than the rest of the page.
    grouped: series side by side at each x; else each series has x values of its own.
    """
    fig = go.Figure([go.Bar(x=x, y=y, name=name, texttemplate=text_format and f"%{{y:{text_format}}}")
                     for name, (x, y) in series.items()])
    fig.update_layout(barmode="group" if grouped else "overlay", showlegend=grouped, height=height,
                      margin=dict(t=20, b=20), xaxis_title=x_title, yaxis_title=y_title)
    return fig


def code_figure(originals: np.ndarray, maps: np.ndarray) -> go.Figure:
    """Each digit (gray) beside its code's feature maps (one colour scale), a row per digit.

    Two heatmaps of tiled images side by side: a subplot per map took a quarter of a second to build.
    originals: (N, 28, 28) uint8; maps: (N, maps, rows, cols).
    """
    n, n_maps, rows, cols = maps.shape
    gap = np.nan  # shown as nothing
    digit_tile = images.tile(originals[:, None] / 255.0, pad=4, fill=gap)
    map_tile = images.tile(maps.astype(np.float32), pad=1, fill=gap)
    side = originals.shape[1]
    cell = (side + 4) / (rows + 1)  # a code pixel's size, so a row of maps is as tall as a digit and its gap
    split = side / (side + n_maps * (cols + 1) * cell)  # the digits' share of the width
    fig = go.Figure([
        go.Heatmap(z=digit_tile[::-1], colorscale="gray", showscale=False, hoverinfo="skip"),
        go.Heatmap(z=map_tile[::-1], dx=cell, dy=cell, y0=(side - 1) / 2 - (rows - 1) * cell / 2, xaxis="x2",
                   coloraxis="coloraxis", hovertemplate="code value %{z:.3f}<extra></extra>"),
    ])
    square = dict(visible=False, scaleanchor="y")  # square pixels
    fig.update_layout(height=110 * n + 60, margin=dict(t=20, b=20), coloraxis=dict(colorscale="Viridis"),
                      xaxis=dict(domain=[0, split * 0.95], **square), xaxis2=dict(domain=[split, 1], **square),
                      yaxis=dict(visible=False))
    return fig

# --- sidebar ------------------------------------------------------------------------------
with st.sidebar:
    st.header("Reconstruction")
    chosen = ui.model_picker("Models", key="rec_models", multi=True, defaults=DEFAULT_MODELS)
    mode = st.radio("Digits", ["Random", "By class", "By test index"], key="rec_mode", horizontal=True)
    count = st.slider("How many digits", 4, MOST_DIGITS, 10, key="rec_count")
    if mode == "Random":
        if st.button("New random digits", key="rec_shuffle", icon="🎲"):
            st.session_state["rec_seed"] = st.session_state.get("rec_seed", 0) + 1
    elif mode == "By class":
        digit_class = st.selectbox("Digit", list(range(10)), key="rec_class")
    else:
        index_text = st.text_input("Test indices, comma-separated", "0, 1, 2, 3, 4, 7, 11, 18, 61, 84",
                                   key="rec_indices", max_chars=browser_values.MAX_INDEX_TEXT,
                                   help=f"Up to {MOST_DIGITS} of them, from 0 to 9,999")

test = ui.test_digits("mnist")
if mode == "Random":
    index = np.random.default_rng(st.session_state.get("rec_seed", 0)).choice(len(test), count, replace=False)
elif mode == "By class":
    rng = np.random.default_rng(digit_class)
    index = rng.choice(np.flatnonzero(test.labels == digit_class), count, replace=False)
else:
    try:
        index = np.array(browser_values.typed_indices(index_text, len(test), MOST_DIGITS))
    except ValueError as exc:
        st.error(str(exc))
        st.stop()
digits = test.subset(index)

st.title("Reconstruction")
st.markdown("Each autoencoder squeezes a digit through its code and rebuilds it. The top row is the "
            "original test digit; each row below is one model's reconstruction.")
ui.source_caption(test.source)

models = {}
for name in chosen:
    try:
        models[name] = ui.load_model(name)
    except (FileNotFoundError, ValueError) as exc:
        ui.show_model_error(name, exc)

tab_grid, tab_compare, tab_worst, tab_codes, tab_layers, tab_loss = st.tabs(
    ["Reconstructions", "Compare models", "Worst digits", "Codes", "Layers", "BCE vs MSE"],
    key="rec_tab", on_change="rerun", bind="query-params")

# --- originals and reconstructions -------------------------------------------------------
if tab_grid.open:  # only the open tab runs: the others cost nothing until picked
    with tab_grid:
        ui.digit_row(digits.images / 255.0, f"Originals (test digits {', '.join(map(str, index[:16]))})")
        if not models:
            st.info("Pick at least one model in the sidebar.")
        for name in models:
            row, bce = ui.reconstruction_row(name, index)
            ui.digit_row(row, f"{ui.describe(name)} · BCE {bce:.4f} on these digits")

# --- comparison table and per-class error ------------------------------------------------
if tab_compare.open:
    with tab_compare:
        rows, unusable = [], []
        for name in ui.available_models(("ae", "vae")):
            status = ui.checkpoint_status(name)
            if status.state != "ok":
                unusable.append(name)
                continue
            m = ui.model_metrics(name)
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
        metric = st.selectbox("Chart", list(METRICS.values()), key="rec_metric")
        st.plotly_chart(bar_figure({name: ([name], [value]) for name, value in table[metric].items()}, "model", metric,
                                   360, grouped=False, text_format=".4~g"), key="rec_metric_chart")

        if models:
            st.subheader("Error per digit class")
            per_class = []
            for name in models:
                for c, value in enumerate(ui.model_metrics(name).bce_per_class):
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
            worst_model = st.selectbox("Model", list(models), key="rec_worst_model", format_func=ui.describe)
            model, meta = models[worst_model]
            stored = ui.model_metrics(worst_model)
            n_worst = st.slider("How many", 3, len(stored.worst), 5, key="rec_worst_n")
            worst = np.array([i for i, _ in stored.worst[:n_worst]])
            errors = np.array([e for _, e in stored.worst[:n_worst]])
            subset = test.subset(worst)
            recon = inference.reconstruct(model, subset.floats(), torch.from_numpy(subset.labels))[:, 0].numpy()
            st.markdown(f"The {n_worst} test digits {worst_model} rebuilds worst, out of {stored.test_digits:,}"
                        + (f" (its digit {stored.digit} only)." if stored.digit is not None else "."))
            ui.digit_row(subset.images / 255.0, "Originals")
            ui.digit_row(recon, "Reconstructions")
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
            code_model = st.selectbox("Model", list(models), key="rec_code_model", format_func=ui.describe)
            model, _ = models[code_model]
            shown = min(len(index), 6)
            codes = latent.encode(model, digits.images[:shown], digits.labels[:shown])
            maps = code_maps(codes, model.code_shape)  # (digits, maps, rows, cols)
            n_maps = maps.shape[1]
            st.markdown(f"**{code_model}** turns each 784-pixel digit into {codes.shape[1]} numbers"
                        + (f", {n_maps} feature maps of {maps.shape[2]}x{maps.shape[3]}." if n_maps > 1 else "."))
            st.plotly_chart(code_figure(digits.images[:shown], maps), key="rec_code_maps")

        sparse_pair = [n for n in ("dense", "sparse") if ui.checkpoint_status(n).state == "ok"]
        if len(sparse_pair) == 2:
            st.subheader("Sparse vs dense codes")
            unit_means = {}
            for name in sparse_pair:
                codes = ui.encoded_test_digits(name)[:1000]
                unit_means[name] = (np.arange(codes.shape[1]), np.sort(codes.mean(0))[::-1])
                st.markdown(f"**{name}**: mean activation {codes.mean():.3f}, "
                            f"{(codes > 1e-6).mean() * 100:.0f}% of code values non-zero on 1,000 test digits")
            st.plotly_chart(bar_figure(unit_means, "code unit (sorted)", "mean activation", 320), key="rec_sparse_chart")
            st.caption("The L1 penalty on the code makes the sparse model use fewer, smaller activations "
                       "per digit, at some cost in reconstruction error.")

# --- layer summary -----------------------------------------------------------------------
if tab_layers.open:
    with tab_layers:
        for name, (model, meta) in models.items():
            rows = ui.layer_summary(name)
            with st.expander(f"{ui.describe(name)}: {meta['parameters']:,} parameters, {len(rows)} layers", expanded=len(models) == 1):
                st.dataframe(pd.DataFrame([{**r, "output shape": " x ".join(map(str, r["output shape"])) or "-"} for r in rows]),
                             hide_index=True, width="stretch")

# --- BCE versus MSE ----------------------------------------------------------------------
if tab_loss.open:
    with tab_loss:
        pair = [n for n in ("dense", "dense_mse") if ui.checkpoint_status(n).state == "ok"]
        if len(pair) < 2:
            st.info("This comparison needs usable dense and dense_mse checkpoints.")
        else:
            st.markdown("The same 784-32-784 network trained twice: once with binary cross-entropy, once "
                        "with mean squared error. BCE punishes a confident wrong pixel much harder than MSE "
                        "does, so the BCE model tends to draw crisper, darker strokes; MSE settles for grey "
                        "where it is unsure.")
            recons = {}
            for name in pair:
                model, meta = ui.load_model(name)
                recons[name] = inference.reconstruct(model, digits.floats(), torch.from_numpy(digits.labels))[:, 0].numpy()
            ui.digit_row(digits.images / 255.0, "Originals")
            ui.digit_row(recons["dense"], "dense (BCE)")
            ui.digit_row(recons["dense_mse"], "dense_mse (MSE)")
            ui.digit_row(np.abs(recons["dense"] - recons["dense_mse"]) * 3, "Difference x3 (white = they disagree)")
            rows = []
            for name in pair:
                m = ui.model_metrics(name)
                rows.append({"model": name, "trained with": "BCE" if name == "dense" else "MSE",
                             "test BCE per pixel": m.bce, "test MSE per pixel": m.mse,
                             f"PSNR at noise {DENOISE_NOISE[1]:g}": m.psnr_denoised})
            st.dataframe(pd.DataFrame(rows), hide_index=True)
