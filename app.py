"""Home page: what the lab is, which models exist, their checkpoints and the data in use."""

import streamlit as st

st.set_page_config(page_title="Autoencoder Lab", page_icon="🔢", layout="wide")

st.title("Autoencoder Lab")
st.markdown(
    "An autoencoder squeezes a handwritten digit into a short code and rebuilds it from that code. "
    "Here you can compare how dense, sparse, deep, convolutional, weight-tied, denoising and "
    "variational autoencoders do it, drag through their latent spaces, clean up noisy digits, "
    "and retrain any of them yourself. Every model below was trained on MNIST and is ready to use."
)

# Everything below needs torch, whose import takes about 2 s when the server has just started:
# the title and the introduction are on screen meanwhile.
with st.spinner("Starting the lab…"):
    import ui
    from core.evaluate import checkpoint_headline
    from core.registry import get_spec, list_models

columns = st.columns(3)
for i, (path, (title, blurb)) in enumerate(ui.existing_pages().items()):
    with columns[i % 3].container(border=True):
        st.page_link(path, label=f"**{title}**")
        st.caption(blurb)

st.subheader("Data")
test = ui.test_digits("mnist")
st.markdown(f"Test digits: **{test.source}**.")

st.subheader("Models")
columns = st.columns(3)
for i, name in enumerate(list_models()):
    spec = get_spec(name)
    status = ui.checkpoint_status(name)
    # One markdown element per card: every element is a message of its own, and 14 cards of five
    # made the home page the costliest run of a visit for the server.
    card = f"**{name}** · {spec.kind.upper()}  \n:small[:gray[{spec.summary}]]"
    with columns[i % 3].container(border=True):
        if status.state != "ok":
            st.markdown(card)
            st.warning(status.message)
            continue
        meta = status.meta
        st.markdown(f"{card}\n\n{checkpoint_headline(meta)}  \n"
                    f"{meta['parameters']:,} parameters · {meta['epochs']} epochs  \n"
                    f":small[:gray[Trained on {meta['data_source']}]]")

users = [n for n in ui.available_models(("ae", "vae", "classifier")) if n not in list_models()]
if users:
    st.subheader("Your models")
    for name in users:
        status = ui.checkpoint_status(name)
        st.markdown(f"**{name}** — {status.meta['model']}, {checkpoint_headline(status.meta)}, "
                    f"{status.meta['epochs']} epochs")
