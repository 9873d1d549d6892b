"""Running trained models on numpy batches: the one vocabulary for encode, decode, reconstruct and
classify that every page and core module uses, and the VAE's negative ELBO.

Images come as (28, 28), (N, 28, 28) or (N, 1, 28, 28), uint8 in 0-255 or floats in [0, 1], numpy or
torch; results are numpy. Conditional models take the digits' labels.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from core.models import gaussian_kl, reconstruction_loss, reparameterize

EVAL_SEED = 0  # the posterior sample of negative_elbo, so a score is the same on every run


@torch.inference_mode()
def run_batches(fn, x: torch.Tensor, y: torch.Tensor | None = None, batch_size: int = 100) -> list:
    """fn(x_batch, y_batch) over a dataset in batches; returns the list of outputs.

    Batches of 100 stay in cache: 2,000 digits through conv took 1.5 s on one thread, 2.5 s in
    batches of 1,000 (denoising: 3.9 s vs 10.1 s); dense models run the same either way.
    """
    return [fn(x[i:i + batch_size], None if y is None else y[i:i + batch_size]) for i in range(0, len(x), batch_size)]


def as_batch(images) -> torch.Tensor:
    """Images as one float32 batch (N, 1, 28, 28) in [0, 1]."""
    if isinstance(images, torch.Tensor):
        x = images.to(torch.float32)
    else:  # a copy: the shared cached arrays are read-only, which torch cannot wrap
        x = torch.from_numpy(np.array(images, dtype=np.float32))
    if x.numel() and x.max() > 1.0:  # uint8 pixels
        x = x / 255.0
    return x.reshape(-1, 1, 28, 28)


def _labels(labels, count: int) -> torch.Tensor | None:
    if labels is None:
        return None
    return torch.as_tensor(np.atleast_1d(np.asarray(labels))).long().expand(count)


def encode(model: nn.Module, images, labels=None) -> np.ndarray:
    """Codes (N, code size) of images, flattened; a VAE's are its posterior means."""
    x = as_batch(images)
    return torch.cat(run_batches(lambda xb, yb: model.encode(xb, yb).flatten(1), x, _labels(labels, len(x)))).numpy()


@torch.inference_mode()
def decode(model: nn.Module, codes, labels=None) -> np.ndarray:
    """Images (N, 28, 28) in [0, 1] decoded from codes (N, latent), or one image from one code (latent,)."""
    z = torch.as_tensor(np.asarray(codes, dtype=np.float32))
    single = z.ndim == 1
    z = z.reshape(1, -1) if single else z
    decoded = model.decode(z, _labels(labels, z.shape[0]))[:, 0].numpy()
    return decoded[0] if single else decoded


def reconstruct(model: nn.Module, images, labels=None) -> np.ndarray:
    """The model's rebuild of each image, shaped as given ((28, 28) or (N, 28, 28); (N, 1, 28, 28) gives
    (N, 28, 28)); a VAE decodes its posterior mean, a denoiser outputs its clean-up."""
    x = as_batch(images)
    rebuilt = torch.cat(run_batches(lambda xb, yb: model(xb, yb)["recon"], x, _labels(labels, len(x)))).numpy()
    return rebuilt.reshape(np.shape(images)) if np.ndim(images) in (2, 3) else rebuilt[:, 0]


def classify(classifier: nn.Module, images) -> np.ndarray:
    """The classifier's probabilities (N, 10) for images."""
    logits = torch.cat(run_batches(lambda xb, _: classifier(xb)["logits"], as_batch(images)))
    return logits.softmax(1).numpy()


def read_digits(classifier: nn.Module, images) -> tuple[np.ndarray, np.ndarray]:
    """The digit the classifier reads in each image and its probability: two arrays (N,)."""
    probabilities = classify(classifier, images)
    return probabilities.argmax(1), probabilities.max(1)


def negative_elbo(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None,
                  seed: int = EVAL_SEED) -> dict[str, np.ndarray]:
    """Per-digit negative ELBO in nats with its reconstruction and KL parts, one posterior sample.

    Returns arrays (N,) under "nelbo", "recon", "kl", and the posterior means (N, latent) under "mu".
    """
    generator = torch.Generator().manual_seed(seed)

    def one(xb, yb):
        mu, logvar = model.posterior(xb, yb)
        z = reparameterize(mu, logvar, torch.randn(mu.shape, generator=generator))
        recon = reconstruction_loss(model.decode_logits(z, yb), xb, "bce")  # nats whatever the training loss
        return recon.flatten(1).sum(1), gaussian_kl(mu, logvar), mu

    parts = run_batches(one, x, y)
    recon, kl, mu = (torch.cat([p[i] for p in parts]).numpy() for i in range(3))
    return {"nelbo": recon + kl, "recon": recon, "kl": kl, "mu": mu}
