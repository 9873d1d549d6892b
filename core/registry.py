"""The one front door to models: name -> module class, config, training recipe, summary."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from torch import nn

from core import KERAS_NOISE_FACTOR
from core.models import (
    VAE,
    ClassifierConfig,
    ConvAE,
    ConvConfig,
    DenseAE,
    DenseConfig,
    DigitClassifier,
    TiedAE,
    TiedConfig,
    UNet,
    UNetConfig,
    VAEConfig,
)

OPTIMIZERS = ("adam", "adadelta")




@dataclass(frozen=True)
class Recipe:
    """How a model is trained; every field has a default so a recipe names only what differs."""

    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-3           # Adam's usual step; Adadelta wants 1.0
    optimizer: str = "adam"    # "adam" or "adadelta" (the Keras blog's first runs)
    schedule: str = "cosine"   # "cosine" decays lr to 0 over the run; "constant" keeps it
    weight_decay: float = 0.0
    augment: float = 0.0       # max random shift in pixels (plus small rotation and zoom); 0 = off
    noise: str | None = None   # train on corrupted inputs against clean targets (denoising)
    noise_strength: float = KERAS_NOISE_FACTOR
    noise_mix: bool = False    # train on every noise kind at strengths from 0 up (data.corrupt_mixed);
                               # `noise` and `noise_strength` then set only the validation noise
    ink_augment: float = 0.0   # random stroke width, ink gamma and contrast toward people's digits; 0 = off
    digit: int | None = None   # train on one digit only (anomaly detection)
    kl_warmup_epochs: int = 0  # KL weight ramps 0 -> 1 over these; keeps VAEs from collapsing
    dataset: str = "mnist"     # "mnist" or "fashion"
    train_digits: int | None = None  # learn from the first N training digits (quick runs); None = all
    seed: int = 0


@dataclass(frozen=True)
class ModelSpec:
    name: str
    model_class: type[nn.Module]
    config: object
    recipe: Recipe = field(default_factory=Recipe)
    summary: str = ""

    @property
    def kind(self) -> str:
        """"ae", "vae", "denoiser" (an autoencoder whose decoder needs skip connections, so it has no
        decode of a code alone) or "classifier"."""
        if not self.model_class.is_autoencoder:
            return "classifier"
        if getattr(self.model_class, "has_skips", False):
            return "denoiser"
        return "vae" if self.model_class.is_variational else "ae"


# Recipes for the 60,000 training digits: cosine-decayed Adam, warps only where a model overfits.
# Figures: test split (python -m core.evaluate), CPU seconds of one thread.
# 784-32-784: 60 epochs at batch 64 give 0.0910 (103 CPU-s); 200 at batch 32, lr 2e-3 give 0.0900 (392 CPU-s).
# dense_mse and sparse share dense's recipe, so the Reconstruction page compares one change at a time.
_DENSE_RECIPE = Recipe(epochs=60, batch_size=64)
_DENSE_LONG_RECIPE = Recipe(epochs=200, batch_size=32, lr=2e-3)
# 16-D VAE: 99.8 nats after 20 epochs (160 CPU-s); cvae 99.2. vae2 needs 40: 139.2 nats (342 CPU-s).
_VAE_RECIPE = Recipe(epochs=20, batch_size=128, kl_warmup_epochs=5)
_SPECS = [
    ModelSpec("dense", DenseAE, DenseConfig(), _DENSE_LONG_RECIPE,
              "784-32-784 dense autoencoder with a ReLU code, trained with binary cross-entropy."),
    ModelSpec("dense_mse", DenseAE, DenseConfig(recon_loss="mse"), _DENSE_LONG_RECIPE,
              "The same 784-32-784 network trained with mean squared error instead of BCE."),
    ModelSpec("sparse", DenseAE, DenseConfig(l1=1e-4), _DENSE_LONG_RECIPE,
              "784-32-784 with an L1 penalty on the code, so fewer code units fire per digit."),
    # 120 epochs: test BCE 0.0765 (474 CPU-s; the Keras blog's ~0.08, the 0.078 target met).
    ModelSpec("deep", DenseAE, DenseConfig(hidden=(128, 64), code_bias=0.3, hidden_bias=0.3),
              dataclasses.replace(_DENSE_RECIPE, epochs=120),
              "Deep dense autoencoder 784-128-64-32-64-128-784."),
    # The 4,385-parameter 16-8-8 model gains from many small steps: 0.0895 over 100 epochs at batch
    # 32, lr 2e-3 (1,772 CPU-s), against 0.0952 over 30 at batch 64.
    ModelSpec("conv", ConvAE, ConvConfig(), Recipe(epochs=100, batch_size=32, lr=2e-3),
              "Convolutional autoencoder (16-8-8 filters, code 8x4x4 = 128 values)."),
    ModelSpec("tied", TiedAE, TiedConfig(), _DENSE_RECIPE,
              "784-32-784 whose decoder reuses the encoder's weight matrix, transposed."),
    ModelSpec("ae2", DenseAE, DenseConfig(code_size=2, hidden=(256, 128), code_activation="linear"),
              Recipe(epochs=40, batch_size=128), "Dense autoencoder with a 2-D code, to plot digits directly."),
    ModelSpec("ae20", DenseAE, DenseConfig(code_size=20, hidden=(256, 128), code_activation="linear"),
              Recipe(epochs=40, batch_size=128), "Dense autoencoder with a 20-D code, to map with t-SNE."),
    # Every lab noise kind at strengths from 0 (noise_mix), small warps and half-strength ink
    # restyling, so people's digits read too: Gaussian 0.5 17.9 dB, 94.5%; salt and pepper 0.2
    # 20.0 dB, 97.1%; masking 0.5 18.9 dB, 96.0% (python -m core.denoise --precompute; classifier
    # on the output). Gaussian-only training gives more dB (19.4) but reads 62.7% of 1-px drawings.
    ModelSpec("denoising", ConvAE, ConvConfig(filters=(32, 32)),
              Recipe(epochs=10, batch_size=64, augment=1.0, noise="gaussian", noise_strength=KERAS_NOISE_FACTOR,
                     noise_mix=True, ink_augment=0.5),
              "Convolutional autoencoder (32-32 filters) trained on noisy digits to give clean ones."),
    # The Denoising page's model: the same mixed noise, warps and ink restyling as `denoising`, but
    # skip connections carry the strokes past the 7x7 code.
    ModelSpec("unet", UNet, UNetConfig(),
              Recipe(epochs=8, batch_size=64, lr=2e-3, augment=1.0, noise="gaussian",
                     noise_strength=KERAS_NOISE_FACTOR, noise_mix=True, ink_augment=0.5),
              "U-Net denoiser (16-32-64 filters): skip connections beside a 64x7x7 code."),
    ModelSpec("vae2", VAE, VAEConfig(latent=2), dataclasses.replace(_VAE_RECIPE, epochs=40),
              "Variational autoencoder with a 2-D latent space, to draw a grid of digits."),
    ModelSpec("vae", VAE, VAEConfig(latent=16), _VAE_RECIPE,
              "Variational autoencoder with a 16-D latent space, for sliders and sampling."),
    ModelSpec("cvae", VAE, VAEConfig(latent=8, conditional=True), _VAE_RECIPE,
              "Conditional VAE: ask for a digit and vary its style in an 8-D latent space."),
    # The 6,265 training sevens overfit without warps. ROC AUC 0.900 by its ELBO: ones, with few ink
    # pixels, cost any Bernoulli decoder few nats (the Anomaly page's likelihood ratio gives 0.966).
    ModelSpec("vae_one", VAE, VAEConfig(latent=2),
              Recipe(epochs=150, batch_size=64, augment=1.5, kl_warmup_epochs=10, digit=7),
              "VAE trained on sevens only: other digits reconstruct badly, which flags them."),
    # 10 epochs with 1-px warps: 99.30% (338 CPU-s).
    ModelSpec("classifier", DigitClassifier, ClassifierConfig(), Recipe(epochs=10, augment=1.0),
              "Small CNN digit classifier that scores whether outputs are readable digits."),
]
_REGISTRY: dict[str, ModelSpec] = {spec.name: spec for spec in _SPECS}


def list_models(kind: str | None = None) -> list[str]:
    """Registered model names, in display order; only one kind ("ae", "vae", "classifier") if given."""
    return [name for name, spec in _REGISTRY.items() if kind is None or spec.kind == kind]


def get_spec(name: str) -> ModelSpec:
    """The registry entry for a model name.

    Raises:
        ValueError: the name is not registered; the message lists the valid names.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"Unknown model {name!r}; choose one of: {', '.join(_REGISTRY)}.") from None


def create_model(name: str, config=None, **overrides) -> nn.Module:
    """Build a registered model, from its registry config or a given one, with field overrides."""
    spec = get_spec(name)
    config = spec.config if config is None else config
    if overrides:
        config = dataclasses.replace(config, **overrides)
    return spec.model_class(config)


def config_from_dict(name: str, values: dict):
    """Rebuild a model's config dataclass from plain values (as stored in a checkpoint)."""
    spec = get_spec(name)
    cls = type(spec.config)
    names = {f.name for f in dataclasses.fields(cls)}
    if set(values) != names:
        raise ValueError(f"The stored settings for {name!r} do not fit the current model "
                         f"(expected {sorted(names)}, found {sorted(values)}).")
    converted = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return cls(**converted)
