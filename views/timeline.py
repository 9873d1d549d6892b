"""Timeline page: scrub through a model's training, epoch by epoch, one model or two side by side."""

import numpy as np
import streamlit as st

from components import timeline as timeline_component
from core import timeline
from ui import caches, links, widgets

st.set_page_config(page_title="Timeline · Autoencoder Lab", layout="wide")

NONE = "(none)"
KNN_MARK = 0.9  # the k-NN accuracy the sentence dates


def knn_sentence(name: str, recorded: timeline.Timeline) -> str:
    """When the 2-D positions began to sort the digits, in numbers from the timeline."""
    first, last = float(recorded.knn[0]), float(recorded.knn[-1])
    text = (f"**{name}**: a digit's 5 nearest neighbours among the 2,000 points share its class "
            f"{100 * first:.0f}% of the time before training and {100 * last:.0f}% after epoch "
            f"{recorded.epochs[-1]}")
    passed = timeline.first_epoch_above(recorded, KNN_MARK)
    if passed is not None:
        return text + f"; it passes {100 * KNN_MARK:.0f}% at epoch **{passed}**."
    if last > first:
        most = timeline.first_epoch_above(recorded, first + KNN_MARK * (last - first))
        return text + (f"; {100 * KNN_MARK:.0f}% of that gain is there by epoch **{most}** "
                       f"({100 * first + KNN_MARK * 100 * (last - first):.0f}%).")
    return text + "."


def spread_sentence(named: list[tuple[str, timeline.Timeline]]) -> str | None:
    """How far from the origin two models' 2-D codes end up (both codes themselves), or None."""
    if len(named) != 2 or any(t.method != timeline.CODE for _, t in named):
        return None
    radii = [(name, float(np.median(np.linalg.norm(t.positions[-1], axis=1)))) for name, t in named]
    (a, ra), (b, rb) = radii
    return (f"After training, the median distance of a code from the origin is {ra:.2f} for **{a}** and "
            f"{rb:.2f} for **{b}**: a VAE's KL term pulls its codes toward the origin, where its prior "
            "puts them; a plain autoencoder's codes may spread as far as suits the decoder.")


link = links.PageLinks()
st.title("Watch the models learn")
st.markdown("Every model's training, recorded epoch by epoch: where 2,000 test digits (200 of each class) sit "
            "in its code, the ten fixed digits' reconstructions and the loss. Drag the slider or press **Play**; "
            "hover over (or tap) a point to see its digit.")
link.note_here()

names = caches.timeline_names()
if not names:
    st.warning("No model has a training timeline yet: train one (`python -m core.train --model ae2`, or on the "
               "Train page) and its timeline is recorded as it learns.")
    link.finish()
    st.stop()

first_cell, second_cell = st.columns(2)
with first_cell:
    default = names.index("ae2") if "ae2" in names else 0
    name = st.selectbox("Model", names, index=default, **link.bind("tl_model"))
with second_cell:
    others = [NONE, *[n for n in names if n != name]]
    compare = st.selectbox("Beside it, on the same slider", others,
                           index=others.index("vae2") if name == "ae2" and "vae2" in others else 0,
                           **link.bind("tl_compare"))

shown = [name] + ([compare] if compare != NONE else [])
named, views = [], []
for model in shown:
    try:
        recorded = caches.training_timeline(model)
        bundle_id, payload = caches.timeline_bundle(model)
    except (FileNotFoundError, ValueError) as exc:
        st.error(str(exc))
        continue
    timeline_component.send_bundle(bundle_id, payload)
    named.append((model, recorded))
    views.append((model, bundle_id))

if views:
    datasets = {recorded.dataset for _, recorded in named}
    sprites_id, sprites = caches.timeline_sprites(sorted(datasets)[0])
    timeline_component.send_bundle(sprites_id, sprites)
    timeline_component.timeline_view("tl_view", views, sprites_id, list(widgets.DIGIT_COLORS),
                                     height=440 if len(views) == 1 else 380)
    st.markdown("  \n".join(knn_sentence(model, recorded) for model, recorded in named))
    spread = spread_sentence(named)
    if spread:
        st.markdown(spread)
    st.caption("Positions: a 2-D code is drawn as itself. A wider code is drawn on its top two principal axes, each "
               "epoch turned (rotated or mirrored, never stretched) onto the epoch before, so the picture does not "
               "spin or flip between epochs that barely differ. Each epoch is zoomed to fit unless "
               "*same scale every epoch* is ticked. "
               "k-NN accuracy: the share of the 2,000 points whose 5 nearest others on the plot mostly share "
               "their digit. Long runs keep every k-th epoch (at most 80) and the last.")
link.finish()
