"""The app's pages in navigation order: file, title, icon, address and a one-line blurb each.

No torch and no Streamlit: `app.py` builds the navigation from this table, the home page draws a
card per page, and other pages link to each other through `path`.
"""

from __future__ import annotations

from dataclasses import dataclass

from core import PROJECT_DIR


@dataclass(frozen=True)
class Page:
    path: str  # relative to the project, as st.Page and st.page_link take it
    title: str
    icon: str
    url_path: str  # the address: `Denoising?den_kind=Masking`
    blurb: str


GUIDE, NETWORK = "views/guide.py", "views/network.py"
PAGES = (
    Page(GUIDE, "Guided path", ":material/route:", "Guided_path",
         "A first visit in order: eight short steps, one thing to try on each page."),
    Page(NETWORK, "Inside the network", ":material/account_tree:", "Inside_the_network",
         "Your digit through a model, layer by layer; a VAE's mean, spread and loss."),
    Page("views/reconstruction.py", "Reconstruction", ":material/compare:", "Reconstruction",
         "How each autoencoder rebuilds digits, and what its code looks like."),
    Page("views/denoising.py", "Denoising", ":material/auto_fix_high:", "Denoising",
         "Add noise, upload or draw a digit, and clean it up."),
    Page("views/latent_space.py", "Latent space", ":material/scatter_plot:", "Latent_Space",
         "A t-SNE / PCA map of encoded digits."),
    Page("views/generate.py", "Generate", ":material/auto_awesome:", "Generate",
         "Drag latent sliders and watch a digit morph."),
    Page("views/anomaly.py", "Anomaly", ":material/crisis_alert:", "Anomaly",
         "A VAE that knows one digit flags all the others."),
    Page("views/train.py", "Train", ":material/model_training:", "Train",
         "Retrain any model with your own settings."),
    Page("views/timeline.py", "Timeline", ":material/timeline:", "Timeline",
         "Scrub through every model's training: its codes forming, epoch by epoch."),
)
TIMELINE = "views/timeline.py"
RECONSTRUCTION, DENOISING, LATENT_SPACE, GENERATE, ANOMALY, TRAIN = (
    page.path for page in PAGES if page.path not in (GUIDE, NETWORK, TIMELINE))


def existing_pages() -> tuple[Page, ...]:
    """The pages of PAGES whose files exist, in order."""
    return tuple(page for page in PAGES if (PROJECT_DIR / page.path).is_file())
