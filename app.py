"""Entry point: the navigation ("Home" first, then every page of `ui.pages`) and the home page.

The home page imports neither torch nor the registry: checkpoint metadata is JSON in the
safetensors header and the card pictures are files made from the checkpoints
(`python -m core.thumbnails`), so it is drawn as soon as Streamlit has started.
"""

from pathlib import Path

import streamlit as st

from core import catalogue
from ui import guide, pages, startup

START_PAGE = pages.RECONSTRUCTION
MODELS_PER_ROW = 2
FAVICON = Path(__file__).parent / "ui" / "favicon.png"  # a 7 of MNIST's test split, 56 px
# Where a model's card leads, and the URL state that opens that page on the model.
MODEL_PAGES = {
    "unet": (pages.DENOISING, {"den_model": "unet"}),
    "denoising": (pages.DENOISING, {"den_model": "denoising"}),
    "classifier": (pages.DENOISING, {}),
    "vae2": (pages.GENERATE, {"gen_tab": "Latent grid"}),
    "vae": (pages.GENERATE, {"gen_tab": "Live sliders"}),
    "cvae": (pages.GENERATE, {"gen_tab": "Pick a digit"}),
    "vae_one": (pages.ANOMALY, {"an_model": "vae_one"}),
}
# A card is one link: the page link's hit area is stretched over the whole bordered card. The
# metric's help icon stays above it, so its tooltip still opens.
CARD_STYLE = """<style>
[class*="st-key-home_card_"] { position: relative; transition: background-color .15s; }
[class*="st-key-home_card_"]:hover { background-color: rgba(151, 166, 195, .12); }
[class*="st-key-home_card_"] [data-testid="stPageLink"],
[class*="st-key-home_card_"] [data-testid="stPageLink"] *,
[class*="st-key-home_card_"] .stElementContainer { position: static; }
[class*="st-key-home_card_"] [data-testid="stPageLink"] a::after { content: ""; position: absolute; inset: 0; z-index: 1; }
[class*="st-key-home_card_"] [data-testid="stTooltipIcon"] { position: relative; z-index: 2; }
img.home-digits, img.home-hero { width: 100%; image-rendering: pixelated; object-fit: fill; display: block; }
img.home-hero { max-width: 560px; }
[class*="st-key-home_card_"] a.home-timeline { position: relative; z-index: 2; }
</style>"""


def digits_img(data_url: str, alt: str, css_class: str = "home-digits") -> str:
    """An <img> of a digit row (a PNG data URL, 28 px digits), scaled to its box with sharp pixels."""
    return f'<img class="{css_class}" src="{data_url}" alt="{alt}">'


def timeline_link(card: catalogue.Card) -> str:
    """A link to the card's training timeline (core.timeline's file of its current weights), or ""."""
    sha = (card.meta or {}).get("sha256") or ""
    if not (catalogue.checkpoint_dir() / "timelines" / f"{card.name}-{sha[:12]}.npz").is_file():
        return ""
    return (f' · <a class="home-timeline" href="Timeline?tl_model={card.name}" target="_self">'
            "watch it learn</a>")


def card_link(card: catalogue.Card) -> tuple[str, dict]:
    """(page file, query parameters) that a model's card opens."""
    model = card.meta.get("model", card.name)
    if card.name in MODEL_PAGES:
        return MODEL_PAGES[card.name]
    kind = (card.thumbnail or {}).get("kind")
    if kind == "denoiser":
        return pages.DENOISING, {"den_model": card.name}
    if model == "denoising" or kind not in ("ae", "vae"):
        return MODEL_PAGES.get(model, (START_PAGE, {}))[0], {}
    return START_PAGE, {"rec_models": card.name}


def grid(items: list, per_row: int = 3):
    """(column, item) for each item, a row of columns at a time: on a phone, where columns stack,
    the cards keep their order."""
    for first in range(0, len(items), per_row):
        yield from zip(st.columns(per_row), items[first:first + per_row])


def model_card(card: catalogue.Card) -> None:
    """A card with the model's picture, summary and headline figure (its meaning in a tooltip)."""
    with st.container(border=True, key=f"home_card_{card.name}"):
        if card.meta is None:
            st.markdown(f"**{card.name}**")
            st.warning(card.problem)
            return
        thumb, meta = card.thumbnail, card.meta
        kind = f" · {thumb['kind'].upper()}" if thumb else ""
        page, query = card_link(card)
        st.page_link(page, label=f"**{card.name}**{kind}", query_params=query)
        # One markdown element for the picture, summary and figure: every element costs the server a
        # message and the browser a node, fourteen times over.
        picture = (f"{digits_img(thumb['image'], f'{card.name} rebuilding ten test digits')}\n\n"
                   f":small[:gray[{thumb['summary']}{' ' + thumb['caption'] if thumb['caption'] else ''}]]"
                   if thumb else ":small[:gray[No picture yet: `python -m core.thumbnails` makes one from the checkpoint.]]")
        try:
            figure, explained = catalogue.checkpoint_headline(meta), catalogue.headline_help(meta)
        except (KeyError, TypeError):
            figure, explained = "not evaluated yet", None
        st.markdown(f"{picture}\n\n{figure}  \n:small[{meta.get('parameters', 0):,} parameters · "
                    f"{meta.get('epochs', '?')} epochs · trained on {meta.get('data_source', 'unknown data')}]"
                    f"{timeline_link(card)}",
                    unsafe_allow_html=True, help=explained)


def home() -> None:
    st.title("Autoencoder Lab")
    row = catalogue.test_row()
    if row:
        st.markdown(digits_img(row["image"], "ten MNIST test digits, one of each class", "home-hero"), unsafe_allow_html=True)
    st.markdown("An **autoencoder** squeezes a handwritten digit into a short code and rebuilds it from that code. "
                "Above: ten test digits; each model below shows how it rebuilds them.")
    st.page_link(START_PAGE, label="**Start here:** how the models rebuild digits", icon=":material/arrow_forward:")
    st.page_link(pages.GUIDE, label="**New here?** The guided path: eight short steps, one thing to try in each",
                 icon=":material/route:")
    st.page_link(pages.TIMELINE, label="**Watch them learn:** scrub through each model's training, epoch by epoch",
                 icon=":material/timeline:")
    st.html(CARD_STYLE)

    # The models' rebuilds are the page's message: first, two cards a row (digits ~38 px, not ~21 px).
    st.subheader("Models")
    st.caption("Every model here was trained on MNIST and is ready to use; a card opens the page that shows it "
               "best. Hover over ? for what a figure means and which way is better.")
    cards = catalogue.cards()
    shipped = [card for card in cards if not card.is_yours]
    for column, card in grid(shipped, per_row=MODELS_PER_ROW):
        with column:
            model_card(card)
    yours = [card for card in cards if card.is_yours]
    if yours:
        st.subheader("Models saved by visitors")
        total = catalogue.visitor_model_count()
        if total > len(yours):
            st.caption(f"The newest {len(yours)} of {total}; every one of them is in the model pickers of the pages.")
        for column, card in grid(yours, per_row=MODELS_PER_ROW):
            with column:
                model_card(card)
    if not cards:
        st.warning("No trained models are available yet: train one on the Train page or run "
                   "`python -m core.train --all`.")

    st.subheader("The lab's pages")
    for i, (column, page) in enumerate(grid(list(pages.existing_pages()))):
        with column.container(border=True, key=f"home_card_page{i}"):
            st.page_link(page.path, label=f"**{page.title}**", icon=page.icon)
            st.caption(page.blurb)

    st.divider()
    if row:
        sizes = row["sizes"]
        st.caption(f"Data: MNIST's official splits of {sizes['train']:,} training and {sizes['test']:,} test digits "
                   f"(LeCun, Cortes and Burges), read from the `{row['package'].split('==')[0]}` Python package. "
                   "Every figure on this page is measured on the test digits; each card says what its model "
                   "was trained on.")
    startup.warm_up_in_background()  # the pages' models load while the visitor reads this one


# A file, given as a Path: a string is first checked against Streamlit's emoji catalogue (35-70 ms on the
# first run), and a Material icon as favicon is fetched from Google's font CDN, which the lab never reaches.
st.set_page_config(page_title="Autoencoder Lab", page_icon=FAVICON, layout="wide")
page = st.navigation([st.Page(home, title="Home", icon=":material/home:", default=True),
                      *(st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path) for p in pages.existing_pages())])
if page.url_path:  # every page but Home needs torch and every core module: imported once, behind one lock
    startup.prepare_pages()
guide.sidebar_step(page.url_path)  # while a visitor follows the guided path: what to try on this page
page.run()
