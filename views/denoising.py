"""Denoising: noisy test digits cleaned up and measured, your uploads, and a canvas to draw on."""

from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core import KERAS_NOISE_FACTOR, anomaly, denoise, images, inference
from core.denoise import NOISE_RANGES
from ui import caches, links, widgets

st.set_page_config(page_title="Denoising · Autoencoder Lab", layout="wide")

LAB_DIGITS = 8
UPLOAD_SCALE = 4  # 28 px digits shown 112 px wide
COMPARED = ("denoising", "conv")  # the denoising autoencoder against the same architecture trained on clean digits
LINE_COLOURS = {None: "#9e9e9e", "denoising": "#1f77b4", "conv": "#ff7f0e"}
# On a phone Streamlit stacks columns one under another: the eight digits took ~5,200 px. Four a row there.
LAB_STYLE = """<style>
.st-key-den_lab_digits [data-testid="stHorizontalBlock"] { flex-wrap: wrap; }
@media (max-width: 640px) {
  .st-key-den_lab_digits [data-testid="stColumn"] { min-width: calc(25% - 1rem) !important; flex: 1 1 calc(25% - 1rem) !important; }
}
</style>"""

# --- sidebar ------------------------------------------------------------------------------
link = links.PageLinks()
with st.sidebar:
    st.header("Denoising")
    denoiser = widgets.model_picker("Denoiser", **link.bind("den_model"), kinds=("ae",), default="denoising")
    st.caption("The `denoising` model was trained on noisy digits against clean ones; every other "
               "autoencoder only ever saw clean digits.")

model = widgets.model_or_reason(denoiser, stop=True)

st.title("Denoising")
link.note_here()
st.markdown("Noise goes in, a clean digit should come out. The `denoising` autoencoder learned this from "
            "noisy digits paired with clean ones; here you can see it, measure it against a plain "
            "autoencoder and the noisy input itself, and try it on your own images.")
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
    return "noisy input" if name is None else name


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
                         line=dict(color=LINE_COLOURS.get(name, "#2ca02c"), dash="dot" if name is None else "solid"))
              for name, line in lines.items()]
    return go.Figure(traces, layout=dict(
        title=dict(text=title), xaxis=dict(title=dict(text="noise strength")),
        yaxis=dict(title=dict(text=unit), range=y_range), height=380, margin=dict(l=10, r=10, t=50, b=10),
        legend=dict(orientation="h", y=-0.2), shapes=shapes, annotations=annotations))


def noise_phrase() -> str:
    return f"{noise.noun} noise, strength {strength:g}"


tab_lab, tab_upload, tab_draw = st.tabs(["Noise lab", "Upload", "Draw"], **link.bind("den_tab"), on_change="rerun")

# --- noise lab: test digits, then measurements over 1,000 of them -------------------------
if tab_lab.open:
    with tab_lab:
        test = caches.test_digits("mnist")
        left, middle, right = st.columns([2, 1, 1], vertical_alignment="bottom")
        pick = left.segmented_control("Digits", ["Random", "One class"], default="Random", key="den_pick",
                                      required=True)
        digit_class = middle.selectbox("Class", list(range(10)), key="den_class", disabled=pick != "One class")
        if right.button("New digits and noise", key="den_shuffle", icon=":material/shuffle:"):
            st.session_state["den_seed"] = st.session_state.get("den_seed", 0) + 1
        seed = st.session_state.get("den_seed", 0)
        rng = np.random.default_rng(seed)
        pool = np.flatnonzero(test.labels == digit_class) if pick == "One class" else np.arange(len(test))
        index = rng.choice(pool, LAB_DIGITS, replace=False)
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
        widgets.source_caption(test.source)

        st.subheader(f"Measured over {denoise.SWEEP_DIGITS:,} test digits")
        st.markdown(f"The same noisy digits at every {noise.noun} strength go "
                    "through each model. PSNR compares each output with the clean digit (higher is "
                    "closer); the classifier's accuracy says whether the output is still the right digit.")
        names = [None, *COMPARED, *([denoiser] if denoiser not in COMPARED else [])]
        lines = {}
        progress = st.empty()
        for name in names:
            try:
                lines[name] = caches.sweep_line(name, kind, on_progress=lambda fraction, name=name: progress.progress(
                    fraction, text=f"Measuring {label_of(name)} over {denoise.SWEEP_DIGITS:,} digits…"))
            except (FileNotFoundError, ValueError) as exc:
                st.caption(f"Not measured, {label_of(name)}: {exc}")
        progress.empty()
        try:
            clean_accuracy = caches.clean_accuracy()
        except (FileNotFoundError, ValueError) as exc:
            clean_accuracy = None
            st.caption(f"No accuracy without the classifier: {exc}")

        if lines:
            step = np.flatnonzero(np.isclose(next(iter(lines.values())).strengths, strength))
            reference = None if clean_accuracy is None else (
                100 * clean_accuracy, f"the same {denoise.SWEEP_DIGITS:,} digits clean: {clean_accuracy:.1%}")
            psnr_chart = sweep_figure(lines, "psnr", "PSNR against the clean digit", "PSNR (dB)")
            accuracy_chart = sweep_figure(lines, "accuracy", "Classifier accuracy", "accuracy (%)", scale=100,
                                          y_range=(0, 102), reference=reference)
            chart_left, chart_right = st.columns(2)
            chart_left.plotly_chart(psnr_chart, key="den_psnr_chart")
            chart_right.plotly_chart(accuracy_chart, key="den_accuracy_chart")
            if step.size and None in lines and denoiser in lines:
                noisy_acc, denoised_acc = lines[None].accuracy[step[0]], lines[denoiser].accuracy[step[0]]
                noisy_psnr, denoised_psnr = lines[None].psnr[step[0]], lines[denoiser].psnr[step[0]]
                columns = st.columns(3)
                columns[0].metric("Accuracy on noisy digits", f"{noisy_acc:.1%}")
                columns[1].metric(f"Accuracy on digits denoised by {denoiser}", f"{denoised_acc:.1%}",
                                  f"{100 * (denoised_acc - noisy_acc):+.1f} points")
                columns[2].metric(f"Mean PSNR, {denoise.SWEEP_DIGITS:,} digits", f"{denoised_psnr:.1f} dB",
                                  f"{denoised_psnr - noisy_psnr:+.1f} dB against the noisy input")

# --- your digits: uploads and drawings ------------------------------------------------------

def show_stage(image: np.ndarray, caption: str, reading: tuple[int, float] | None) -> None:
    """One 28x28 digit, large and pixel-sharp, captioned with what the classifier reads in it (when there
    is a classifier). Inline PNG: no media request to wait for, and no re-encoding as a blurry JPEG."""
    if reading is not None:
        caption = f"{caption}, reads as {reading[0]} ({reading[1]:.0%})"
    st.image(images.png_data_url(image, scale=UPLOAD_SCALE), caption=caption)


def show_clean_up(number: int, given: widgets.YourDigit, result: denoise.CleanUp, noisy: bool,
                  plain: np.ndarray | None) -> None:
    """A bordered box: your image, as MNIST sees it, with noise (when added), the denoiser's output and
    (`plain`) what a plain autoencoder makes of it, the preparation's steps and a download."""
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
        if plain is not None:
            stages.append((plain, "reconstructed by conv (plain)", None))
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
given = widgets.your_digit("den", tabs=(tab_upload, tab_draw), multiple=True)
add_noise = False
if tab_upload.open:
    with tab_upload:
        add_noise = st.toggle(f"Add {noise_phrase()} before denoising (the setting above)", key="den_upload_noise")
        st.caption(PREPARATION)
        if not given:
            st.info("Upload one or several images of handwritten digits; each is denoised on its own, and a "
                    "file that cannot be read is explained without stopping the others.")
if tab_draw.open:
    with tab_draw:
        add_noise = st.toggle(f"Add {noise_phrase()} on top", key="den_draw_noise")
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
    plain = widgets.model_or_reason("conv", optional=True) if tab_draw.open else None
    for item, result in zip(inked, results):
        with item.tab:
            show_clean_up(item.position, item, result, add_noise,
                          None if plain is None else inference.reconstruct(plain, result.model_input))

link.finish()
