"""The guided path: a first visit through the lab in order, a short paragraph and one thing to try a step.

The Guided path page (views/guide.py) shows a step and opens its page; while a visitor follows the path,
`sidebar_step` reminds them on that page what to try and links to the next step. The step is in the
URL (`guide_step`, bound by the Guided path page) and remembered for the session, so the path resumes
where it was left. No torch: app.py calls `sidebar_step` on every page, the home page too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

from ui import pages

STEP_KEY = "guide_step"   # the Guided path page's step selector, bound to the URL
AT_KEY = "_guide_at"      # the step reached this session (1-based), kept while the visitor is on other pages
SKIPPED_KEY = "_guide_skipped"


@dataclass(frozen=True)
class Step:
    title: str
    page: str                 # the file of the page the step opens (ui.pages)
    query: dict = field(default_factory=dict)  # URL state that opens the page on what the step is about
    text: str = ""            # the short paragraph
    try_this: str = ""        # one thing to try on that page


STEPS = (
    Step("What an autoencoder is", pages.NETWORK, {"net_model": "dense", "net_source": "Draw"},
         "An autoencoder is two networks in a row: an encoder squeezes a digit's 784 pixels into a short code, "
         "and a decoder rebuilds the digit from that code alone. Training makes the rebuild as close to the "
         "original as it can; what the code keeps is whatever the rebuild needs.",
         "Draw a digit in the box and watch each layer, and the 32 numbers of the code, change as you lift your "
         "finger. Then pick the layer called code under the diagram."),
    Step("Reconstruction", pages.RECONSTRUCTION, {"rec_tab": "Reconstructions"},
         "Squeezing loses something. The Reconstruction page puts test digits above each model's rebuild and "
         "measures the difference (BCE: lower is closer).",
         "Compare the rows: which model keeps thin strokes and loops best? The BCE beside each row says by "
         "how much."),
    Step("The code", pages.RECONSTRUCTION, {"rec_tab": "Codes"},
         "The code is the model's whole description of a digit. A dense model's code is a list of numbers; a "
         "convolutional model's is a few small feature maps that keep a rough where.",
         "Pick conv as the model in this tab and compare its feature maps across digits: which maps light up "
         "for a 1 and which for a 0?"),
    Step("Denoising", pages.DENOISING, {"den_tab": "Noise lab"},
         "Trained on noisy digits against clean ones, an autoencoder learns to drop what is not a digit: "
         "noise does not fit through the code.",
         "Raise the noise strength and see where the cleaned digits stop being readable; PSNR and the "
         "classifier's accuracy put a number on it."),
    Step("Latent space", pages.LATENT_SPACE, {},
         "Codes are points in a space. A map of thousands of them shows whether similar digits end up near "
         "each other: the structure the model found without ever seeing a label.",
         "Switch the Space from raw pixels to a model's code and see whether the ten colours separate better; "
         "the k-NN accuracy beside the map says how much."),
    Step("VAE and generation", pages.GENERATE, {"gen_tab": "Live sliders"},
         "A variational autoencoder (VAE) gives a cloud of likely codes, not one point, and is trained so that "
         "the clouds fill a simple space: then any point decodes to a digit, and new digits can be drawn.",
         "Drag across the 2-D pad and watch one digit morph into another: where do the 4s meet the 9s? "
         "On Inside the network, pick vae2 to see your own digit's cloud and the two parts of its loss."),
    Step("Anomaly", pages.ANOMALY, {"an_your_digit": "Draw"},
         "A VAE trained only on sevens rebuilds sevens cheaply and everything else badly: the cost of a "
         "digit, in nats, flags what it has not seen.",
         "Draw a 7, then a 1 and an 8: which does it flag, and by how many nats over the threshold?"),
    Step("Train your own", pages.TRAIN, {},
         "Every model here was trained by a recipe you can change: the code size, the loss, the epochs. "
         "Training your own is the best way to see what each choice does.",
         "Retrain dense with a smaller code for a few epochs and compare its rebuilds with the shipped one's."),
)


def step_at() -> int | None:
    """The step (1-based) this visitor is at, or None before the path is started or after it is skipped."""
    if st.session_state.get(SKIPPED_KEY):
        return None
    return st.session_state.get(AT_KEY)


def sidebar_step(url_path: str) -> None:
    """On the page (its address, `st.Page.url_path`) of the step the visitor is at: what to try there, and
    a link to the next step."""
    at = step_at()
    addresses = {page.path: page.url_path for page in pages.PAGES}
    if at is None or not 1 <= at <= len(STEPS) or addresses.get(STEPS[at - 1].page) != url_path:
        return
    step = STEPS[at - 1]
    with st.sidebar.container(border=True, key="guide_sidebar"):
        st.markdown(f"**Guided path · step {at} of {len(STEPS)}: {step.title}**  \n:small[Try this: {step.try_this}]")
        if at < len(STEPS):
            st.page_link(pages.GUIDE, label=f"Next: {STEPS[at].title}", icon=":material/arrow_forward:",
                         query_params={STEP_KEY: STEPS[at].title})
        else:
            st.page_link(pages.GUIDE, label="Back to the guided path", icon=":material/route:",
                         query_params={STEP_KEY: step.title})
