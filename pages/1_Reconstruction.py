"""Reconstruction: originals vs each model's reconstruction, model comparison, worst digits, codes."""

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
import torch
from plotly.subplots import make_subplots

import ui
from core import evaluate, latent, metrics
from core.models import code_maps, layer_summary

st.set_page_config(page_title="Reconstruction · Autoencoder Lab", page_icon="🔢", layout="wide")

DEFAULT_MODELS = ["dense", "deep", "conv", "vae"]
METRICS = {"bce": "BCE per pixel", "mse": "MSE per pixel", "euclidean_sum": "Summed Euclidean error",
           "parameters": "Parameters", "mean_code_activation": "Mean code activation"}

# --- sidebar ------------------------------------------------------------------------------
with st.sidebar:
    st.header("Reconstruction")
    chosen = ui.model_picker("Models", key="rec_models", multi=True, defaults=DEFAULT_MODELS)
    mode = st.radio("Digits", ["Random", "By class", "By test index"], key="rec_mode", horizontal=True)
    count = st.slider("How many digits", 4, 16, 10, key="rec_count")
    if mode == "Random":
        if st.button("New random digits", key="rec_shuffle", icon="🎲"):
            st.session_state["rec_seed"] = st.session_state.get("rec_seed", 0) + 1
    elif mode == "By class":
        digit_class = st.selectbox("Digit", list(range(10)), key="rec_class")
    else:
        index_text = st.text_input("Test indices, comma-separated", "0, 1, 2, 3, 4, 7, 11, 18, 61, 84",
                                   key="rec_indices", help="0 to 9,999")

test = ui.test_digits("mnist")
if mode == "Random":
    index = np.random.default_rng(st.session_state.get("rec_seed", 0)).choice(len(test), count, replace=False)
elif mode == "By class":
    rng = np.random.default_rng(digit_class)
    index = rng.choice(np.flatnonzero(test.labels == digit_class), count, replace=False)
else:
    try:
        index = np.array([int(part) for part in index_text.replace(" ", "").split(",") if part])
    except ValueError:
        st.error("Test indices must be whole numbers separated by commas, such as 3, 14, 159.")
        st.stop()
    if index.size == 0 or index.min() < 0 or index.max() >= len(test):
        st.error(f"Pick test indices from 0 to {len(test) - 1:,}.")
        st.stop()
digits = test.subset(index)
x, y = digits.floats(), torch.from_numpy(digits.labels)

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
    ["Reconstructions", "Compare models", "Worst digits", "Codes", "Layers", "BCE vs MSE"])

# --- originals and reconstructions -------------------------------------------------------
with tab_grid:
    ui.digit_row(digits.images / 255.0, f"Originals (test digits {', '.join(map(str, index[:16]))})")
    if not models:
        st.info("Pick at least one model in the sidebar.")
    for name, (model, meta) in models.items():
        recon = evaluate.reconstruct(model, x, y)
        bce = metrics.bce_per_pixel(recon, x).mean()
        ui.digit_row(recon[:, 0].numpy(), f"{ui.describe(name)} · BCE {bce:.4f} on these digits")

# --- comparison table and per-class error ------------------------------------------------
with tab_compare:
    rows, unusable = [], []
    for name in ui.available_models(("ae", "vae")):
        status = ui.checkpoint_status(name)
        if status.state != "ok":
            unusable.append(name)
            continue
        m = status.meta["metrics"]
        rows.append({"model": name, **{label: m.get(key) for key, label in METRICS.items()},
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
    chart = px.bar(table.reset_index(), x="model", y=metric, color="model", text_auto=".4~g")
    chart.update_layout(showlegend=False, height=360, margin=dict(t=20, b=20))
    st.plotly_chart(chart, key="rec_metric_chart")

    if models:
        st.subheader("Error per digit class")
        per_class = []
        for name, (_, meta) in models.items():
            for c, value in enumerate(meta["metrics"]["bce_per_class"]):
                if value is not None:
                    per_class.append({"model": name, "digit": str(c), "BCE per pixel": value})
        chart = px.bar(pd.DataFrame(per_class), x="digit", y="BCE per pixel", color="model", barmode="group")
        chart.update_layout(height=380, margin=dict(t=20, b=20))
        st.plotly_chart(chart, key="rec_class_chart")
        by_digit = pd.DataFrame(per_class).groupby("digit")["BCE per pixel"].mean()
        st.caption(f"Averaged over these models, {by_digit.idxmin()}s are the easiest digits to rebuild "
                   f"and {by_digit.idxmax()}s the hardest.")

# --- worst reconstructed digits ----------------------------------------------------------
with tab_worst:
    if models:
        worst_model = st.selectbox("Model", list(models), key="rec_worst_model", format_func=ui.describe)
        model, meta = models[worst_model]
        stored = meta["metrics"]
        n_worst = st.slider("How many", 3, len(stored["worst"]), 5, key="rec_worst_n")
        worst = np.array([i for i, _ in stored["worst"][:n_worst]])
        errors = np.array([e for _, e in stored["worst"][:n_worst]])
        subset = test.subset(worst)
        recon = evaluate.reconstruct(model, subset.floats(), torch.from_numpy(subset.labels))[:, 0].numpy()
        st.markdown(f"The {n_worst} test digits {worst_model} rebuilds worst, out of {stored['test_digits']:,}"
                    + (f" (its digit {stored['digit']} only)." if "digit" in stored else "."))
        ui.digit_row(subset.images / 255.0, "Originals")
        ui.digit_row(recon, "Reconstructions")
        st.dataframe(pd.DataFrame({"test index": worst, "label": subset.labels, "BCE per pixel": errors.round(4)}),
                     hide_index=True)
        histogram = stored["bce_histogram"]
        edges = np.array(histogram["edges"])
        hist = go.Figure(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=histogram["counts"], width=np.diff(edges)))
        hist.add_vline(x=float(errors[-1]), line_dash="dash", annotation_text="worst shown")
        hist.update_layout(height=280, margin=dict(t=20, b=20), xaxis_title="BCE per pixel",
                           yaxis_title="test digits", yaxis_type="log")
        st.plotly_chart(hist, key="rec_worst_hist")

# --- what codes look like ----------------------------------------------------------------
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
        fig = make_subplots(rows=shown, cols=n_maps + 1, horizontal_spacing=0.01, vertical_spacing=0.02)
        for i in range(shown):
            fig.add_trace(go.Heatmap(z=digits.images[i][::-1], colorscale="gray", showscale=False), i + 1, 1)
            for j in range(n_maps):
                fig.add_trace(go.Heatmap(z=maps[i, j][::-1], coloraxis="coloraxis"), i + 1, j + 2)
        fig.update_layout(height=110 * shown + 60, margin=dict(t=20, b=20), coloraxis=dict(colorscale="Viridis"))
        fig.update_xaxes(visible=False)
        fig.for_each_yaxis(lambda axis: axis.update(visible=False, scaleanchor=axis.anchor))  # square pixels
        st.plotly_chart(fig, key="rec_code_maps")

    sparse_pair = [n for n in ("dense", "sparse") if ui.checkpoint_status(n).state == "ok"]
    if len(sparse_pair) == 2:
        st.subheader("Sparse vs dense codes")
        sample = test.subset(slice(0, 1000))
        rows = []
        for name in sparse_pair:
            model, meta = ui.load_model(name)
            codes = latent.encode(model, sample.images, sample.labels)
            unit_means = np.sort(codes.mean(0))[::-1]
            rows += [{"model": name, "code unit (sorted)": i, "mean activation": float(v)} for i, v in enumerate(unit_means)]
            st.markdown(f"**{name}**: mean activation {codes.mean():.3f}, "
                        f"{(codes > 1e-6).mean() * 100:.0f}% of code values non-zero")
        chart = px.bar(pd.DataFrame(rows), x="code unit (sorted)", y="mean activation", color="model", barmode="group")
        chart.update_layout(height=320, margin=dict(t=20, b=20))
        st.plotly_chart(chart, key="rec_sparse_chart")
        st.caption("The L1 penalty on the code makes the sparse model use fewer, smaller activations "
                   "per digit, at some cost in reconstruction error.")

# --- layer summary -----------------------------------------------------------------------
with tab_layers:
    for name, (model, meta) in models.items():
        rows = layer_summary(model)
        with st.expander(f"{ui.describe(name)}: {meta['parameters']:,} parameters, {len(rows)} layers", expanded=len(models) == 1):
            st.dataframe(pd.DataFrame([{**r, "output shape": " x ".join(map(str, r["output shape"])) or "-"} for r in rows]),
                         hide_index=True, width="stretch")

# --- BCE versus MSE ----------------------------------------------------------------------
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
            recons[name] = evaluate.reconstruct(model, x, y)[:, 0].numpy()
        ui.digit_row(digits.images / 255.0, "Originals")
        ui.digit_row(recons["dense"], "dense (BCE)")
        ui.digit_row(recons["dense_mse"], "dense_mse (MSE)")
        ui.digit_row(np.abs(recons["dense"] - recons["dense_mse"]) * 3, "Difference x3 (white = they disagree)")
        rows = []
        for name in pair:
            m = ui.checkpoint_status(name).meta["metrics"]
            rows.append({"model": name, "trained with": "BCE" if name == "dense" else "MSE",
                         "test BCE per pixel": m["bce"], "test MSE per pixel": m["mse"], "PSNR at noise 0.5": m["psnr_denoised"]})
        st.dataframe(pd.DataFrame(rows), hide_index=True)
