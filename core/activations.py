"""One digit through an autoencoder, layer by layer, and a VAE's posterior for one digit.

`trace` hooks every leaf module of a private copy of the model, runs the digit through, and
returns the layers in the order they ran (input -> encoder -> code -> decoder -> output), each
with its shapes, parameter count, this digit's activations and a sentence on what it does,
written from the module's type and shapes: no model has a diagram of its own.
`posterior` gives a VAE's mean and spread for the digit, samples from it, and the negative ELBO's
two terms exactly as `core.inference.negative_elbo` computes them.
"""

from __future__ import annotations

import copy
import io
import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn

from core import images, inference
from core.models import PIXELS, code_maps, reparameterize

PARTS = ("input", "encoder", "code", "decoder", "output")


@dataclass(frozen=True)
class Layer:
    """One step of a digit's way through a model."""

    name: str                  # the module's path ("encoder.0"), or "input", "code", "output"
    kind: str                  # the module's type ("Linear", "Conv2d"), or "Input", "Code", "Output"
    part: str                  # one of PARTS
    in_shape: tuple[int, ...]  # one digit's input to this step, batch left out
    out_shape: tuple[int, ...]
    parameters: int
    description: str           # what it does, in a sentence or two, with this digit's figures
    values: np.ndarray         # this digit's activations, out_shape, float32

    @property
    def units(self) -> int:
        return math.prod(self.out_shape)


def _shape(shape: tuple[int, ...]) -> str:
    return " x ".join(map(str, shape))


def _pair(value) -> int:
    return value[0] if isinstance(value, tuple) else int(value)


def describe_layer(module: nn.Module, in_shape: tuple[int, ...], out_shape: tuple[int, ...],
                   values: np.ndarray) -> str:
    """What a layer does, in a sentence, from its type and shapes (and this digit's values)."""
    params = sum(p.numel() for p in module.parameters())
    n_in, n_out = math.prod(in_shape), math.prod(out_shape)
    kind = type(module).__name__
    if isinstance(module, nn.Linear):
        return (f"Each of its {module.out_features:,} outputs is a weighted sum of all {module.in_features:,} inputs "
                f"plus a bias: {module.in_features:,} x {module.out_features:,} weights and "
                f"{module.out_features:,} biases, {params:,} learnt numbers.")
    if isinstance(module, nn.ConvTranspose2d):
        return (f"Learnt up-sampling: each input value paints a {_pair(module.kernel_size)}x{_pair(module.kernel_size)} "
                f"patch, taking {in_shape[0]} maps of {in_shape[1]}x{in_shape[2]} to {out_shape[0]} maps of "
                f"{out_shape[1]}x{out_shape[2]} ({params:,} learnt numbers).")
    if isinstance(module, nn.Conv2d):
        k = _pair(module.kernel_size)
        return (f"Slides {module.out_channels} learnt {k}x{k} filters over its {module.in_channels} input "
                f"map{'s' if module.in_channels > 1 else ''} of {in_shape[1]}x{in_shape[2]}; each output map is bright "
                f"where its filter's pattern appears ({params:,} learnt numbers).")
    if isinstance(module, nn.ReLU):
        off = float((values <= 0).mean())
        return (f"Keeps positive values and sets negative ones to zero, so a unit either fires or stays silent: "
                f"for this digit {off:.0%} of its {n_out:,} values are zero. No learnt numbers.")
    if isinstance(module, nn.MaxPool2d):
        k = _pair(module.kernel_size)
        return (f"Keeps the largest value of each {k}x{k} block: the maps shrink from {in_shape[1]}x{in_shape[2]} to "
                f"{out_shape[1]}x{out_shape[2]}, keeping that a feature fired but not exactly where. No learnt numbers.")
    if isinstance(module, nn.Upsample):
        return (f"Repeats values to enlarge the maps from {in_shape[1]}x{in_shape[2]} to {out_shape[1]}x{out_shape[2]}; "
                "the next convolution smooths the blocks. No learnt numbers.")
    if isinstance(module, nn.BatchNorm2d | nn.BatchNorm1d):
        return (f"Shifts and scales each of its {module.num_features} channels by a mean and spread learnt in "
                f"training, so the next layer gets numbers in a steady range ({params:,} learnt numbers).")
    if isinstance(module, nn.Flatten):
        return f"Lays the {_shape(in_shape)} maps out as one list of {n_out:,} numbers. No learnt numbers."
    if isinstance(module, nn.Dropout):
        return (f"While training, switches off a random {module.p:.0%} of its values so that no unit is relied on "
                "alone; in use, as here, it passes everything through.")
    if isinstance(module, nn.Sigmoid | nn.Tanh):
        return f"Squashes each of its {n_out:,} values into {'0 to 1' if isinstance(module, nn.Sigmoid) else '-1 to 1'}."
    return (f"A {kind} layer: {n_in:,} values in ({_shape(in_shape)}), {n_out:,} out ({_shape(out_shape)}), "
            f"{params:,} learnt numbers.")


def _leaves(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name, module) for name, module in model.named_modules() if name and not any(module.children())]


def trace(model: nn.Module, image, label: int | None = None) -> list[Layer]:
    """The digit `image` ((28, 28), uint8 or [0, 1]) through `model`, one `Layer` per step in order.

    Layers that run while the model encodes (for a VAE: computes its posterior) are the encoder;
    those that run after, the decoder. A model holding its weights itself (the tied AE) gets one
    step for each half. The hooks go on a copy: the model may be serving other visitors meanwhile.

    Raises:
        ValueError: the model is not an autoencoder, or it is conditional and `label` is missing.
    """
    if not getattr(model, "is_autoencoder", False):
        raise ValueError(f"{type(model).__name__} is not an autoencoder: it has no code to trace a digit through.")
    if model.is_conditional and label is None:
        raise ValueError("A conditional VAE needs to be told which digit it is given.")
    private = copy.deepcopy(model).eval()
    x = inference.as_batch(image)[:1]
    y = None if label is None or not private.is_conditional else torch.tensor([int(label)])
    calls: list[tuple[str, nn.Module, tuple, np.ndarray]] = []

    def record(name, module, args, output):
        calls.append((name, module, tuple(args[0].shape[1:]), output[0].detach().numpy().astype(np.float32)))

    hooks = [module.register_forward_hook(lambda m, a, o, name=name: record(name, m, a, o))
             for name, module in _leaves(private)]
    try:
        with torch.inference_mode():
            (private.posterior if private.is_variational else private.encode)(x, y)
            encoder_calls = list(calls)
            calls.clear()
            out = private(x, y)
    finally:
        for hook in hooks:
            hook.remove()
    encoded = {name for name, *_ in encoder_calls}
    decoder_calls = [call for call in calls if call[0] not in encoded]
    code = out["code"][0].numpy().astype(np.float32)
    roles = {}
    if private.is_variational:
        roles = {"mu": (out["mu"][0].numpy(), " These are the code's means (mu): where the encoder puts this digit."),
                 "logvar": (out["logvar"][0].numpy(), " These are the code's log-variances: the spread of each code "
                                                      "number is sigma = exp(value / 2).")}

    def as_layer(part: str, call) -> Layer:
        name, module, in_shape, values = call
        text = describe_layer(module, in_shape, values.shape, values)
        for role_values, note in roles.values():
            if values.shape == role_values.shape and np.array_equal(values, role_values):
                text += note
        return Layer(name, type(module).__name__, part, in_shape, tuple(values.shape),
                     sum(p.numel() for p in module.parameters()), text, values)

    own = sum(p.numel() for p in private.parameters(recurse=False))
    pixels = x[0].numpy()
    layers = [Layer("input", "Input", "input", (), tuple(pixels.shape), 0,
                    f"Your digit: {PIXELS} pixels of ink between 0 (paper) and 1 (ink), "
                    f"{float((pixels > 0.5).mean()):.0%} of them inked.", pixels)]
    layers += [as_layer("encoder", call) for call in encoder_calls]
    if not encoder_calls:
        layers.append(Layer("encode", type(private).__name__, "encoder", tuple(pixels.shape), code.shape, own,
                            f"A weight matrix the model holds itself ({own:,} learnt numbers) takes the "
                            f"{PIXELS} pixels to the {code.size} code numbers.", code))
    size = code.size
    laid_out = f" ({_shape(code.shape)})" if code.ndim > 1 else ""
    code_text = (f"The code: {size} numbers{laid_out}, {PIXELS / size:.1f}x fewer than the {PIXELS} pixels; "
                 "the decoder rebuilds the digit from these alone.")
    if getattr(private, "has_skips", False):
        code_text = (f"The code at the bottom: {size:,} numbers ({_shape(code.shape)}). The decoder also sees the "
                     "encoder's earlier maps through skip connections, so not everything has to pass through here.")
    elif private.is_variational:
        code_text += (" In a VAE this is the mean of where the digit may lie; the encoder also gives a spread for "
                      "each number, and training draws the code from that range.")
    layers.append(Layer("code", "Code", "code", code.shape, code.shape, 0, code_text, code))
    layers += [as_layer("decoder", call) for call in decoder_calls]
    recon = out["recon"][0].numpy().astype(np.float32)
    if not decoder_calls:
        layers.append(Layer("decode", type(private).__name__, "decoder", code.shape, recon.shape, 0,
                            f"The same weight matrix, transposed, takes the {size} code numbers back to "
                            f"{PIXELS} pixel logits (its numbers are counted once, in the encoder).",
                            out["logits"][0].numpy().astype(np.float32)))
    ink_error = float(np.abs(recon - pixels).mean())
    layers.append(Layer("output", "Output", "output", recon.shape, recon.shape, 0,
                        "A sigmoid turns each of the last layer's 784 numbers into a pixel's ink between 0 and 1: "
                        f"the rebuilt digit, on average {ink_error:.3f} of full ink away from yours.", recon))
    return layers


def layer_picture(layer: Layer, most_maps: int = 6) -> tuple[np.ndarray, int]:
    """A layer's activations as one 2-D picture and the number of maps left out of it.

    Maps (C, H, W): the first `most_maps` stacked top to bottom, a row of NaN between them. A flat
    layer (n,): one column of n cells.
    """
    values = layer.values
    if values.ndim == 3:
        shown = values[:most_maps]
        c, h, w = shown.shape
        gap = np.full((c, 1, w), np.nan, dtype=np.float32)
        stacked = np.concatenate([shown, gap], axis=1).reshape(c * (h + 1), w)[:-1]
        return stacked, max(0, values.shape[0] - most_maps)
    return values.reshape(-1, 1), 0


def colour(picture: np.ndarray, signed: bool | None = None) -> np.ndarray:
    """RGB uint8 of a picture: values >= 0 from white to dark orange, negative ones to blue, each side
    scaled by the largest magnitude; NaN is left transparent-looking light grey."""
    finite = np.nan_to_num(picture, nan=0.0)
    scale = float(np.abs(finite).max()) or 1.0
    t = np.clip(finite / scale, -1.0, 1.0)[..., None]
    white = np.array([255, 255, 255], dtype=np.float32)
    positive = np.array([204, 85, 0], dtype=np.float32)
    negative = np.array([33, 102, 172], dtype=np.float32)
    rgb = np.where(t >= 0, white + t * (positive - white), white - t * (negative - white))
    rgb[np.isnan(picture)] = (238, 238, 238)
    return rgb.astype(np.uint8)


def layer_grid(layer: Layer, most_maps: int = 32, columns: int = 8) -> tuple[np.ndarray, int]:
    """A layer's activations as a picture to look at closely, and the number of maps left out of it.

    Maps (C, H, W): the first `most_maps` in rows of `columns`, NaN between them. A flat layer (n,):
    its numbers as the most nearly square block (32 -> 4 x 8), as `models.code_maps` lays out codes.
    """
    values = layer.values
    if values.ndim == 3:
        shown = values[:most_maps]
        return images.tile(shown, columns=min(columns, len(shown)), pad=1, fill=np.nan), max(0, len(values) - most_maps)
    return code_maps(values[None], values.shape)[0, 0], 0


def picture_png(picture: np.ndarray, pixels: bool = False, scale: int = 1) -> bytes:
    """PNG bytes of a picture from `layer_picture` or `layer_grid`: `pixels` (a digit) grey ink on black
    as in MNIST, anything else in `colour`."""
    if pixels:
        grey = np.nan_to_num(np.clip(picture, 0, 1), nan=0.3)
        rgb = np.repeat((grey * 255).round().astype(np.uint8)[..., None], 3, axis=2)
    else:
        rgb = colour(picture)
    image = Image.fromarray(rgb, mode="RGB")
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)  # as core.images.to_png: speed over bytes
    return buffer.getvalue()


# --- a VAE's posterior ------------------------------------------------------------------------

@dataclass(frozen=True)
class Posterior:
    """q(z | x) of one digit under a VAE, and the negative ELBO's two terms for it."""

    mean: np.ndarray        # (latent,)
    spread: np.ndarray      # (latent,) standard deviations, exp(logvar / 2)
    recon_nats: float       # -log p(x | z) at negative_elbo's posterior sample
    kl_nats: float          # KL(q(z | x) || N(0, I))
    kl_per_dimension: np.ndarray  # (latent,): adds up to kl_nats
    samples: np.ndarray     # (S, latent) codes drawn from q(z | x)
    decoded: np.ndarray     # (S, 28, 28) those codes decoded

    @property
    def negative_elbo(self) -> float:
        return self.recon_nats + self.kl_nats


def posterior(model: nn.Module, image, label: int | None = None, samples: int = 6,
              seed: int = inference.EVAL_SEED) -> Posterior:
    """The posterior of the digit `image` under the VAE `model`, `samples` draws from it (seeded), and the
    reconstruction and KL nats of `inference.negative_elbo` (its seed and sample) for the digit.

    Raises:
        ValueError: the model is not a VAE, or it is conditional and `label` is missing.
    """
    if not getattr(model, "is_variational", False):
        raise ValueError(f"{type(model).__name__} is not a variational autoencoder: it has no posterior spread.")
    if model.is_conditional and label is None:
        raise ValueError("A conditional VAE needs to be told which digit it is given.")
    x = inference.as_batch(image)[:1]
    y = torch.tensor([int(label)]) if model.is_conditional else None
    elbo = inference.negative_elbo(model, x, y)
    with torch.inference_mode():
        mu, logvar = model.posterior(x, y)
        noise = torch.randn((samples, mu.shape[1]), generator=torch.Generator().manual_seed(seed + 1))
        z = reparameterize(mu.expand(samples, -1), logvar.expand(samples, -1), noise)
        decoded = model.decode(z, None if y is None else y.expand(samples))[:, 0]
        per_dimension = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())[0]  # gaussian_kl's terms, one per dimension
    return Posterior(mean=mu[0].numpy(), spread=torch.exp(0.5 * logvar[0]).numpy(),
                     recon_nats=float(elbo["recon"][0]), kl_nats=float(elbo["kl"][0]),
                     kl_per_dimension=per_dimension.numpy(), samples=z.numpy(), decoded=decoded.numpy())


def ellipse(mean: np.ndarray, spread: np.ndarray, sigmas: float = 1.0, points: int = 65) -> np.ndarray:
    """The outline (points, 2) of a 2-D posterior's `sigmas`-standard-deviation ellipse: axis-aligned,
    since a VAE's posterior has a diagonal covariance."""
    angle = np.linspace(0, 2 * np.pi, points)
    return np.stack([mean[0] + sigmas * spread[0] * np.cos(angle), mean[1] + sigmas * spread[1] * np.sin(angle)], 1)
