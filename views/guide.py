"""Guided path: a first visit through the lab in order, one step at a time, each opening the page it is about."""

import streamlit as st

from ui import caches, guide, links

st.set_page_config(page_title="Guided path · Autoencoder Lab", layout="wide")

TITLES = [step.title for step in guide.STEPS]  # the radio's options: a link reads `guide_step=The code`

link = links.PageLinks()
st.title("Guided path")
link.note_here()
st.markdown(f"{len(guide.STEPS)} short steps through the lab, in order: a paragraph each and one thing to try on "
            "the page it opens. While you are on that page, its sidebar says what to try and leads to the next "
            "step. Skip any step, or the whole path; it picks up where you left it.")

if not caches.available_models(("ae", "vae", "denoiser")):
    st.warning("No trained models are available yet, and most steps open a page that shows them: train them on "
               "the Train page (the last step) or run `python -m core.train --all`.")

if guide.STEP_KEY not in st.session_state and guide.STEP_KEY not in st.query_params and guide.step_at():
    st.session_state[guide.STEP_KEY] = TITLES[guide.step_at() - 1]  # resume this session's step when the link has none
title = st.radio("Step", TITLES, **link.bind(guide.STEP_KEY), horizontal=True,
                 on_change=lambda: st.session_state.pop(guide.SKIPPED_KEY, None))  # picking a step takes the path up again
at = TITLES.index(title) + 1
st.session_state[guide.AT_KEY] = at
step = guide.STEPS[at - 1]

with st.container(border=True, key="guide_step_card"):
    st.subheader(f"Step {at} of {len(guide.STEPS)}: {step.title}")
    st.markdown(step.text)
    st.markdown(f"**Try this:** {step.try_this}")
    st.page_link(step.page, label=f"Open the page for step {at}", icon=":material/open_in_new:",
                 query_params=step.query)


def go_to(number: int) -> None:
    st.session_state[guide.STEP_KEY] = TITLES[number - 1]
    st.session_state.pop(guide.SKIPPED_KEY, None)


def skip_all() -> None:
    st.session_state[guide.SKIPPED_KEY] = True


back, ahead, away = st.columns(3)
back.button("Previous step", key="guide_back", icon=":material/arrow_back:", disabled=at == 1,
            on_click=go_to, args=(at - 1,), width="stretch")
ahead.button("Skip to the next step", key="guide_next", icon=":material/arrow_forward:", disabled=at == len(guide.STEPS),
             on_click=go_to, args=(at + 1,), width="stretch")
away.button("Skip the guided path", key="guide_skip", icon=":material/close:", on_click=skip_all, width="stretch")
if st.session_state.get(guide.SKIPPED_KEY):
    st.info("The guided path is skipped: the other pages' sidebars no longer show its steps. Pick a step above, "
            "or use the menu to go anywhere.", icon=":material/route:")

link.finish()
