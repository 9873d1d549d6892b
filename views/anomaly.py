"""Anomaly detection: a VAE that knows one digit flags every other digit, by its negative ELBO or by
the likelihood ratio against a VAE of all ten digits."""

import math

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core import anomaly, images, inference
from ui import caches, glossary, links, widgets

st.set_page_config(page_title="Anomaly · Autoencoder Lab", layout="wide")

GALLERY_SIZE = 21  # three rows at the page's width
GRID_SIZE, GRID_SPAN = 15, 3.0  # latent grids: 15 x 15 digits over z in [-3, 3]^2
SHOWN_QUANTILES = (0.001, 0.995)  # histogram and slider range: the far tail would squash the rest
SCORE_NAMES = {"ratio": f"Likelihood ratio against {anomaly.BACKGROUND}", "elbo": "Negative ELBO"}

# --- sidebar ------------------------------------------------------------------------------
link = links.PageLinks()
with st.sidebar:
    st.header("Anomaly detection")
    options = caches.one_digit_models()
    if not options:
        st.warning("No model trained on a single digit is available: train `vae_one` on the Train page "
                   "or run `python -m core.train --model vae_one`.")
        st.stop()
    name = st.selectbox("Model that knows one digit", options, format_func=widgets.describe, **link.bind("an_model"))
    st.caption("`vae_one` learnt sevens only. Retrain it on another digit on the Train page "
               "(its recipe's digit) and pick it here.")
    ratio_possible = caches.checkpoint_status(anomaly.BACKGROUND).state == "ok"
    score = st.radio("Score", anomaly.SCORES if ratio_possible else ("elbo",), format_func=SCORE_NAMES.get,
                     **link.bind("an_score"),
                     help=f"Negative ELBO: the nats the one-digit VAE needs for a digit. Likelihood ratio: those nats "
                          f"minus what `{anomaly.BACKGROUND}`, a VAE of all ten digits, needs for it, so that a digit "
                          "with little ink is no longer cheap for that reason alone (Ren et al. 2019).")
    if not ratio_possible:
        st.caption(f"The likelihood ratio needs the all-digit `{anomaly.BACKGROUND}` checkpoint, which cannot be "
                   "used now.")
ratio = score == "ratio"

model = widgets.model_or_reason(name, stop=True)
background = widgets.model_or_reason(anomaly.BACKGROUND, stop=True) if ratio else None
result = caches.anomaly_scores(name, anomaly.BACKGROUND if ratio else None)
scored_by = (name, anomaly.BACKGROUND) if ratio else (name,)  # the checkpoints the figures depend on
digit = result.digit
known = ~result.is_anomaly
digits = caches.test_digits("mnist")

st.title("Anomaly detection")
st.markdown(
    f"`{name}` is a variational autoencoder that has only ever seen **{digit}s**. It explains a {digit} "
    f"with few nats and any other digit with many, so each digit's negative ELBO (reconstruction error "
    f"plus the cost of its code, in nats) is an anomaly score: flag every digit that scores above a "
    f"threshold and you have a detector of \"not a {digit}\"."
)
if ratio:
    elbo = caches.anomaly_scores(name)  # the ELBO's figures, for the comparison
    hardest = min(set(range(10)) - {digit}, key=lambda d: anomaly.pair_auc(elbo, d))
    st.markdown(
        f"But a digit with little ink is cheap for any model, so the ELBO alone tells {digit}s from {hardest}s "
        f"badly (ROC AUC {anomaly.pair_auc(elbo, hardest):.3f}, where 0.5 is a coin toss). The score here is "
        f"the **likelihood ratio**: the nats `{name}` needs minus the nats `{anomaly.BACKGROUND}`, a VAE of all "
        f"ten digits, needs for the same digit. What both find easy cancels out: {digit}s against {hardest}s "
        f"{anomaly.pair_auc(result, hardest):.3f}, against every other digit {result.auc:.3f} "
        f"(the ELBO: {elbo.auc:.3f}). Switch the score in the sidebar to compare."
    )
widgets.source_caption(digits.source)
link.note_here()


def histogram_figure(threshold: float, low: float, high: float, bins: int = 60) -> go.Figure:
    """One histogram of scores per test digit class (2 x 5 panels), the threshold dashed on each; each
    bar is a share of that digit's test images, on one scale for all ten, so the panels compare.

    Binned here and laid out by hand: plotly's make_subplots and add_vline took ~1 s a re-run.
    """
    edges = np.linspace(low, high, bins + 1)
    centres, width = (edges[:-1] + edges[1:]) / 2, edges[1] - edges[0]
    shares = [100 * np.histogram(result.scores[result.labels == d], edges)[0] / max(1, (result.labels == d).sum())
              for d in range(10)]
    top = 1.05 * max(float(share.max()) for share in shares)
    traces, layout, shapes, titles = [], {}, [], []
    gap_x, gap_y = 0.03, 0.16
    panel_w, panel_h = (1 - 4 * gap_x) / 5, (1 - gap_y) / 2
    for d in range(10):
        row, col = divmod(d, 5)
        axis = "" if d == 0 else str(d + 1)  # plotly names axes x, x2, x3, ...
        traces.append(go.Bar(x=centres, y=shares[d], width=width, xaxis=f"x{axis}", yaxis=f"y{axis}",
                             marker_color=widgets.DIGIT_COLORS[d], name=f"digit {d}", showlegend=False,
                             hovertemplate=f"digit {d}<br>%{{x:.0f}} nats: %{{y:.1f}}% of its test images<extra></extra>"))
        x0, y0 = col * (panel_w + gap_x), (1 - row) * (panel_h + gap_y)
        layout[f"xaxis{axis}"] = dict(domain=[x0, x0 + panel_w], anchor=f"y{axis}", range=[low, high],
                                      nticks=3, tickangle=0)
        layout[f"yaxis{axis}"] = dict(domain=[y0, y0 + panel_h], anchor=f"x{axis}", range=[0, top],
                                      ticksuffix="%", showticklabels=col == 0)
        shapes.append(dict(type="line", xref=f"x{axis}", yref=f"y{axis} domain", x0=threshold, x1=threshold,
                           y0=0, y1=1, line=dict(dash="dash", color="#444", width=1.5)))
        titles.append(dict(text=f"<b>digit {d} (known)</b>" if d == digit else f"digit {d}",
                           xref=f"x{axis} domain", yref=f"y{axis} domain", x=0.5, y=1.0, yanchor="bottom",
                           showarrow=False))
    return go.Figure(data=traces, layout=dict(layout, shapes=shapes, annotations=titles, height=480, bargap=0,
                                              margin=dict(l=10, r=10, t=30, b=10)))


def roc_figure(detection: anomaly.Detection) -> go.Figure:
    fpr, tpr, _ = result.roc_curve
    return go.Figure([
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="#bbb"), name="chance",
                   hoverinfo="skip"),
        go.Scatter(x=fpr, y=tpr, mode="lines", name=f"AUC {result.auc:.3f}", line=dict(width=3),
                   hovertemplate="false alarms %{x:.1%}<br>recall %{y:.1%}<extra></extra>"),
        go.Scatter(x=[detection.false_alarm_rate], y=[detection.recall], mode="markers", name="threshold",
                   marker=dict(size=12, color="#d62728")),
    ], layout=dict(  # one constructor call: update_xaxes and friends cost more than the data
        xaxis=dict(title=dict(text=f"false alarms: {digit}s flagged"), range=[0, 1], tickformat=".0%"),
        yaxis=dict(title=dict(text="recall: other digits flagged"), range=[0, 1.02], tickformat=".0%"),
        height=430, margin=dict(l=10, r=10, t=30, b=10), legend=dict(x=0.45, y=0.1)))


def show_gallery(test_positions: np.ndarray) -> None:
    """Each digit beside its reconstruction, captioned with its label and score."""
    shown = anomaly.gallery(model, result, digits, test_positions)
    pairs = [images.to_png(images.tile(np.stack([original, rebuilt]), pad=1), scale=2)
             for original, rebuilt in zip(shown.originals, shown.rebuilt)]
    widgets.show_png(pairs, caption=[f"a {label} · {score:.0f}" for label, score in zip(shown.labels, shown.scores)])


# --- scores, threshold, precision and recall ------------------------------------------------
low, high = (float(q) for q in np.quantile(result.scores, SHOWN_QUANTILES))
columns = st.columns(4)
columns[0].metric("ROC AUC", f"{result.auc:.3f}",
                  help=f"The chance that a random other digit scores higher than a random {digit}: "
                       + ("the figure `python -m core.anomaly` reports for this pair of checkpoints." if ratio else
                          "the figure `python -m core.evaluate` reports for this checkpoint."))
columns[1].metric("Test digits", f"{len(result.scores):,}", help=f"{known.sum():,} {digit}s, {(~known).sum():,} others")
columns[2].metric(f"Median score of the {digit}s", f"{np.median(result.scores[known]):.0f} nats")
columns[3].metric("Median score of the others", f"{np.median(result.scores[~known]):.0f} nats")
glossary.note(("ROC AUC", f"{result.auc:.3f}"), ("nats", f"a median of {np.median(result.scores[known]):.0f} for the {digit}s"),
              ("ELBO", f"{np.median(result.scores[known]):.0f} nats for a typical {digit}" if not ratio else
               f"what the score is made of, minus the same for `{anomaly.BACKGROUND}`"))

# Whole nats: scores span 100 nats or more, and a link carries `65`, not `65.71430519285579`.
low, high = math.floor(low), max(math.ceil(high), math.floor(low) + 1)
threshold = st.slider(
    "Threshold: flag digits scoring above (nats)", low, high, int(np.clip(round(anomaly.default_threshold(result)), low, high)),
    step=1, **link.bind(f"an_threshold_{name}{'_ratio' if ratio else ''}"),
    help=f"It starts where {anomaly.FALSE_ALARM_RATE:.0%} of the {digit}s are flagged.",
)
detection = anomaly.detect(result, threshold)
columns = st.columns(4)
columns[0].metric("Precision", f"{detection.precision:.1%}", help="Of the flagged digits, the share that are not "
                  f"{digit}s.")
columns[1].metric("Recall", f"{detection.recall:.1%}", help=f"Of the digits that are not {digit}s, the share flagged.")
columns[2].metric("False alarms", f"{detection.false_alarm_rate:.1%}", help=f"Of the {digit}s, the share flagged.")
columns[3].metric("Flagged", f"{detection.flagged:,}")

# Which digits pass at this threshold: the numbers behind "a 1 passes, a crossed 7 is flagged".
passing = {d: float((result.scores[result.labels == d] <= threshold).mean()) for d in range(10)}
slipping = sorted((d for d in passing if d != digit), key=passing.get, reverse=True)


def slips_through(count: int = 2) -> str:
    """The other digits that pass most often at this threshold: "83% of the test 1s and 29% of the 9s"."""
    first, *more = slipping[:count]
    return " and ".join([f"{passing[first]:.0%} of the test {first}s", *(f"{passing[d]:.0%} of the {d}s" for d in more)])


st.markdown(
    f"**What passes as a {digit} at this threshold:** {passing[digit]:.0%} of the test {digit}s, and of the others "
    f"{slips_through()}. A digit made of strokes {digit}s also have is cheap for `{name}` to explain, so it "
    f"passes; raise the threshold and fewer {digit}s are flagged but more others pass, lower it and the reverse"
    + ("." if ratio else f"; the likelihood ratio (Score, in the sidebar) separates {digit}s from {slipping[0]}s better.")
)

st.markdown("**Scores per test digit class**: the share of each digit's test images at each score, one scale "
            "for all ten (dashed: the threshold; right of it is flagged)")
st.plotly_chart(caches.cached_figure("anomaly histograms", lambda: histogram_figure(threshold, low, high), name, score,
                                     threshold, models=scored_by), key="an_histograms", config={"displaylogo": False})
_, right, _ = st.columns([1, 3, 1])
with right:
    st.markdown("**ROC curve** (red: the threshold)")
    st.plotly_chart(caches.cached_figure("anomaly roc", lambda: roc_figure(detection), name, score, threshold,
                                     models=scored_by),
                    key="an_roc", config={"displaylogo": False})

# --- galleries ------------------------------------------------------------------------------
st.subheader("The digits behind the numbers")
view = st.radio("Show", ["most anomalous", "missed"], horizontal=True, **link.bind("an_gallery"),
                format_func={"most anomalous": "The most anomalous digits",
                             "missed": f"Other digits it finds most like a {digit}"}.get)
if view == "most anomalous":
    shown = anomaly.most_anomalous(result, GALLERY_SIZE)
else:
    others = np.flatnonzero(~known)
    shown = others[np.argsort(result.scores[others], kind="stable")[:GALLERY_SIZE]]
st.caption(f"Each test digit beside how `{name}` rebuilds it, with its label and score in nats.")
show_gallery(shown)

# --- latent grids ---------------------------------------------------------------------------
st.subheader("What each latent space decodes to")
st.markdown(f"Every point of `{name}`'s 2-D latent space decodes to a {digit}: it has no way to draw "
            "anything else, which is why other digits rebuild badly. Beside it, `vae2` learnt all ten digits.")
for column, grid_model_name in zip(st.columns(2), (name, "vae2")):
    with column:
        grid_model = widgets.model_or_reason(grid_model_name)
        if grid_model is None:
            continue
        if grid_model.code_shape != (2,):
            st.info(f"`{grid_model_name}` has a {grid_model.code_shape[0]}-D latent space; the grid needs 2-D.")
            continue
        widgets.show_png(caches.latent_grid_png(grid_model_name, GRID_SIZE, GRID_SPAN),
                 caption=f"{grid_model_name}: z0 from −{GRID_SPAN:g} to {GRID_SPAN:g} left to right, z1 downwards from {GRID_SPAN:g}")

# --- your digit -----------------------------------------------------------------------------
st.subheader(f"Is your digit a {digit}?")
# Only the open tab runs: the drawing canvas (a browser component of its own) loads when it is wanted.
tab_upload, tab_draw = st.tabs(["Upload", "Draw"], **link.bind("an_your_digit"), on_change="rerun")


def verdict(item: images.UploadedDigit, label: str) -> None:
    """Score one digit against the threshold; show it, its reconstruction and the verdict."""
    for note in item.notes:
        st.warning(note)
    if item.blank:
        return
    value = anomaly.score_image(model, item.image, background)
    rebuilt = inference.reconstruct(model, item.image)
    lower = float((result.scores[known] < value).mean())  # its percentile among the test sevens
    columns = st.columns([1, 1, 3])
    widgets.show_png(images.to_png(item.image, scale=4), columns[0], caption=f"{label}, as MNIST sees it", width=112)
    widgets.show_png(images.to_png(rebuilt, scale=4), columns[1], caption=f"rebuilt by {name}", width=112)
    with columns[2]:
        st.metric("Anomaly score", f"{value:.0f} nats", delta=f"{value - threshold:+.0f} vs the threshold",
                  delta_color="inverse")
        where = f"{value:.0f} nats against the threshold of {threshold:.0f}; {lower:.0%} of the test {digit}s score lower"
        if value > threshold:
            st.warning(f"Flagged: not a {digit}, says `{name}` ({where}).")
        else:
            st.success(f"Passes as a {digit} ({where}). Passing is not proof: at this threshold "
                       f"{slips_through()} pass too, because `{name}` finds more than {digit}s cheap to explain.")
        st.caption("The score is what the rebuild misses plus the cost of the code"
                   + (f", minus the same for `{anomaly.BACKGROUND}`, which knows all ten digits. " if ratio else ". ")
                   + f"`{name}` can only draw what it learnt from MNIST's {digit}s: strokes they rarely have are left "
                   "out of the rebuild and cost nats, while a digit made of strokes they share is cheap to explain"
                   + ("; what is cheap for every model, such as a short plain stroke, cancels out." if ratio else "."))


yours = widgets.your_digit("an", tabs=(tab_upload, tab_draw))
for given in yours:
    with given.tab:
        verdict(given.digit, given.name)
if tab_upload.open and not yours:
    tab_upload.caption("Upload an image of a digit: its score and the verdict appear here.")

st.caption(f"At this threshold, the share of each digit's test images that passes as a {digit}: "
           + ", ".join(f"{d}s {share:.0%}" for d, share in passing.items()) + ". "
           + f"Median scores: {digit}s {np.median(result.scores[known]):.0f} nats, "
           + ", ".join(f"{d}s {np.median(result.scores[result.labels == d]):.0f}"
                       for d in sorted(passing, key=passing.get, reverse=True)[:3] if d != digit) + ".")

link.finish()
