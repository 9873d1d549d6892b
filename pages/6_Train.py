"""Train page: retrain any registry model with your own settings, watch it learn, save it."""

import dataclasses

import numpy as np
import plotly.graph_objects as go
import streamlit as st

import ui
from core import jobs
from core.data import CLASS_NAMES, DATASETS, NOISE_KINDS
from core.evaluate import checkpoint_headline, headline
from core.metrics import ModelMetrics
from core.images import png_data_url, tile, to_png
from core.registry import OPTIMIZERS, create_model, get_spec, list_models

st.set_page_config(page_title="Train · Autoencoder Lab", page_icon="🏋️", layout="wide")

POLL_SECONDS = 1.0  # how often the progress area asks the job for news
CHART_CONFIG = {"displayModeBar": False}  # the tool bar would cover the legend of these small charts
BATCH_SIZES = (32, 64, 128, 256, 512)
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0)  # Adadelta wants ~1
CODE_SIZES = (2, 4, 8, 16, 32, 64, 128)
CODE_CHANNELS = (1, 2, 4, 8, 16, 32)
L1_WEIGHTS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2)
MAX_ANIMATION_FRAMES = 60  # longer runs show every k-th epoch (and always the last)
DATASET_LABELS = {"mnist": "MNIST digits", "fashion": "Fashion-MNIST"}
NOISE_LABELS = {"gaussian": "Gaussian", "salt_pepper": "salt and pepper", "masking": "masking"}
LOSS_UNITS = {"ae": "loss per pixel", "vae": "loss, nats per digit", "classifier": "cross-entropy"}


def count(n: int, noun: str) -> str:
    """"1 epoch", "2 epochs"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def with_default(options: tuple, default) -> list:
    """The options, plus the registry's default if it is not among them, in order."""
    return sorted({*options, default})


def shape_text(shape: tuple[int, ...]) -> str:
    """(8, 4, 4) -> "8×4×4"."""
    return "×".join(str(n) for n in shape)


# The config fields people may change, each with its sidebar control, in the sidebar's order
CONFIG_CONTROLS = {
    "recon_loss": lambda config, key: st.radio(
        "Reconstruction loss", ("bce", "mse"), index=("bce", "mse").index(config.recon_loss),
        horizontal=True, format_func=str.upper, key=f"{key}_loss"),
    "code_size": lambda config, key: st.select_slider(
        "Code size", with_default(CODE_SIZES, config.code_size), config.code_size, key=f"{key}_code"),
    "latent": lambda config, key: st.select_slider(
        "Latent dimensions", with_default(CODE_SIZES, config.latent), config.latent, key=f"{key}_latent"),
    "filters": lambda config, key: (*config.filters[:-1], st.select_slider(
        f"Code channels (each {shape_text(config.code_shape[1:])})", with_default(CODE_CHANNELS, config.filters[-1]),
        config.filters[-1], key=f"{key}_channels")),
    "l1": lambda config, key: st.select_slider(
        "L1 weight on the code", with_default(L1_WEIGHTS, config.l1), config.l1, format_func=lambda v: f"{v:g}",
        key=f"{key}_l1"),
}


def describe_settings(job: jobs.TrainJob) -> str:
    """One line with what a job trains: model, data, schedule and the settings that matter."""
    recipe, config = job.recipe, job.config
    parts = [f"**{job.model_name}**", DATASET_LABELS[recipe.dataset], count(recipe.epochs, "epoch"),
             f"batch {recipe.batch_size}", f"{recipe.optimizer.capitalize()} lr {recipe.lr:g}"]
    settings = dataclasses.asdict(config) if config is not None else {}  # None: a job started with no settings
    if "recon_loss" in settings:
        parts.append(config.recon_loss.upper())
    if settings and config.code_shape:
        parts.append(f"code {shape_text(config.code_shape)}")
    if settings.get("l1", 0) > 0:
        parts.append(f"L1 {config.l1:g}")
    if recipe.noise is not None:
        parts.append(f"{NOISE_LABELS[recipe.noise]} noise {recipe.noise_strength:g}")
    if recipe.digit is not None:
        parts.append(f"only {CLASS_NAMES[recipe.dataset][recipe.digit]}")
    return " · ".join(parts)


def progress_text(job: jobs.TrainJob) -> str:
    if job.state == jobs.QUEUED:
        return "Waiting for another training run to finish: this machine trains one model at a time…"
    if job.state == jobs.LOADING:
        return f"Loading the {DATASET_LABELS[job.recipe.dataset]} training data…"
    if job.state == jobs.EVALUATING:
        return "Measuring the trained model on the test split…"
    event = job.latest
    if event is None:
        return "Starting…"
    if job.cancel_requested:
        return f"Stopping after epoch {event.epoch}: keeping what was learned…"
    return (f"Epoch {event.epoch} of {event.epochs} · batch {event.batch}/{event.batches} · "
            f"{event.elapsed:.0f} s so far · about {event.eta:.0f} s left")


def loss_chart(history: list[dict], epochs: int, kind: str) -> go.Figure:
    """Training and validation loss per epoch, on an x axis as long as the planned run."""
    x = [row["epoch"] for row in history]
    fig = go.Figure()
    fig.add_scatter(x=x, y=[row["train"]["loss"] for row in history], name="training", mode="lines+markers")
    fig.add_scatter(x=x, y=[row["val"]["loss"] for row in history], name="validation (1,000 test images)",
                    mode="lines+markers")
    fig.update_layout(height=320, margin=dict(l=60, r=10, t=30, b=40), uirevision="loss",
                      xaxis=dict(title="epoch", range=[0.5, epochs + 0.5], tick0=1, dtick=-(-epochs // 10)),
                      yaxis_title=LOSS_UNITS[kind], legend=dict(orientation="h", y=1.12))
    return fig


def originals_over_reconstructions(originals: np.ndarray, reconstructions: np.ndarray) -> np.ndarray:
    """The ten fixed digits, each above its reconstruction, in two blocks of five: (115, 144) in [0, 1]."""
    rows = np.stack([originals[:5], reconstructions[:5], originals[5:], reconstructions[5:]])  # (4, 5, 28, 28)
    return tile(rows)


def reconstruction_animation(originals: np.ndarray, snapshots: list[np.ndarray]) -> go.Figure:
    """Plotly animation of the fixed digits' reconstructions, one frame per epoch.

    It opens on the last epoch; the play button replays the run from epoch 1.
    """
    epochs = list(range(1, len(snapshots) + 1))
    step = -(-len(epochs) // MAX_ANIMATION_FRAMES)
    shown = sorted({*epochs[::step], epochs[-1]})
    sources = {e: png_data_url(originals_over_reconstructions(originals, snapshots[e - 1]), scale=3) for e in shown}
    still = dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))
    play = dict(fromcurrent=False, frame=dict(duration=max(80, 4000 // len(shown)), redraw=True),
                transition=dict(duration=0))
    fig = go.Figure(go.Image(source=sources[shown[-1]], hoverinfo="skip"),
                    frames=[go.Frame(data=[go.Image(source=sources[e])], name=str(e)) for e in shown])
    fig.update_layout(
        height=380, margin=dict(l=0, r=0, t=0, b=0),
        xaxis=dict(visible=False), yaxis=dict(visible=False),
        sliders=[dict(active=len(shown) - 1, currentvalue=dict(prefix="epoch "), x=0.24, len=0.76, y=0,
                      pad=dict(t=10), steps=[dict(method="animate", label=str(e), args=[[str(e)], still])
                                             for e in shown])],
        updatemenus=[dict(type="buttons", direction="left", showactive=False, x=0, xanchor="left", y=0,
                          yanchor="top", pad=dict(t=45),
                          buttons=[dict(label="▶", method="animate", args=[None, play]),
                                   dict(label="◼", method="animate", args=[[None], still])])],
    )
    return fig


@st.fragment(run_every=POLL_SECONDS)
def live_progress(job: jobs.TrainJob) -> None:
    """The part of the page that follows a running job; it reruns alone, every POLL_SECONDS."""
    if not job.running:
        st.rerun()  # the whole page, to show the results
    st.progress(job.fraction, text=progress_text(job))
    history = job.history
    left, right = st.columns([3, 2])
    with left:
        if history:
            chart = loss_chart(history, job.recipe.epochs, get_spec(job.model_name).kind)
            st.plotly_chart(chart, key="trn_live_loss", config=CHART_CONFIG)
        else:
            st.caption("The loss chart appears after the first epoch.")
    with right:
        snapshots = job.snapshots
        if snapshots and job.fixed_digits is not None:
            st.markdown(f"**Ten fixed test images over their reconstructions after epoch {len(snapshots)}**")
            ui.show_png(to_png(originals_over_reconstructions(job.fixed_digits, snapshots[-1]), scale=3))
    st.button("Cancel", key="trn_cancel", on_click=job.cancel, disabled=job.cancel_requested,
              help="Stops within one epoch; what the model learned so far is kept and can be saved.")


def show_results(job: jobs.TrainJob) -> None:
    if job.state == jobs.FAILED:
        st.error(job.error)
        return
    if job.state == jobs.CANCELLED:
        st.warning("Cancelled before training started, so there is nothing to save.")
        return
    result, kind = job.result, get_spec(job.model_name).kind
    if result.cancelled:
        st.warning(f"Stopped after {result.epochs_done} of {job.recipe.epochs} epochs (the last one partly); "
                   "what the model learned is kept and can be saved below.")
    else:
        st.success(f"Trained {count(result.epochs_done, 'epoch')} in {result.seconds:.0f} s on {result.source}.")
    shipped = ui.checkpoint_status(job.model_name)
    comparison = ""
    if shipped.state == "ok" and shipped.meta["recipe"].get("dataset", "mnist") == job.recipe.dataset:
        comparison = (f" The shipped {job.model_name} ({count(shipped.meta['epochs'], 'epoch')}): "
                      f"{checkpoint_headline(shipped.meta)}.")
    st.markdown(f"On the test split: **{headline(ModelMetrics.from_dict(job.metrics), job.recipe.noise is not None)}**.{comparison}")

    left, right = st.columns([3, 2])
    with left:
        st.plotly_chart(loss_chart(result.history, job.recipe.epochs, kind), key="trn_final_loss",
                        config=CHART_CONFIG)
        st.caption("Training loss is measured on augmented (and, for denoising, noisy) images while the "
                   "model learns, so it can sit above the validation loss.")
    with right:
        if result.snapshots:
            st.markdown("**Ten fixed test images over their reconstructions, epoch by epoch**")
            animation = reconstruction_animation(result.fixed_digits, result.snapshots)
            st.plotly_chart(animation, key="trn_animation", config=CHART_CONFIG)
        else:
            st.caption("The classifier rebuilds no images, so there is nothing to animate.")

    st.subheader("Save it")
    saved = st.session_state.get("trn_saved", {})
    if job.id in saved:
        name = saved[job.id]
        st.success(f"Saved as **{name}**. Pick it on the other pages:")
        for path, (title, _) in ui.existing_pages().items():
            if path != "pages/6_Train.py":
                st.page_link(path, label=title)
        return
    with st.form("trn_save_form"):
        name = st.text_input("Checkpoint name", value=f"my-{job.model_name}".replace("_", "-"), max_chars=40,
                             key="trn_save_name",
                             help="1 to 40 lowercase letters, digits, '-' or '_'.")
        overwrite = st.checkbox("Replace an existing checkpoint of this name, even a shipped one",
                                key="trn_overwrite")
        submitted = st.form_submit_button("Save", type="primary")
    if submitted:
        name = name.strip()
        try:
            job.save(name, overwrite=overwrite)
        except (ValueError, FileExistsError) as exc:
            st.error(str(exc))
        else:
            st.session_state["trn_saved"] = {**saved, job.id: name}
            st.rerun()


# --- sidebar: what to train ------------------------------------------------------------------

# The job lives in the session and in the URL, so a page rerun or a reloaded tab finds it again.
job = st.session_state.get("trn_job") or jobs.get(st.query_params.get("job"))
st.session_state["trn_job"] = job
if job is not None:
    st.query_params["job"] = job.id  # again after a visit to another page, which clears it
busy = job is not None and job.running

with st.sidebar:
    st.header("What to train")
    names = list_models()
    model_name = st.selectbox("Model", names, index=names.index("dense"), key="trn_model")
    spec = get_spec(model_name)
    st.caption(spec.summary)
    key = f"trn_{model_name}"  # per-model keys: each model keeps its own settings and defaults
    recipe, config = spec.recipe, spec.config
    dataset = st.radio("Data", DATASETS, index=DATASETS.index(recipe.dataset), horizontal=True,
                       format_func=DATASET_LABELS.get, key=f"{key}_dataset")
    epochs = int(st.number_input("Epochs", 1, 500, recipe.epochs, key=f"{key}_epochs"))
    batch_size = st.select_slider("Batch size", with_default(BATCH_SIZES, recipe.batch_size),
                                  recipe.batch_size, key=f"{key}_batch")
    optimizer = st.radio("Optimizer", OPTIMIZERS, index=OPTIMIZERS.index(recipe.optimizer), horizontal=True,
                         format_func={"adam": "Adam", "adadelta": "Adadelta"}.get, key=f"{key}_optimizer")
    default_lr = recipe.lr if optimizer == recipe.optimizer else (1.0 if optimizer == "adadelta" else 1e-3)
    lr = st.select_slider("Learning rate", with_default(LEARNING_RATES, default_lr), default_lr,
                          format_func=lambda v: f"{v:g}", key=f"{key}_lr_{optimizer}")
    recipe_changes: dict = {}
    settings = dataclasses.asdict(config)
    config_changes = {field: control(config, key) for field, control in CONFIG_CONTROLS.items()
                      if field in settings and (field != "l1" or config.l1 > 0)}  # L1 only where the model has it on
    if recipe.noise is not None:
        recipe_changes["noise"] = st.selectbox("Noise on the inputs", NOISE_KINDS,
                                               index=NOISE_KINDS.index(recipe.noise),
                                               format_func=NOISE_LABELS.get, key=f"{key}_noise")
        recipe_changes["noise_strength"] = st.slider("Noise factor", 0.05, 1.0, recipe.noise_strength, 0.05,
                                                     key=f"{key}_noise_strength")
    if recipe.digit is not None:
        recipe_changes["digit"] = st.selectbox("Train on this class only", range(10), index=recipe.digit,
                                               format_func=CLASS_NAMES[dataset].__getitem__, key=f"{key}_digit")
    chosen_recipe = dataclasses.replace(recipe, dataset=dataset, epochs=epochs, batch_size=batch_size,
                                        optimizer=optimizer, lr=lr, **recipe_changes)
    chosen_config = dataclasses.replace(config, **config_changes)
    start = st.button("Train", type="primary", disabled=busy, width="stretch", key="trn_start",
                      help="Training runs in the background: you can switch pages and come back.")

if start:
    job = jobs.start(model_name, chosen_recipe, chosen_config)
    st.session_state["trn_job"] = job
    st.rerun()

# --- main area -------------------------------------------------------------------------------

st.title("Train a model")
st.markdown("Retrain any model of the lab with your own settings, watch the loss fall and the "
            "reconstructions sharpen epoch by epoch, then save it under your own name to use it on "
            "the other pages.")

if job is None:
    parameters = sum(p.numel() for p in create_model(model_name, chosen_config).parameters())
    st.info(f"Pick a model and its settings in the sidebar, then press **Train**. With these settings "
            f"**{model_name}** has {parameters:,} parameters.")
    shipped = ui.checkpoint_status(model_name)
    if shipped.state == "ok" and shipped.meta["history"]:
        meta = shipped.meta
        st.markdown(f"For comparison, the shipped **{model_name}**: {checkpoint_headline(meta)} on the "
                    f"test split after {count(meta['epochs'], 'epoch')} ({meta['data_source']}).")
        st.plotly_chart(loss_chart(meta["history"], meta["epochs"], spec.kind), key="trn_shipped_loss",
                        config=CHART_CONFIG)
else:
    st.markdown(describe_settings(job))
    if job.running:
        live_progress(job)
    else:
        show_results(job)
