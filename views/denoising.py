"""Denoising: noisy test digits cleaned up by autoencoders and classical filters and measured, the U-Net and
the bottleneck autoencoder side by side, your uploads, and a canvas to draw on."""

from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core import KERAS_NOISE_FACTOR, anomaly, classical, data, denoise, images, inference
from core.classical import METHODS
from core.denoise import NOISE_RANGES
from ui import caches, glossary, links, widgets

st.set_page_config(page_title="Denoising · Autoencoder Lab", layout="wide")

LAB_DIGITS = 8
UPLOAD_SCALE = 4  # 28 px digits shown 112 px wide
SKIP_MODEL = "unet"             # the page's denoiser: a U-Net, skip connections beside its code
BOTTLENECK_MODEL = "denoising"  # the Keras blog's shape: everything it gives back went through its code
PLAIN_MODEL = "conv"            # denoising's architecture trained on clean digits only
COMPARED = (SKIP_MODEL, BOTTLENECK_MODEL, PLAIN_MODEL)
DENOISER_KINDS = ("ae", "denoiser")
DEFAULT_FILTER = "median"  # the best of the six at Gaussian 0.5 when tuned (14.8 dB on training digits; core.classical)
LINE_COLOURS = {None: "#9e9e9e", SKIP_MODEL: "#d62728", BOTTLENECK_MODEL: "#1f77b4", PLAIN_MODEL: "#ff7f0e"}
FILTER_COLOURS = dict(zip(METHODS, ("#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#9467bd")))
# On a phone Streamlit stacks columns one under another: the eight digits took ~5,200 px. Four a row there.
LAB_STYLE = """<style>
.st-key-den_lab_digits [data-testid="stHorizontalBlock"], .st-key-den_methods [data-testid="stHorizontalBlock"],
.st-key-den_case [data-testid="stHorizontalBlock"] { flex-wrap: wrap; }
@media (max-width: 640px) {
  .st-key-den_lab_digits [data-testid="stColumn"], .st-key-den_methods [data-testid="stColumn"],
  .st-key-den_case [data-testid="stColumn"] { min-width: calc(25% - 1rem) !important; flex: 1 1 calc(25% - 1rem) !important; }
}
</style>"""

# --- sidebar ------------------------------------------------------------------------------
link = links.PageLinks()
with st.sidebar:
    st.header("Denoising")
    have_skip_model = SKIP_MODEL in caches.available_models(DENOISER_KINDS)
    denoiser = widgets.model_picker("Denoiser", **link.bind("den_model"), kinds=DENOISER_KINDS,
                                    default=SKIP_MODEL if have_skip_model else BOTTLENECK_MODEL)
    st.caption(f"`{SKIP_MODEL}` (a U-Net: skip connections beside its code) and `{BOTTLENECK_MODEL}` (everything "
               "through its code) were trained on noisy digits against clean ones; every other autoencoder only "
               "ever saw clean digits.")
    if not have_skip_model:
        st.caption(f"Without {SKIP_MODEL}, the page starts on {BOTTLENECK_MODEL}: "
                   f"{caches.checkpoint_status(SKIP_MODEL).message}")

model = widgets.model_or_reason(denoiser, stop=True)

st.title("Denoising")
link.note_here()
st.markdown("Noise goes in, a clean digit should come out. Two autoencoders learned this from noisy digits paired "
            "with clean ones; here you can see them, measure them against a plain autoencoder, six classical "
            "filters and the noisy input itself, and try them on your own images.")
# The noise is the page's main control: above the tabs it serves, not in a sidebar a phone keeps closed.
kind_column, strength_column = st.columns(2)
kind = kind_column.selectbox("Noise", list(NOISE_RANGES), format_func=lambda k: NOISE_RANGES[k].label,
                             **link.bind("den_kind"))
noise = NOISE_RANGES[kind]
strength = round(strength_column.slider(
    f"Strength: {noise.strength.lower()}", noise.step, noise.high, noise.default, noise.step,
    **link.bind(f"den_strength_{kind}"),
    help=f"Gaussian: the noise's standard deviation (the Keras blog uses {KERAS_NOISE_FACTOR:g}). "
         "Salt and pepper, masking: the fraction of pixels hit."), 4)


def label_of(name: str | None) -> str:
    if name is None:
        return "noisy input"
    return METHODS[name].label if name in METHODS else name


def colour_of(name: str | None) -> str:
    return FILTER_COLOURS.get(name) or LINE_COLOURS.get(name, "#2ca02c")


def sweep_figure(lines: dict, field: str, title: str, unit: str, scale: float = 1.0,
                 y_range: tuple[float, float] | None = None, reference: tuple[float, str] | None = None) -> go.Figure:
    """One measure (`field` of each SweepLine, times `scale`) over the noise strengths, a line per model,
    the chosen strength dotted and an optional dashed reference (value, label).

    Shapes go straight into the layout: add_vline and add_hline took most of the page's run.
    """
    shapes = [dict(type="line", xref="x", yref="paper", x0=strength, x1=strength, y0=0, y1=1,
                   line=dict(dash="dot", color="#555"))]
    annotations = []
    if reference is not None:
        value, label = reference
        shapes.append(dict(type="line", xref="paper", yref="y", x0=0, x1=1, y0=value, y1=value,
                           line=dict(dash="dash", color="#2ca02c")))
        annotations.append(dict(xref="paper", x=1, xanchor="right", y=value, yanchor="bottom", text=label,
                                showarrow=False))
    traces = [go.Scatter(x=line.strengths, y=scale * getattr(line, field), name=label_of(name), mode="lines+markers",
                         marker=dict(size=4), line=dict(color=colour_of(name), width=1.5 if name in METHODS else 2.5,
                                                        dash="dot" if name is None else "dash" if name in METHODS else "solid"))
              for name, line in lines.items()]
    return go.Figure(traces, layout=dict(
        title=dict(text=title), xaxis=dict(title=dict(text="noise strength")),
        yaxis=dict(title=dict(text=unit), range=y_range), height=500, margin=dict(l=10, r=10, t=50, b=10),
        # two names a row under the plot: eleven lines made a one-column legend that hid the axis title
        legend=dict(orientation="h", y=-0.2, yanchor="top", entrywidth=0.5, entrywidthmode="fraction", font=dict(size=10)),
        shapes=shapes, annotations=annotations))


def noise_phrase() -> str:
    return f"{noise.noun} noise, strength {strength:g}"


tab_lab, tab_pair, tab_upload, tab_draw = st.tabs(["Noise lab", "Skips or bottleneck", "Upload", "Draw"],
                                                  **link.bind("den_tab"), on_change="rerun")

# --- noise lab: test digits, then measurements over 1,000 of them -------------------------

def sweep_lines(names: list) -> dict:
    """The measured line of each autoencoder (None: the noisy input) and classical filter at the chosen noise;
    one that cannot be had is named in a caption."""
    lines = {}
    progress = st.empty()
    for name in names:
        def report(fraction, name=name):
            progress.progress(fraction, text=f"Measuring {label_of(name)} over {denoise.SWEEP_DIGITS:,} digits…")
        try:
            lines[name] = (caches.classical_sweep_line(name, kind, on_progress=report) if name in METHODS
                           else caches.sweep_line(name, kind, on_progress=report))
        except (FileNotFoundError, ValueError) as exc:
            st.caption(f"Not measured, {label_of(name)}: {exc}")
    progress.empty()
    return lines


def autoencoders() -> list[str]:
    """The page's autoencoders that have usable checkpoints, the chosen denoiser first."""
    available = caches.available_models(DENOISER_KINDS)
    usable = [n for n in COMPARED if n in available and caches.checkpoint_status(n).state == "ok"]
    return list(dict.fromkeys([denoiser, *usable]))


if tab_lab.open:
    with tab_lab:
        test = caches.test_digits("mnist")
        left, middle, right = st.columns([2, 1, 1], vertical_alignment="bottom")
        pick = left.segmented_control("Digits", ["Random", "One class"], default="Random", **link.bind("den_pick"),
                                      required=True)
        digit_class = middle.selectbox("Class", list(range(10)), **link.bind("den_class"),
                                       disabled=pick != "One class")
        # The draw's seed travels in the link (a button has no value to bind), so a shared view shows these digits.
        seed = st.query_params.get("den_seed", "0")
        seed = int(seed) if seed.isdigit() and len(seed) < 10 else 0
        if right.button("New digits and noise", key="den_shuffle", icon=":material/shuffle:"):
            seed += 1
            st.query_params["den_seed"] = str(seed)
        rng = np.random.default_rng(seed)
        pool = np.flatnonzero(test.labels == digit_class) if pick == "One class" else np.arange(len(test))
        index = tuple(int(i) for i in rng.choice(pool, LAB_DIGITS, replace=False))
        result, stacks = caches.noise_lab(denoiser, index, kind, strength, seed)

        st.markdown(f"Each column, top to bottom: a clean test digit, with {noise_phrase()}, denoised by "
                    f"**{widgets.describe(denoiser)}**. Under it, noisy → denoised: PSNR in dB, then SSIM.")
        st.html(LAB_STYLE)
        with st.container(key="den_lab_digits"):
            for i, column in enumerate(st.columns(LAB_DIGITS)):
                column.image(stacks[i])
                column.caption(f"{result.psnr_noisy[i]:.1f} → **{result.psnr_denoised[i]:.1f}** dB  \n"
                               f"{result.ssim_noisy[i]:.2f} → **{result.ssim_denoised[i]:.2f}**")
        psnr_column, ssim_column = st.columns(2)
        psnr_column.metric(f"Mean PSNR of these {LAB_DIGITS} denoised digits", f"{result.psnr_denoised.mean():.1f} dB",
                           f"{result.psnr_denoised.mean() - result.psnr_noisy.mean():+.1f} dB against the noisy ones")
        ssim_column.metric("Mean SSIM of the denoised digits", f"{result.ssim_denoised.mean():.3f}",
                           f"{result.ssim_denoised.mean() - result.ssim_noisy.mean():+.3f} against the noisy ones")
        glossary.note(("PSNR", f"{result.psnr_denoised.mean():.1f} dB for {denoiser}'s outputs, "
                               f"{result.psnr_noisy.mean():.1f} dB for the noisy digits"),
                      ("SSIM", f"{result.ssim_denoised.mean():.3f}"))
        widgets.source_caption(test.source)

        st.subheader("Every method on one digit")
        position = st.segmented_control("Digit", list(range(LAB_DIGITS)), format_func=lambda i: f"{i + 1}",
                                        default=0, required=True, **link.bind("den_focus"))
        st.markdown(f"Digit {position + 1} above with {noise_phrase()}, through each autoencoder and each "
                    "classical filter (at its value tuned on training digits). Under each: PSNR in dB, then SSIM.")
        shown = [(images.png_data_url(result.clean[position], scale=caches.DISPLAY_SCALE), "clean", None),
                 (images.png_data_url(result.noisy[position], scale=caches.DISPLAY_SCALE), "noisy",
                  (result.psnr_noisy[position], result.ssim_noisy[position]))]
        for name in autoencoders():
            other, _ = caches.noise_lab(name, index, kind, strength, seed)
            shown.append((images.png_data_url(other.denoised[position], scale=caches.DISPLAY_SCALE), name,
                          (other.psnr_denoised[position], other.ssim_denoised[position])))
        for method, (url, psnr, ssim) in caches.classical_outputs(index, position, kind, strength, seed).items():
            shown.append((url, METHODS[method].label, (psnr, ssim)))
        with st.container(key="den_methods"):
            for column, (url, label, scores) in zip(st.columns(len(shown)), shown):
                column.image(url)
                column.caption(f"**{label}**" + ("" if scores is None else f"  \n{scores[0]:.1f} dB · {scores[1]:.2f}"))

        st.subheader(f"Measured over {denoise.SWEEP_DIGITS:,} test digits")
        st.markdown(f"The same noisy digits at every {noise.noun} strength go through each autoencoder and each "
                    "classical filter (dashed). PSNR and SSIM compare each output with the clean digit (higher is "
                    "closer); the classifier's accuracy says whether the output is still the right digit.")
        lines = sweep_lines([None, *autoencoders(), *METHODS])
        try:
            clean_accuracy = caches.clean_accuracy()
        except (FileNotFoundError, ValueError) as exc:
            clean_accuracy = None
            st.caption(f"No accuracy without the classifier: {exc}")

        if lines:
            step = np.flatnonzero(np.isclose(next(iter(lines.values())).strengths, strength))
            reference = None if clean_accuracy is None else (
                100 * clean_accuracy, f"the same {denoise.SWEEP_DIGITS:,} digits clean: {clean_accuracy:.1%}")
            charts = st.columns(3)
            charts[0].plotly_chart(sweep_figure(lines, "psnr", "PSNR against the clean digit", "PSNR (dB)"),
                                   key="den_psnr_chart")
            charts[1].plotly_chart(sweep_figure(lines, "ssim", "SSIM against the clean digit", "SSIM",
                                                y_range=(0, 1.02)), key="den_ssim_chart")
            charts[2].plotly_chart(sweep_figure(lines, "accuracy", "Classifier accuracy", "accuracy (%)", scale=100,
                                                y_range=(0, 102), reference=reference), key="den_accuracy_chart")
            if step.size and None in lines and denoiser in lines:
                noisy_acc, denoised_acc = lines[None].accuracy[step[0]], lines[denoiser].accuracy[step[0]]
                noisy_psnr, denoised_psnr = lines[None].psnr[step[0]], lines[denoiser].psnr[step[0]]
                columns = st.columns(3)
                columns[0].metric("Accuracy on noisy digits", f"{noisy_acc:.1%}")
                columns[1].metric(f"Accuracy on digits denoised by {denoiser}", f"{denoised_acc:.1%}",
                                  f"{100 * (denoised_acc - noisy_acc):+.1f} points")
                columns[2].metric(f"Mean PSNR, {denoise.SWEEP_DIGITS:,} digits", f"{denoised_psnr:.1f} dB",
                                  f"{denoised_psnr - noisy_psnr:+.1f} dB against the noisy input")
            if step.size:
                best = max((m for m in METHODS if m in lines), key=lambda m: lines[m].psnr[step[0]], default=None)
                if best is not None and denoiser in lines:
                    gap = lines[denoiser].psnr[step[0]] - lines[best].psnr[step[0]]
                    st.caption(f"At this noise the best classical filter is {METHODS[best].label} "
                               f"({lines[best].psnr[step[0]]:.1f} dB, {lines[best].accuracy[step[0]]:.1%} read right); "
                               f"{denoiser} is {abs(gap):.1f} dB {'above' if gap >= 0 else 'below'} it.")

# --- the two autoencoders side by side: what skip connections buy, what a bottleneck forces ---------

def show_pair(compared: denoise.ModelsCompared) -> None:
    """The measured contrast of the two autoencoders, and the test digit that shows the bottleneck's pull."""
    skip, bottleneck = compared.names
    noisy_kind = NOISE_RANGES[compared.kind]
    typical = compared.typicality
    pull = (f"Everything {bottleneck} gives back went through its code, which keeps what digits share more than "
            "what sets one apart: its outputs lie" if typical[bottleneck] < typical[skip] else
            f"Here the code does not pull {bottleneck}'s outputs towards the typical digit more than {skip}'s: they lie")
    st.markdown(
        f"Both learned the same task from the same noisy digits. **{skip}** passes each level's features "
        f"straight across to the decoder, so what is particular to a digit need not squeeze through the code: "
        f"on {compared.digits:,} test digits with {noisy_kind.noun} noise {compared.strength:g}, its outputs score "
        f"{compared.psnr[skip]:.1f} dB and SSIM {compared.ssim[skip]:.3f}, against {compared.psnr[bottleneck]:.1f} dB "
        f"and {compared.ssim[bottleneck]:.3f} for **{bottleneck}**. {pull} {typical[bottleneck]:.2f} times as far "
        f"from their class's average training digit as the clean digits do ({skip}: {typical[skip]:.2f}); below 1, "
        "an output is a more typical digit than the one that went in.")
    with st.container(key="den_pair_metrics"):
        for name, column in zip(compared.names, st.columns(2)):
            with column:
                st.markdown(f"**{name}**" + (" (skip connections)" if name == skip else " (bottleneck)"))
                inner = st.columns(2)
                inner[0].metric(f"PSNR, {name}", f"{compared.psnr[name]:.1f} dB",
                                f"{compared.psnr[name] - compared.psnr['noisy']:+.1f} dB on the noisy input")
                inner[1].metric(f"SSIM, {name}", f"{compared.ssim[name]:.3f}")
                inner[0].metric(f"Classifier reads right, {name}", f"{compared.accuracy[name]:.1%}")
                inner[1].metric(f"Typicality, {name}", f"{compared.typicality[name]:.2f}",
                                help="Mean over the digits of the output's RMS distance to the average training digit "
                                     "of its class, divided by the clean digit's: 1 is as typical as the truth.")
    test = caches.test_digits("mnist")
    case = compared.case
    clean = test.images[:compared.digits] / 255.0
    noisy = data.add_noise(clean, compared.kind, compared.strength, seed=0)[case]
    label = int(test.labels[case])
    st.subheader(f"A case: test digit {case:,}, a {label}")
    st.markdown(f"Of the {compared.digits:,} digits, among those the classifier reads right after both, the one where "
                f"{bottleneck}'s output lies closest to the average {label} compared with {skip}'s (the largest gap "
                "between the two distances: chosen by that measure, not by eye). Under each: its RMS distance to "
                "the class average, then PSNR against the clean digit.")
    distance, psnr = compared.case_distance, compared.case_psnr
    shown = [(clean[case], "clean", f"{distance['clean']:.3f}"),
             (noisy, "noisy", f"{psnr['noisy']:.1f} dB")]
    for name in compared.names:
        model = widgets.model_or_reason(name, optional=True)
        if model is not None:
            shown.append((inference.reconstruct(model, noisy), name, f"{distance[name]:.3f} · {psnr[name]:.1f} dB"))
    shown.append((caches.class_averages()[label], f"average {label}", "0"))
    with st.container(key="den_case"):
        for column, (image, caption, figure) in zip(st.columns(len(shown)), shown):
            column.image(images.png_data_url(image, scale=UPLOAD_SCALE))
            column.caption(f"**{caption}**  \n{figure}")


if tab_pair.open:
    with tab_pair:
        st.html(LAB_STYLE)
        available = caches.available_models(DENOISER_KINDS)
        missing = [name for name in (SKIP_MODEL, BOTTLENECK_MODEL) if name not in available]
        if missing:
            st.info(f"The comparison needs both {SKIP_MODEL} and {BOTTLENECK_MODEL}. "
                    f"{caches.checkpoint_status(missing[0]).message}")
        else:
            try:
                show_pair(caches.models_compared((SKIP_MODEL, BOTTLENECK_MODEL)))
            except (FileNotFoundError, ValueError) as exc:
                st.info(f"The comparison cannot be measured: {exc}")
            pair = sweep_lines([SKIP_MODEL, BOTTLENECK_MODEL])
            if len(pair) == 2:
                step = np.flatnonzero(np.isclose(pair[SKIP_MODEL].strengths, strength))
                if step.size:
                    i = step[0]
                    st.caption(f"With {noise_phrase()} (the setting above), over the {denoise.SWEEP_DIGITS:,} digits "
                               "of the Noise lab's curves: " + "; ".join(
                                   f"{name} {line.psnr[i]:.1f} dB, SSIM {line.ssim[i]:.3f}, {line.accuracy[i]:.1%} "
                                   "read right" for name, line in pair.items()) + ".")

# --- your digits: uploads and drawings ------------------------------------------------------

def show_stage(image: np.ndarray, caption: str, reading: tuple[int, float] | None) -> None:
    """One 28x28 digit, large and pixel-sharp, captioned with what the classifier reads in it (when there
    is a classifier). Inline PNG: no media request to wait for, and no re-encoding as a blurry JPEG."""
    if reading is not None:
        caption = f"{caption}, reads as {reading[0]} ({reading[1]:.0%})"
    st.image(images.png_data_url(image, scale=UPLOAD_SCALE), caption=caption)


def show_clean_up(number: int, given: widgets.YourDigit, result: denoise.CleanUp, noisy: bool,
                  plain: np.ndarray | None, filtered: tuple[np.ndarray, str, tuple[int, float] | None] | None) -> None:
    """A bordered box: your image, as MNIST sees it, with noise (when added), the denoiser's output,
    (`filtered`: image, caption, reading) a classical filter's and (`plain`) what a plain autoencoder
    makes of it, the preparation's steps and a download."""
    item, read = given.digit, result.readings or {}
    with st.container(border=True, key=f"den_result_{number}"):
        st.markdown(f"**{given.name}**")
        for note in item.notes:
            st.warning(note)
        if result.verdict is not None:
            st.warning(result.verdict, icon=":material/help:")
        stages = [(result.prepared, "as MNIST sees it", read.get("prepared"))]
        if noisy:
            stages.append((result.model_input, "with noise", read.get("model_input")))
        stages.append((result.output, f"{denoiser}'s output, not a result" if result.verdict else f"denoised by {denoiser}",
                       read.get("output")))
        if filtered is not None:
            stages.append(filtered)
        if plain is not None:
            stages.append((plain, f"reconstructed by {PLAIN_MODEL} (plain)", None))
        uploaded = not given.drawn
        columns = st.columns([1] * (len(stages) + uploaded) + [2])
        if uploaded:
            columns[0].image(images.png_data_url(item.preview, max(1, images.PREVIEW_SIDE // max(item.preview.shape))),
                             caption="your image")
        for column, (image, caption, reading) in zip(columns[uploaded:], stages):
            with column:
                show_stage(image, caption, reading)
        with columns[-1]:
            st.caption(" · ".join(item.steps if uploaded else item.steps[1:]))  # a drawing's first step names its PNG
            if result.verdict is None:
                st.download_button("Download the denoised digit (PNG)", images.to_png(result.output),
                                   file_name=f"{Path(given.name).stem.replace(' ', '_')}_denoised.png",
                                   mime="image/png", on_click="ignore", key=f"den_download_{number}",
                                   icon=":material/download:")


PREPARATION = ("Each image is prepared the way MNIST was made: transparency filled, grey, inverted when the ink is "
               "dark, uneven lighting evened out, cropped to the ink, strokes brought to MNIST's width, its longer "
               "side scaled to 20 px with soft edges, contrast stretched and centred by centre of mass in 28x28. A "
               "28x28 image is used as it is when it is noisy (the noise is the denoiser's to remove) or already "
               "looks like MNIST; a crisp 28x28 drawing is remade too.")


def filter_picker(key: str) -> str:
    """The classical filter shown beside the model's output, bound to the URL."""
    method = st.selectbox("Classical filter beside it", list(METHODS), index=list(METHODS).index(DEFAULT_FILTER),
                          format_func=lambda m: METHODS[m].label, **link.bind(key),
                          help="Each filter's parameter was tuned once, on training digits with Gaussian noise 0.5 "
                               "(README: Classical filters).")
    st.caption(f"{METHODS[method].label}: {METHODS[method].source}, {METHODS[method].describe(classical.TUNED[method])}.")
    return method


given = widgets.your_digit("den", tabs=(tab_upload, tab_draw), multiple=True)
add_noise = False
chosen_filter = DEFAULT_FILTER
if tab_upload.open:
    with tab_upload:
        add_noise = st.toggle(f"Add {noise_phrase()} before denoising (the setting above)", key="den_upload_noise")
        chosen_filter = filter_picker("den_upload_filter")
        st.caption(PREPARATION)
        if not given:
            st.info("Upload one or several images of handwritten digits; each is denoised on its own, and a "
                    "file that cannot be read is explained without stopping the others.")
if tab_draw.open:
    with tab_draw:
        add_noise = st.toggle(f"Add {noise_phrase()} on top", key="den_draw_noise")
        chosen_filter = filter_picker("den_draw_filter")
        if not given:
            st.info("The result appears here as soon as you lift your finger or the mouse.")
for item in given:  # a page with no ink: its note says so, and there is nothing to denoise
    if item.digit.blank:
        with item.tab, st.container(border=True, key=f"den_result_{item.position}"):
            st.markdown(f"**{item.name}**")
            for note in item.digit.notes:
                st.warning(note)
inked = [item for item in given if not item.digit.blank]
if inked:
    classifier = widgets.model_or_reason("classifier", optional=True)
    judge = widgets.model_or_reason(anomaly.BACKGROUND, optional=True)  # says when an output is no digit at all
    results = denoise.clean_up(model, np.stack([item.digit.image for item in inked]), classifier,
                               (kind, strength) if add_noise else None, judge=judge)
    plain = widgets.model_or_reason(PLAIN_MODEL, optional=True) if tab_draw.open else None
    filtered = classical.denoise(chosen_filter, np.stack([r.model_input for r in results]))
    filter_readings = (None,) * len(results) if classifier is None else zip(*inference.read_digits(classifier, filtered))
    for item, result, image, reading in zip(inked, results, filtered, filter_readings):
        with item.tab:
            show_clean_up(item.position, item, result, add_noise,
                          None if plain is None else inference.reconstruct(plain, result.model_input),
                          (image, f"{METHODS[chosen_filter].label} (classical)",
                           None if reading is None else (int(reading[0]), float(reading[1]))))

link.finish()
