"""Train page: retrain any registry model with your own settings, watch it learn, save it."""

import dataclasses

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from components import timeline as timeline_component
from core import jobs, latent_view, timeline, training_cost
from core.catalogue import checkpoint_headline, headline
from core.data import CLASS_NAMES, DATASETS, NOISE_KINDS
from core.denoise import NOISE_RANGES
from core.images import png_data_url, tile, to_png
from core.registry import OPTIMIZERS, create_model, get_spec, list_models
from ui import caches, glossary, pages, session, settings, widgets

st.set_page_config(page_title="Train · Autoencoder Lab", layout="wide")

POLL_SECONDS = 1.0  # how often the progress area asks the job for news
UNAVAILABLE_POLL_SECONDS = 5.0  # how often a page that cannot train asks whether the cluster is back
CHART_CONFIG = {"displayModeBar": False}  # the tool bar would cover the legend of these small charts
BATCH_SIZES = (32, 64, 128, 256, 512)
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0)  # Adadelta wants ~1
CODE_SIZES = (2, 4, 8, 16, 32, 64, 128)
CODE_CHANNELS = (1, 2, 4, 8, 16, 32)
L1_WEIGHTS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2)
DIGIT_CHOICES = training_cost.TRAINING_DIGIT_CHOICES
MAX_ANIMATION_FRAMES = 60  # longer runs show every k-th epoch (and always the last)
DATASET_LABELS = {"mnist": "MNIST digits", "fashion": "Fashion-MNIST"}
LOSS_UNITS = {"ae": "loss per pixel", "denoiser": "loss per pixel", "vae": "loss, nats per digit", "classifier": "cross-entropy"}
WATCHING = ("You are watching a run another browser started, through its link: only that browser can "
            "cancel or save it. Train your own from the sidebar.")


def count(n: int, noun: str) -> str:
    """"1 epoch", "2 epochs"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def with_default(options: tuple, default) -> list:
    """The options, plus the registry's default if it is not among them, in order."""
    return sorted({*options, default})


def use_recipe(key: str, recipe) -> None:
    """Put a recipe's digits, epochs, batch size, optimizer and learning rate into this model's widgets."""
    st.session_state[f"{key}_digits"] = recipe.train_digits or max(DIGIT_CHOICES)
    st.session_state[f"{key}_epochs"] = recipe.epochs
    st.session_state[f"{key}_batch"] = recipe.batch_size
    st.session_state[f"{key}_optimizer"] = recipe.optimizer
    st.session_state[f"{key}_lr_{recipe.optimizer}"] = recipe.lr


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
    parts = [f"**{job.model_name}**", DATASET_LABELS[recipe.dataset],
             f"{training_cost.training_digits(job.model_name, recipe):,} digits", count(recipe.epochs, "epoch"),
             f"batch {recipe.batch_size}", f"{recipe.optimizer.capitalize()} lr {recipe.lr:g}"]
    fields = dataclasses.asdict(config) if config is not None else {}  # None: a job started with no settings
    if "recon_loss" in fields:
        parts.append(config.recon_loss.upper())
    if fields and config.code_shape:
        parts.append(f"code {shape_text(config.code_shape)}")
    if fields.get("l1", 0) > 0:
        parts.append(f"L1 {config.l1:g}")
    if recipe.noise is not None:
        parts.append(f"{NOISE_RANGES[recipe.noise].noun} noise {recipe.noise_strength:g}")
    if recipe.digit is not None:
        parts.append(f"only {CLASS_NAMES[recipe.dataset][recipe.digit]}")
    return " · ".join(parts)


def duration(seconds: float) -> str:
    """"40 s", "3 min", "1 h 05 min": how long something takes, for people."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def queue_text(job: jobs.TrainJob) -> str:
    slots = count(jobs.training_slots(), "model")
    return (f"Waiting in the training queue: position {job.queue_position or 1}, about "
            f"{duration(job.expected_wait())} before it starts (this server trains {slots} at a time)…")


def progress_text(job: jobs.TrainJob) -> str:
    if job.state == jobs.QUEUED:
        return queue_text(job)
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
            f"{event.elapsed:.0f} s so far · about {duration(job.remaining_seconds())} left")


def cost_text(model_name: str, recipe, cap_minutes: float) -> str:
    """What a run with these settings costs, said before it starts."""
    seconds = training_cost.estimate_seconds(model_name, recipe)
    digits = training_cost.training_digits(model_name, recipe)
    text = (f"About **{duration(seconds)}** of training on one core: {count(recipe.epochs, 'epoch')} × "
            f"{digits:,} digits.")
    if seconds > cap_minutes * 60:
        text += (f" This server stops a run after {cap_minutes:g} min, keeping what it learnt: "
                 "fewer epochs or digits will finish.")
    return text


def explain_loss(history: list[dict], kind: str, recon_loss: str | None) -> None:
    """Under a loss chart: what its loss is, with the last epoch's test figure."""
    last = (history[-1].get("val") or history[-1].get("train")) if history else None
    if not last:
        return
    if kind == "vae" and "kl" in last:
        glossary.note(("ELBO", f"{last['loss']:.1f} nats a test digit after the last epoch"),
                      ("KL", f"{last['kl']:.1f} nats of it"), ("nats", "the unit of this loss"))
    elif kind in ("ae", "denoiser"):
        glossary.note(("MSE" if recon_loss == "mse" else "BCE",
                       f"{last.get('recon', last['loss']):.4f} per pixel on test digits after the last epoch"))


def loss_chart(history: list[dict], epochs: int, kind: str, live: list[tuple[float, float]] | None = None) -> go.Figure:
    """Training and validation loss per epoch, on an x axis as long as the planned run; `live`
    (epochs done, running loss) points draw the training line inside epochs as it learns."""
    x = [row["epoch"] for row in history]
    fig = go.Figure()
    if live:
        fig.add_scatter(x=[p[0] for p in live], y=[p[1] for p in live], name="training (running mean)",
                        mode="lines")
    else:
        fig.add_scatter(x=x, y=[row["train"]["loss"] for row in history], name="training", mode="lines+markers")
    fig.add_scatter(x=x, y=[row["val"]["loss"] for row in history], name="validation (1,000 test images)",
                    mode="lines+markers")
    fig.update_layout(height=320, margin=dict(l=60, r=10, t=30, b=40), uirevision="loss",
                      xaxis=dict(title="epoch", range=[0 if live else 0.5, epochs + 0.5], tick0=1,
                                 dtick=-(-epochs // 10)),
                      yaxis_title=LOSS_UNITS[kind], legend=dict(orientation="h", y=1.12))
    return fig


def unit(images: np.ndarray) -> np.ndarray:
    """Images in [0, 1]: uint8 ones (a finished run keeps its snapshots so) divided by 255."""
    return images.astype(np.float32) / 255 if images.dtype == np.uint8 else images


def originals_over_reconstructions(originals: np.ndarray, reconstructions: np.ndarray) -> np.ndarray:
    """The ten fixed digits, each above its reconstruction, in two blocks of five: (115, 144) in [0, 1]."""
    originals, reconstructions = unit(originals), unit(reconstructions)
    rows = np.stack([originals[:5], reconstructions[:5], originals[5:], reconstructions[5:]])  # (4, 5, 28, 28)
    return tile(rows)


def reconstruction_animation(originals: np.ndarray, snapshots: list[np.ndarray]) -> go.Figure:
    """Plotly animation of the fixed digits' reconstructions, one frame per epoch; `snapshots[e]`
    is after epoch e, [0] the untrained model.

    It opens on the last epoch; the play button replays the run from epoch 0.
    """
    epochs = list(range(len(snapshots)))
    step = -(-len(epochs) // MAX_ANIMATION_FRAMES)
    shown = sorted({*epochs[::step], epochs[-1]})
    sources = {e: png_data_url(originals_over_reconstructions(originals, snapshots[e]), scale=3) for e in shown}
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


def cancel_own(job: jobs.TrainJob, visitor: str) -> None:
    """The Cancel button's action: only the visitor who started the run stops it."""
    if job.owned_by(visitor):
        job.cancel()


def run_timeline_view(job: jobs.TrainJob, recorded: timeline.Timeline | None, live: bool) -> None:
    """The run's training timeline (components/timeline): while it trains, each epoch's points glide
    in as the epoch ends; once trained, the whole run on one scrubber."""
    st.markdown("**Watch it learn: 2,000 test digits in its code, epoch by epoch**")
    if recorded is None:
        st.caption("The points appear when the first epoch ends.")
        return
    kind = get_spec(job.model_name).kind
    payload = timeline.browser_bundle(recorded, caches.TIMELINE_LOSS_UNITS.get(kind, "loss"), job.recipe.epochs)
    bundle_id = latent_view.read_bundle(payload)[0]["id"]
    sprites_id, sprites = caches.timeline_sprites(job.recipe.dataset)
    timeline_component.send_bundle(bundle_id, payload)
    timeline_component.send_bundle(sprites_id, sprites)
    timeline_component.timeline_view("trn_timeline_live" if live else "trn_timeline", [(job.model_name, bundle_id)],
                                     sprites_id, list(widgets.DIGIT_COLORS), height=360, follow=live)


def live_timeline(job: jobs.TrainJob) -> timeline.Timeline | None:
    """The epochs a running job has finished, as a timeline (their rows carry the positions)."""
    indices, labels = timeline.point_labels(job.recipe.dataset)
    return timeline.live_timeline(job.history, labels, indices, job.recipe.dataset)


@st.fragment(run_every=POLL_SECONDS)
def live_progress(job: jobs.TrainJob, mine: bool) -> None:
    """The part of the page that follows a running job; it reruns alone, every POLL_SECONDS."""
    try:
        running = job.running
    except jobs.TrainingUnavailable:  # the training cluster stopped answering: the page says so
        running = False
    if not running:
        st.rerun()  # the whole page, to show the results
    st.progress(job.fraction, text=progress_text(job))
    live, event = job.live_loss, job.latest
    left, right = st.columns([3, 2])
    with left:
        if live:
            chart = loss_chart(job.history, job.recipe.epochs, get_spec(job.model_name).kind, live)
            st.plotly_chart(chart, key="trn_live_loss", config=CHART_CONFIG)
        elif job.state != jobs.QUEUED:
            st.caption("The loss chart appears with the first batches.")
    with right:
        preview = job.preview
        if preview is not None and job.fixed_digits is not None and event is not None:
            st.markdown(f"**Ten fixed test images over their reconstructions, epoch {event.epoch}, "
                        f"batch {event.batch} of {event.batches}**")
            widgets.show_png(to_png(originals_over_reconstructions(job.fixed_digits, preview), scale=3))
    if mine:
        st.button("Cancel", key="trn_cancel", on_click=cancel_own, args=(job, session.visitor_id()),
                  disabled=job.cancel_requested,
                  help="Stops within one epoch; what the model learned so far is kept and can be saved.")
    else:
        st.caption(WATCHING)
    if job.state == jobs.TRAINING:
        run_timeline_view(job, live_timeline(job), live=True)


@st.fragment(run_every=UNAVAILABLE_POLL_SECONDS)
def wait_for_training() -> None:
    """While training is unavailable, ask again now and then; the whole page comes back with it."""
    if jobs.unavailable() is None:
        st.rerun()


def expired_text(why: str | None, limits: jobs.JobLimits) -> str:
    """Why a finished run's link or tab no longer finds it, in a sentence."""
    if why == jobs.ROOM:
        return (f"The run in this link has expired: this server keeps at most {limits.keep_finished_runs} "
                f"finished runs ({limits.keep_finished_runs_per_visitor} per visitor) and drops the oldest "
                f"first, after at least {limits.keep_finished_at_least_minutes:g} minutes. Start a new one "
                "from the sidebar.")
    return (f"The run in this link has been forgotten: this server keeps a finished run "
            f"{limits.keep_finished_minutes:g} minutes, so it has expired. Start a new one from the sidebar.")


def show_results(job: jobs.TrainJob, mine: bool) -> None:
    if job.state == jobs.FAILED:
        st.error(job.error)
        return
    if job.state == jobs.CANCELLED:
        if job.stop_reason == "left":
            st.warning("This run was dropped from the queue: its tab was closed before its turn came. "
                       "Start it again from the sidebar.")
        else:
            st.warning("Cancelled before training started, so there is nothing to save.")
        return
    result, kind = job.result, get_spec(job.model_name).kind
    if result is None:  # forgotten since this run of the page began
        st.info(expired_text(jobs.why_forgotten(job.id), jobs.limits()))
        return
    if job.capped:
        st.warning(f"Stopped at this server's limit of {job.run_cap / 60:g} minutes per run, after "
                   f"{result.epochs_done} of {job.recipe.epochs} epochs (the last one partly); what the "
                   "model learned is kept and can be saved below.")
    elif result.cancelled:
        st.warning(f"Stopped after {result.epochs_done} of {job.recipe.epochs} epochs (the last one partly); "
                   "what the model learned is kept and can be saved below.")
    else:
        st.success(f"Trained {count(result.epochs_done, 'epoch')} in {result.seconds:.0f} s on {result.source}.")
    shipped = caches.checkpoint_status(job.model_name)
    comparison = ""
    if shipped.state == "ok" and shipped.meta["recipe"].get("dataset", "mnist") == job.recipe.dataset:
        comparison = (f" The shipped {job.model_name} ({count(shipped.meta['epochs'], 'epoch')}): "
                      f"{checkpoint_headline(shipped.meta)}.")
    st.markdown(f"On the test split: **{headline(job.metrics, job.recipe.noise is not None)}**.{comparison}")

    left, right = st.columns([3, 2])
    with left:
        st.plotly_chart(loss_chart(result.history, job.recipe.epochs, kind), key="trn_final_loss",
                        config=CHART_CONFIG)
        explain_loss(result.history, kind, getattr(job.config or get_spec(job.model_name).config, "recon_loss", None))
        st.caption("Training loss is measured on augmented (and, for denoising, noisy) images while the "
                   "model learns, so it can sit above the validation loss.")
    with right:
        if result.snapshots:
            st.markdown("**Ten fixed test images over their reconstructions, epoch by epoch from the "
                        "untrained model (epoch 0)**")
            animation = reconstruction_animation(result.fixed_digits, result.snapshots)
            st.plotly_chart(animation, key="trn_animation", config=CHART_CONFIG)
        else:
            st.caption("The classifier rebuilds no images, so there is nothing to animate.")
    if result.positions:
        run_timeline_view(job, caches.run_timeline(job.id, result, job.recipe.dataset), live=False)

    st.subheader("Save it")
    if not mine:
        st.caption(WATCHING)
        return
    if job.saved_as is not None:  # a run is saved once, whichever tab saved it
        st.success(f"Saved as **{job.saved_as}**. Open it where it can be used:")
        for page, query in pages_offering(job.saved_as):
            st.page_link(page.path, label=page.title, icon=page.icon, query_params=query)
        return
    allowed = settings.current()
    with st.form("trn_save_form"):
        name = st.text_input("Model name", value=f"my-{job.model_name}".replace("_", "-"), max_chars=40,
                             key="trn_save_name",
                             help="1 to 40 lowercase letters, digits, '-' or '_'; spaces become '-'.")
        replace = False
        if allowed.allow_replace_shipped:
            replace = st.checkbox(f"Replace the shipped {job.model_name} (save it under that exact name)",
                                  key="trn_replace_shipped",
                                  help="This server's operator lets the Train page replace shipped models.")
        submitted = st.form_submit_button("Save", type="primary")
    if not allowed.allow_replace_shipped:
        st.caption("Saved models live beside the lab's shipped ones and never replace them or another "
                   "visitor's: replacing shipped models is an operator's job (`python -m core.train`), "
                   "and this server has not enabled it here (`AE_ALLOW_REPLACE_SHIPPED`).")
    if submitted:
        try:
            job.save(name, store=allowed.store, replace_shipped=replace, visitor=session.visitor_id())
        except (ValueError, FileExistsError) as exc:
            st.error(str(exc))
        else:
            st.rerun()


def pages_offering(name: str) -> list[tuple[pages.Page, dict]]:
    """The pages whose pickers offer a saved model, each with the link state that opens it there."""
    kind = get_spec(caches.checkpoint_status(name).meta["model"]).kind
    offers = {pages.RECONSTRUCTION: {"rec_models": name},
              pages.LATENT_SPACE: {"lat_space": name}, pages.TIMELINE: {"tl_model": name}}
    if kind in ("ae", "denoiser"):
        offers[pages.DENOISING] = {"den_model": name}
    if kind == "denoiser":  # no code to decode alone: only the Denoising page runs it
        return [(page, offers[page.path]) for page in pages.existing_pages() if page.path == pages.DENOISING]
    if name in caches.one_digit_models():
        offers[pages.ANOMALY] = {"an_model": name}
    if kind not in ("ae", "vae"):  # a classifier: no page picks one
        return []
    return [(page, offers[page.path]) for page in pages.existing_pages() if page.path in offers]


def visitor_models_section() -> None:
    """The models visitors saved on this server, listed apart from the shipped ones, with the room left."""
    saved, store = caches.visitor_models(), settings.current().store
    used = caches.visitor_bytes()
    st.subheader("Models saved by visitors")
    st.caption(f"{len(saved)} of {store.max_models} saved models, {used / 2**20:.1f} of "
               f"{store.max_megabytes:g} MB; " + ("the least recently used is dropped to make room."
                                                  if store.drop_oldest_unused else "a save is refused when full."))
    rows = [{"name": name, "model": status.meta["model"], "epochs": status.meta["epochs"],
             "test figure": checkpoint_headline(status.meta) if status.meta["metrics"] else "-",
             "saved": status.meta["created"].replace("T", " ").removesuffix("Z")}
            for name, status in saved if status.state == "ok"]
    if rows:
        st.dataframe(rows, hide_index=True, key="trn_visitor_models")
    else:
        st.caption("None yet: train a model and save it under your own name.")


# --- sidebar: what to train ------------------------------------------------------------------

# The job lives in the session and in the URL, so a page rerun or a reloaded tab finds it again.
# A visitor is a browser (ui.session): the one who started a run controls it; a link lets anyone watch.
operator = settings.current()
visitor = session.visitor_id()
unavailable = jobs.unavailable()  # a training cluster that does not answer: this page waits, the others work
if unavailable:
    st.title("Train a model")
    st.warning(unavailable)
    wait_for_training()
    st.stop()
linked = st.query_params.get("job")
job = st.session_state.get("trn_job")
expired = None  # the id of a run this tab held or linked to that the server has forgotten
if job is not None and jobs.get(job.id) is None:
    expired, job = job.id, None
if job is None and linked:
    job = jobs.get(linked)
    if job is not None:  # a reloaded tab of the visitor who started it watches for them from now on
        job.adopt(visitor, session.session_presence(session.session_id()))
    elif jobs.forgotten(linked):
        expired = linked
st.session_state["trn_job"] = job
if job is not None:
    st.query_params["job"] = job.id  # again after a visit to another page, which clears it
mine = job is not None and job.owned_by(visitor)
own_run = jobs.running_run_of(visitor)  # in this tab or another of this browser
busy = own_run is not None

with st.sidebar:
    st.header("What to train")
    names = list_models()
    model_name = st.selectbox("Model", names, index=names.index("dense"), key="trn_model")
    spec = get_spec(model_name)
    st.caption(spec.summary)
    start_area = st.container()  # the Train button near the top: above the fold at 1280×900
    key = f"trn_{model_name}"  # per-model keys: each model keeps its own settings and defaults
    recipe, config = spec.recipe, spec.config
    quick = training_cost.quick_recipe(model_name)
    if f"{key}_epochs" not in st.session_state:  # first visit of this model: the quick run
        use_recipe(key, quick)
    left_button, right_button = st.columns(2)
    left_button.button("Quick run", key=f"{key}_use_quick", on_click=use_recipe, args=(key, quick),
                       width="stretch", help="Settings that train in about a minute on one core.")
    right_button.button("As shipped", key=f"{key}_use_shipped", on_click=use_recipe,
                        args=(key, dataclasses.replace(recipe, train_digits=max(DIGIT_CHOICES))), width="stretch",
                        help=f"The settings the shipped {model_name} was trained with: "
                             f"{count(recipe.epochs, 'epoch')} on all {max(DIGIT_CHOICES):,} digits.")
    dataset = st.radio("Data", DATASETS, index=DATASETS.index(recipe.dataset), horizontal=True,
                       format_func=DATASET_LABELS.get, key=f"{key}_dataset")
    train_digits = st.radio("Training digits", DIGIT_CHOICES, horizontal=True, format_func="{:,}".format,
                            key=f"{key}_digits",
                            help="The first N of the 60,000 training digits: fewer train faster and learn less.")
    epochs = int(st.number_input("Epochs", 1, 500, key=f"{key}_epochs"))
    batch_size = st.select_slider("Batch size", with_default(BATCH_SIZES, recipe.batch_size), key=f"{key}_batch")
    optimizer = st.radio("Optimizer", OPTIMIZERS, horizontal=True,
                         format_func={"adam": "Adam", "adadelta": "Adadelta"}.get, key=f"{key}_optimizer")
    default_lr = recipe.lr if optimizer == recipe.optimizer else (1.0 if optimizer == "adadelta" else 1e-3)
    st.session_state.setdefault(f"{key}_lr_{optimizer}", default_lr)  # defaults through the state, as use_recipe sets them
    lr = st.select_slider("Learning rate", with_default(LEARNING_RATES, default_lr),
                          format_func=lambda v: f"{v:g}", key=f"{key}_lr_{optimizer}")
    recipe_changes: dict = {}
    fields = dataclasses.asdict(config)
    config_changes = {field: control(config, key) for field, control in CONFIG_CONTROLS.items()
                      if field in fields and (field != "l1" or config.l1 > 0)}  # L1 only where the model has it on
    if recipe.noise is not None:
        recipe_changes["noise"] = st.selectbox("Noise on the inputs", NOISE_KINDS,
                                               index=NOISE_KINDS.index(recipe.noise),
                                               format_func=lambda kind: NOISE_RANGES[kind].label, key=f"{key}_noise")
        recipe_changes["noise_strength"] = st.slider("Noise factor", 0.05, 1.0, recipe.noise_strength, 0.05,
                                                     key=f"{key}_noise_strength")
    if recipe.digit is not None:
        recipe_changes["digit"] = st.selectbox("Train on this class only", range(10), index=recipe.digit,
                                               format_func=CLASS_NAMES[dataset].__getitem__, key=f"{key}_digit")
    chosen_recipe = dataclasses.replace(recipe, dataset=dataset, epochs=epochs, batch_size=batch_size,
                                        optimizer=optimizer, lr=lr, train_digits=train_digits, **recipe_changes)
    chosen_config = dataclasses.replace(config, **config_changes)
    with start_area:
        start = st.button("Train", type="primary", disabled=busy, width="stretch", key="trn_start",
                          help="Training runs in the background: you can switch pages and come back.")
        st.markdown(cost_text(model_name, chosen_recipe, operator.jobs.max_run_minutes))
        waiting = jobs.waiting_for_slot()
        if busy and (job is None or own_run.id != job.id):
            st.caption("Your run in another tab is still waiting or training; one run at a time per browser.")
        elif waiting and not busy:
            st.caption(f"{count(waiting, 'run')} waiting for this server's training slot: a run started now "
                       f"would start in about {duration(jobs.wait_for_new_run())}.")

refusal = None
if start:
    tab = session.session_id()
    try:
        job = jobs.start(model_name, chosen_recipe, chosen_config, owner=visitor,
                         owner_present=session.session_presence(tab))
    except ValueError as exc:  # one run per visitor, or the queue is full: say so
        refusal = str(exc)
    else:
        st.session_state["trn_job"] = job
        st.rerun()

# --- main area -------------------------------------------------------------------------------

st.title("Train a model")
st.markdown("Retrain any model of the lab with your own settings, watch the loss fall and the "
            "reconstructions sharpen epoch by epoch, then save it under your own name to use it on "
            "the other pages.")

if refusal:
    st.error(refusal)
if job is None and expired:
    st.info(expired_text(jobs.why_forgotten(expired), jobs.limits()))
elif job is None and linked:
    st.info("The run in this link is not on this server (it may have restarted). Start a new one from the sidebar.")
if job is None:
    parameters = sum(p.numel() for p in create_model(model_name, chosen_config).parameters())
    st.info(f"Pick a model and its settings in the sidebar, then press **Train** at the top of the sidebar. "
            f"With these settings **{model_name}** has {parameters:,} parameters.")
    shipped = caches.checkpoint_status(model_name)
    if shipped.state == "ok" and shipped.meta["history"]:
        meta = shipped.meta
        st.markdown(f"For comparison, the shipped **{model_name}**: {checkpoint_headline(meta)} on the "
                    f"test split after {count(meta['epochs'], 'epoch')} ({meta['data_source']}).")
        st.plotly_chart(loss_chart(meta["history"], meta["epochs"], spec.kind), key="trn_shipped_loss",
                        config=CHART_CONFIG)
        explain_loss(meta["history"], spec.kind, (meta.get("config") or {}).get("recon_loss"))
    visitor_models_section()
else:
    st.markdown(describe_settings(job))
    if job.running:
        live_progress(job, mine)
    else:
        show_results(job, mine)
