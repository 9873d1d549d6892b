"""Denoising: noisy test digits cleaned up and measured, your uploads, and a canvas to draw on."""

from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core import KERAS_NOISE_FACTOR, data, denoise, images
from core.denoise import NOISE_RANGES
from ui import caches, links, widgets

st.set_page_config(page_title="Denoising · Autoencoder Lab", layout="wide")

LAB_DIGITS = 8
UPLOAD_SCALE = 4  # 28 px digits shown 112 px wide
COMPARED = ("denoising", "conv")  # the denoising autoencoder against the same architecture trained on clean digits
LINE_COLOURS = {None: "#9e9e9e", "denoising": "#1f77b4", "conv": "#ff7f0e"}

# --- sidebar ------------------------------------------------------------------------------
link = links.PageLinks()
with st.sidebar:
    st.header("Denoising")
    kind = st.selectbox("Noise", list(NOISE_RANGES), format_func=lambda k: NOISE_RANGES[k].label, **link.bind("den_kind"))
    noise = NOISE_RANGES[kind]
    strength = round(st.slider(f"Strength: {noise.strength.lower()}", noise.step, noise.high, noise.default, noise.step,
                               **link.bind(f"den_strength_{kind}"),
                               help=f"Gaussian: the noise's standard deviation (the Keras blog uses {KERAS_NOISE_FACTOR:g}). "
                                    "Salt and pepper, masking: the fraction of pixels hit."), 4)
    denoiser = widgets.model_picker("Denoiser", **link.bind("den_model"), kinds=("ae",), default="denoising")
    st.caption("The `denoising` model was trained on noisy digits against clean ones; every other "
               "autoencoder only ever saw clean digits.")

try:
    model, _ = caches.load_model(denoiser)
except (FileNotFoundError, ValueError) as exc:
    widgets.show_model_error(denoiser, exc)
    st.stop()


def label_of(name: str | None) -> str:
    return "noisy input" if name is None else name


def show_digit(image: np.ndarray, caption: str, classifier=None) -> None:
    """One 28x28 digit, large and pixel-sharp, captioned with what the classifier reads in it (when there
    is a classifier). Inline PNG: no media request to wait for, and no re-encoding as a blurry JPEG."""
    if classifier is not None:
        digit, probability = denoise.classify(classifier, image[None])
        caption = f"{caption}, reads as {digit[0]} ({probability[0]:.0%})"
    st.image(images.png_data_url(image, scale=UPLOAD_SCALE), caption=caption)


def out_of_depth_verdict(model_input: np.ndarray, output: np.ndarray, classifier) -> str | None:
    """core's sentence when the denoiser's output is no clean version of its input, else None."""
    confidence = float(denoise.classify(classifier, output[None])[1][0]) if classifier is not None else None
    return denoise.out_of_depth(model_input, output, confidence)


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


st.title("Denoising")
link.note_here()
st.markdown("Noise goes in, a clean digit should come out. The `denoising` autoencoder learned this from "
            "noisy digits paired with clean ones; here you can see it, measure it against a plain "
            "autoencoder and the noisy input itself, and try it on your own images.")

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
            reference = None if clean_accuracy is None else (100 * clean_accuracy, f"clean digits {clean_accuracy:.1%}")
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

# --- uploads ------------------------------------------------------------------------------
if tab_upload.open:
    with tab_upload:
        files = st.file_uploader("Images of digits: PNG, JPEG, BMP, GIF or WebP, any size, dark ink on light "
                                 "paper or light on dark", type=widgets.UPLOAD_TYPES, accept_multiple_files=True,
                                 key="den_upload")
        add_noise = st.toggle(f"Add {noise_phrase()} before denoising (the sidebar's setting)", key="den_upload_noise")
        st.caption("Each image is prepared the way MNIST was made: transparency filled, grey, inverted when "
                   "the ink is dark, uneven lighting evened out, cropped to the ink, strokes brought to MNIST's "
                   "width, its longer side scaled to 20 px with soft edges, contrast stretched and centred by "
                   "centre of mass in 28x28. A 28x28 image is used as it is when it is noisy (the noise is the "
                   "denoiser's to remove) or already looks like MNIST; a crisp 28x28 drawing is remade too.")
        prepared: dict[int, images.UploadedDigit | ValueError] = {}  # by position in the batch
        for number, file in enumerate(files or []):
            try:
                prepared[number] = widgets.prepared_upload(file.getvalue())
            except ValueError as exc:
                prepared[number] = exc
        good = [number for number, item in prepared.items() if isinstance(item, images.UploadedDigit)]
        if good:
            classifier = widgets.model_or_reason("classifier", optional=True)
            digits = np.stack([prepared[number].image for number in good])
            inputs = data.add_noise(digits, kind, strength, seed=0) if add_noise else digits
            outputs = dict(zip(good, zip(inputs, denoise.denoise(model, inputs))))
        for number, file in enumerate(files or []):
            item = prepared[number]
            if isinstance(item, ValueError):
                st.error(f"**{file.name}**: {item}")
                continue
            model_input, output = outputs[number]
            verdict = out_of_depth_verdict(model_input, output, classifier)
            with st.container(border=True, key=f"den_result_{number}"):
                st.markdown(f"**{file.name}**")
                for note in item.notes:
                    st.warning(note)
                if verdict is not None:
                    st.warning(verdict, icon=":material/help:")
                columns = st.columns([1, 1, 1, 1, 2] if add_noise else [1, 1, 1, 3])
                columns[0].image(images.png_data_url(item.preview, max(1, images.PREVIEW_SIDE // max(item.preview.shape))),
                                 caption="your image")
                with columns[1]:
                    show_digit(item.image, "as MNIST sees it", classifier)
                if add_noise:
                    with columns[2]:
                        show_digit(model_input, "with noise", classifier)
                with columns[-2]:
                    show_digit(output, f"{denoiser}'s output, not a result" if verdict else f"denoised by {denoiser}",
                               classifier)
                with columns[-1]:
                    st.caption(" · ".join(item.steps))
                    if verdict is None:
                        st.download_button("Download the denoised digit (PNG)", images.to_png(output),
                                           file_name=f"{Path(file.name).stem}_denoised.png", mime="image/png",
                                           on_click="ignore", key=f"den_download_{number}",
                                           icon=":material/download:")
        if not files:
            st.info("Upload one or several images of handwritten digits; each is denoised on its own, and a "
                    "file that cannot be read is explained without stopping the others.")

# --- draw ---------------------------------------------------------------------------------
if tab_draw.open:
    with tab_draw:
        canvas_column, result_column = st.columns([2, 3])  # the canvas needs its 280 px
        with canvas_column:
            st.markdown("Draw a digit with the mouse, big, in the middle of the box.")
            try:
                drawn, problem = widgets.digit_canvas("den_canvas"), None
            except ValueError as exc:  # e.g. a canvas cleared to transparent
                drawn, problem = None, str(exc)
            add_noise = st.toggle(f"Add {noise_phrase()} on top", key="den_draw_noise")
        with result_column:
            if problem:
                st.error(problem)
            if drawn is None or drawn.blank:
                st.info("The result appears here as soon as you lift the mouse.")
            else:
                classifier = widgets.model_or_reason("classifier", optional=True)
                reconstructor = widgets.model_or_reason("conv", optional=True)
                model_input = data.add_noise(drawn.image, kind, strength, seed=0) if add_noise else drawn.image
                denoised = denoise.denoise(model, model_input)
                verdict = out_of_depth_verdict(model_input, denoised, classifier)
                if verdict is not None:
                    st.warning(verdict, icon=":material/help:")
                outputs = [(drawn.image, "as MNIST sees it")]
                if add_noise:
                    outputs.append((model_input, "with noise"))
                outputs.append((denoised, f"{denoiser}'s output, not a result" if verdict else f"denoised by {denoiser}"))
                if reconstructor is not None:
                    outputs.append((denoise.denoise(reconstructor, model_input), "reconstructed by conv (plain)"))
                for column, (image, caption) in zip(st.columns(len(outputs)), outputs):
                    with column:
                        show_digit(image, caption, classifier)
                st.caption(" · ".join(drawn.steps[1:]))  # the first step names the canvas's PNG

link.finish()
