"""The app's pages in navigation order, with a title and a one-line blurb each; no torch, no Streamlit.

`app.py` builds the navigation from this list (Streamlit stops reading pages/ by itself once
`st.navigation` is called), the home page draws a card per page, and the Train page links back.
"""

from __future__ import annotations

from pathlib import Path

PAGES = {
    "pages/1_Reconstruction.py": ("Reconstruction", "How each autoencoder rebuilds digits, and what its code looks like."),
    "pages/2_Denoising.py": ("Denoising", "Add noise, upload or draw a digit, and clean it up."),
    "pages/3_Latent_Space.py": ("Latent space", "A t-SNE / PCA map of encoded digits."),
    "pages/4_Generate.py": ("Generate", "Drag latent sliders and watch a digit morph."),
    "pages/5_Anomaly.py": ("Anomaly", "A VAE that knows one digit flags all the others."),
    "pages/6_Train.py": ("Train", "Retrain any model with your own settings."),
}
PAGE_ICONS = {"pages/1_Reconstruction.py": "🔁", "pages/2_Denoising.py": "🧽", "pages/3_Latent_Space.py": "🗺️",
              "pages/4_Generate.py": "✨", "pages/5_Anomaly.py": "🚨", "pages/6_Train.py": "🏋️"}


def existing_pages() -> dict[str, tuple[str, str]]:
    """The pages of PAGES whose files exist, in order."""
    root = Path(__file__).resolve().parent
    return {path: info for path, info in PAGES.items() if (root / path).is_file()}
