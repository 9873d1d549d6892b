"""The lab's technical terms, each in one or two plain sentences with a slot for the figure the page shows.

A page explains a term where it first shows it: `glossary.note(("KL", "7.7 nats"), ...)` draws the
definitions as a caption under the figure, not only in a tooltip.
"""

from __future__ import annotations

import streamlit as st

# term -> a definition with a `{shown}` slot for the page's figure
TERMS = {
    "BCE": "**BCE** (binary cross-entropy) scores a rebuild pixel by pixel: small when the model is sure and "
           "right about a pixel's ink, large when it is sure and wrong. Here it is {shown}; lower is better.",
    "MSE": "**MSE** (mean squared error) averages the squared differences between rebuilt and original pixels, "
           "from 0 for a perfect copy up. Here it is {shown}; lower is better.",
    "nats": "A **nat** is a unit of information, like a bit but counted with natural logarithms (1 nat is about "
            "1.44 bits): how surprised a model is by what it sees. Here: {shown}.",
    "ELBO": "The **ELBO** (evidence lower bound) is what a VAE learns to raise; its negative, {shown} here, adds "
            "the nats the rebuild costs to the nats the code costs (the KL), so lower is better.",
    "KL": "The **KL** divergence counts in nats how far the encoder's guess of the code (a mean and a spread) "
          "is from the standard normal that new codes are drawn from. Here it is {shown}.",
    "PSNR": "**PSNR** (peak signal-to-noise ratio) compares a cleaned digit with the clean original in decibels: "
            "10 dB more means ten times less squared error. Here it is {shown}; higher is better.",
    "SSIM": "**SSIM** (structural similarity) compares small patches' brightness, contrast and pattern, closer to "
            "how eyes judge, from 0 (unrelated) to 1 (identical). Here it is {shown}.",
    "ROC AUC": "**ROC AUC** is the chance that a randomly picked odd digit scores above a randomly picked normal "
               "one: 0.5 is guessing, 1.0 a perfect split. Here it is {shown}.",
    "t-SNE": "**t-SNE** draws many-dimensional codes on a flat map so that each digit's nearest neighbours stay "
             "near it; the distances between far-apart groups mean little. Here it maps {shown}.",
    "perplexity": "**Perplexity** is roughly how many neighbours t-SNE tries to keep around each digit: low values "
                  "give many small clumps, high values fewer, broader groups. Here it is {shown}.",
    "trustworthiness": "**Trustworthiness** says whether a dot's neighbours on the map were also its neighbours "
                       "before the map was drawn, from about 0.5 (random) to 1 (all were). Here it is {shown}.",
    "k-NN accuracy": "**k-NN accuracy** is how often a digit's nearest dots on the map are mostly of its own "
                     "class: high when the classes form separate groups. Here it is {shown}.",
    "latent space": "The **latent space** is every code a decoder can be given; a VAE is trained so that codes "
                    "fill it around 0, so any point there decodes to a digit. Here: {shown}.",
    "code": "The **code** is the short list of numbers an encoder squeezes a digit into and the decoder rebuilds "
            "it from. Here it is {shown}.",
}


def explain(term: str, shown: str) -> str:
    """The definition of `term` with the page's figure `shown` in its slot.

    Raises:
        KeyError: an unknown term (a page's mistake, not a visitor's).
    """
    return TERMS[term].format(shown=shown)


def note(*terms: tuple[str, str], where=st) -> None:
    """A caption defining each (term, figure shown) in turn, under where the terms first appear."""
    where.caption(" ".join(explain(term, shown) for term, shown in terms))
