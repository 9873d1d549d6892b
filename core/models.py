"""Autoencoder modules with one interface, and the digit classifier that scores them.

Every autoencoder takes images (B, 1, 28, 28) in [0, 1] and offers
    encode(x, y=None) -> code         (B, *code_shape); for a VAE the posterior mean
    decode(z, y=None) -> images       (B, 1, 28, 28) in [0, 1]
    forward(x, y=None) -> dict        "recon", "logits", "code" (+ "mu", "logvar" for VAEs)
    loss(out, target, labels=None, kl_weight=1.0) -> dict of named terms, "loss" first
`y` (digit labels) matters only to the conditional VAE. Build models through
`core.registry.create_model`, never directly.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

PIXELS = 28 * 28
N_CLASSES = 10
RECON_LOSSES = ("bce", "mse")


def reconstruction_loss(logits: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-pixel loss (B, 1, 28, 28) between sigmoid(logits) and the target in [0, 1]."""
    if kind == "bce":  # from logits: stable where sigmoid saturates
        return F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    if kind == "mse":
        return (torch.sigmoid(logits) - target) ** 2
    raise ValueError(f"Unknown reconstruction loss {kind!r}; choose one of {', '.join(RECON_LOSSES)}.")


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """A posterior sample from standard-normal `noise` of mu's shape: the reparameterisation trick
    (Kingma & Welling 2014, eq. 10)."""
    return mu + noise * torch.exp(0.5 * logvar)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) per sample, (B, latent) -> (B,), in closed form (Kingma & Welling 2014, appendix B)."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)


class Autoencoder(nn.Module):
    """Base of every autoencoder: subclasses give `encode` and `decode_logits`."""

    is_autoencoder = True
    is_variational = False
    is_conditional = False
    code_shape: tuple[int, ...] = ()

    def __init__(self, config):
        super().__init__()
        self.config = config

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(z, y))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        code = self.encode(x, y)
        logits = self.decode_logits(code, y)
        return {"recon": torch.sigmoid(logits), "logits": logits, "code": code}

    def loss(self, out: dict, target: torch.Tensor, labels: torch.Tensor | None = None,
             kl_weight: float = 1.0) -> dict[str, torch.Tensor]:
        recon = reconstruction_loss(out["logits"], target, self.config.recon_loss).mean()
        terms = {"loss": recon, "recon": recon}
        l1 = getattr(self.config, "l1", 0.0)
        if l1 > 0:
            # L1 activity penalty (Keras activity_regularizer): summed over a code, mean over the batch
            penalty = out["code"].abs().flatten(1).sum(1).mean()
            terms["l1"] = penalty
            terms["loss"] = recon + l1 * penalty
        return terms


# --- dense ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class DenseConfig:
    code_size: int = 32            # 784 -> 32 is a 24.5x compression (the Keras blog's first AE)
    hidden: tuple[int, ...] = ()   # encoder widths before the code; the decoder mirrors them
    code_activation: str = "relu"  # "relu" as in the blog; "linear" for 2-D codes meant for plotting
    l1: float = 0.0                # L1 activity penalty on the code; > 0 makes it a sparse AE
    recon_loss: str = "bce"        # "bce" fits pixel intensities in [0, 1]; "mse" to compare
    code_bias: float = 1.0         # initial bias of a ReLU code: at 0, 5 of 32 units died for good
                                   # (never positive for any digit); at 1.0 none did and BCE fell 0.101 -> 0.094
    hidden_bias: float = 0.0       # initial bias of the ReLU hidden layers (0.3 took deep from 0.107 to 0.101)

    @property
    def code_shape(self) -> tuple[int, ...]:
        return (self.code_size,)


def _mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class DenseAE(Autoencoder):
    def __init__(self, config: DenseConfig = DenseConfig()):
        super().__init__(config)
        sizes = [PIXELS, *config.hidden, config.code_size]
        self.encoder = _mlp(sizes)
        self.decoder = _mlp(sizes[::-1])
        for layer in [*self.encoder[:-1], *self.decoder[:-1]]:
            if isinstance(layer, nn.Linear):
                nn.init.constant_(layer.bias, config.hidden_bias)
        if config.code_activation == "relu":
            nn.init.constant_(self.encoder[-1].bias, config.code_bias)
        self.code_shape = config.code_shape

    def encode(self, x, y=None):
        code = self.encoder(x.flatten(1))  # (B, 1, 28, 28) -> (B, 784) -> (B, code)
        return F.relu(code) if self.config.code_activation == "relu" else code

    def decode_logits(self, z, y=None):
        return self.decoder(z).view(-1, 1, 28, 28)


@dataclass(frozen=True)
class TiedConfig:
    code_size: int = 32      # as the dense AE, so the two compare at the same compression
    recon_loss: str = "bce"
    code_bias: float = 1.0   # initial bias of the ReLU code, as DenseConfig.code_bias

    @property
    def code_shape(self) -> tuple[int, ...]:
        return (self.code_size,)


class TiedAE(Autoencoder):
    """Dense AE whose decoder is the encoder's weight transposed: one matrix, two biases."""

    def __init__(self, config: TiedConfig = TiedConfig()):
        super().__init__(config)
        self.weight = nn.Parameter(torch.empty(config.code_size, PIXELS))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))  # nn.Linear's default
        self.encoder_bias = nn.Parameter(torch.full((config.code_size,), config.code_bias))
        self.decoder_bias = nn.Parameter(torch.zeros(PIXELS))
        self.code_shape = config.code_shape

    def encode(self, x, y=None):
        return F.relu(F.linear(x.flatten(1), self.weight, self.encoder_bias))

    def decode_logits(self, z, y=None):
        return F.linear(z, self.weight.t(), self.decoder_bias).view(-1, 1, 28, 28)


# --- convolutional ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ConvConfig:
    filters: tuple[int, ...] = (16, 8, 8)  # the Keras blog's conv AE: 28 -> 14 -> 7 -> 4, code 8x4x4
    recon_loss: str = "bce"

    @property
    def code_shape(self) -> tuple[int, int, int]:
        """(channels, side, side): each level max-pools by 2, rounding up (28 -> 14 -> 7 -> 4)."""
        side = 28
        for _ in self.filters:
            side = math.ceil(side / 2)
        return (self.filters[-1], side, side)


class ConvAE(Autoencoder):
    """Conv + max-pool levels down; conv + nearest upsampling back to the mirrored sizes."""

    def __init__(self, config: ConvConfig = ConvConfig()):
        super().__init__(config)
        sizes = [28]
        down: list[nn.Module] = []
        channels = 1
        for f in config.filters:
            down += [nn.Conv2d(channels, f, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True)]
            channels = f
            sizes.append(math.ceil(sizes[-1] / 2))
        self.encoder = nn.Sequential(*down)
        up: list[nn.Module] = []
        for f, size in zip(config.filters[::-1], sizes[-2::-1]):
            up += [nn.Conv2d(channels, f, 3, padding=1), nn.ReLU(), nn.Upsample(size=size)]
            channels = f
        up.append(nn.Conv2d(channels, 1, 3, padding=1))
        self.decoder = nn.Sequential(*up)
        self.code_shape = config.code_shape

    def encode(self, x, y=None):
        return self.encoder(x)  # (B, 1, 28, 28) -> (B, 8, 4, 4) with the default filters

    def decode_logits(self, z, y=None):
        return self.decoder(z)  # (B, 8, 4, 4) -> (B, 1, 28, 28)


# --- U-Net denoiser --------------------------------------------------------------------------

@dataclass(frozen=True)
class UNetConfig:
    channels: tuple[int, ...] = (16, 32, 64)  # widths at 28, 14 and 7 px; the code is 64x7x7 (117k weights)
    recon_loss: str = "bce"

    @property
    def code_shape(self) -> tuple[int, int, int]:
        side = 28 // 2 ** (len(self.channels) - 1)
        return (self.channels[-1], side, side)


def _double_conv(channels_in: int, channels_out: int) -> nn.Sequential:
    """Two 3x3 convolutions, each batch-normalised and rectified: one level of a U-Net."""
    return nn.Sequential(
        nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False), nn.BatchNorm2d(channels_out), nn.ReLU(),
        nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False), nn.BatchNorm2d(channels_out), nn.ReLU(),
    )


class UNet(Autoencoder):
    """A denoiser with skip connections (Ronneberger et al. 2015): each decoder level also sees the
    encoder's features at its size, so fine strokes need not squeeze through the 7x7 code.

    `encode` gives the code at the bottom; there is no `decode` of a code alone, because the
    decoder needs the skips too: `forward` (and so `inference.reconstruct`) is how it is used.
    """

    has_skips = True

    def __init__(self, config: UNetConfig = UNetConfig()):
        super().__init__(config)
        widths = config.channels
        self.down = nn.ModuleList(_double_conv(a, b) for a, b in itertools.pairwise([1, *widths]))
        self.up = nn.ModuleList(nn.ConvTranspose2d(b, a, 2, stride=2) for a, b in itertools.pairwise(widths))
        self.merge = nn.ModuleList(_double_conv(2 * a, a) for a in widths[:-1])
        self.head = nn.Conv2d(widths[0], 1, 1)
        self.code_shape = config.code_shape

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The encoder's output at every level, finest first; the last is the code."""
        skips = []
        for i, level in enumerate(self.down):
            x = level(F.max_pool2d(x, 2) if i else x)  # (B, 16, 28, 28) -> (B, 32, 14, 14) -> (B, 64, 7, 7)
            skips.append(x)
        return skips

    def encode(self, x, y=None):
        return self._features(x)[-1]

    def decode_logits(self, z, y=None):
        raise ValueError("A U-Net rebuilds a digit only with its skip connections, from the digit itself; "
                         "it cannot decode a code alone.")

    def forward(self, x, y=None):
        # channels-last runs these convolutions on one core in 114 s an epoch instead of 155
        skips = self._features(x.contiguous(memory_format=torch.channels_last))
        h = skips[-1]
        for i in reversed(range(len(self.merge))):
            h = self.merge[i](torch.cat([self.up[i](h), skips[i]], dim=1))  # (B, 2c, s, s) -> (B, c, s, s)
        logits = self.head(h).contiguous()
        return {"recon": torch.sigmoid(logits), "logits": logits, "code": skips[-1]}


# --- variational -----------------------------------------------------------------------------

@dataclass(frozen=True)
class VAEConfig:
    latent: int = 16                  # 16 sliders stay usable; 2 for a plottable latent grid
    hidden: tuple[int, ...] = (512, 256)  # encoder widths; the decoder mirrors them
    conditional: bool = False         # True: encoder and decoder also see the one-hot digit label
    recon_loss: str = "bce"           # summed over pixels, so losses are nats per digit

    @property
    def code_shape(self) -> tuple[int, ...]:
        return (self.latent,)


class VAE(Autoencoder):
    """Variational AE with dense layers: ReLU hidden layers, sigmoid output.

    The decoder is Linear/ReLU only, so it can be re-implemented anywhere (the browser runs it).
    """

    is_variational = True

    def __init__(self, config: VAEConfig = VAEConfig()):
        super().__init__(config)
        extra = N_CLASSES if config.conditional else 0
        self.is_conditional = config.conditional
        self.encoder = nn.Sequential(_mlp([PIXELS + extra, *config.hidden]), nn.ReLU())
        self.to_mu = nn.Linear(config.hidden[-1], config.latent)
        self.to_logvar = nn.Linear(config.hidden[-1], config.latent)
        self.decoder = _mlp([config.latent + extra, *config.hidden[::-1], PIXELS])
        self.code_shape = config.code_shape

    def _with_label(self, h: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        if not self.is_conditional:
            return h
        if y is None:
            raise ValueError("The conditional VAE needs the digit label to encode or decode.")
        return torch.cat([h, F.one_hot(y.long(), N_CLASSES).to(h.dtype)], dim=1)

    def posterior(self, x, y=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z | x), each (B, latent)."""
        h = self.encoder(self._with_label(x.flatten(1), y))
        return self.to_mu(h), self.to_logvar(h)

    def encode(self, x, y=None):
        return self.posterior(x, y)[0]

    def decode_logits(self, z, y=None):
        return self.decoder(self._with_label(z, y)).view(-1, 1, 28, 28)

    def forward(self, x, y=None):
        mu, logvar = self.posterior(x, y)
        z = reparameterize(mu, logvar, torch.randn_like(mu)) if self.training else mu
        logits = self.decode_logits(z, y)
        return {"recon": torch.sigmoid(logits), "logits": logits, "code": mu, "mu": mu, "logvar": logvar, "z": z}

    def loss(self, out, target, labels=None, kl_weight=1.0):
        recon = reconstruction_loss(out["logits"], target, self.config.recon_loss).flatten(1).sum(1).mean()
        kl = gaussian_kl(out["mu"], out["logvar"]).mean()
        return {"loss": recon + kl_weight * kl, "recon": recon, "kl": kl}


# --- classifier ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClassifierConfig:
    channels: tuple[int, int] = (32, 64)  # two conv blocks: enough for ~99% on MNIST
    dropout: float = 0.25                 # on the 3,136 pooled features: most of the parameters sit in the next layer

    @property
    def code_shape(self) -> tuple[int, ...]:
        return ()  # a classifier has no code


class DigitClassifier(nn.Module):
    """Small CNN that reads a digit; it scores what the autoencoders produce."""

    is_autoencoder = False
    is_variational = False
    is_conditional = False

    def __init__(self, config: ClassifierConfig = ClassifierConfig()):
        super().__init__()
        self.config = config
        c1, c2 = config.channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # (B, c1, 14, 14)
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, c2, 7, 7)
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(config.dropout),
                                  nn.Linear(c2 * 49, 128), nn.ReLU(), nn.Linear(128, N_CLASSES))

    def forward(self, x, y=None):
        return {"logits": self.head(self.features(x))}

    def loss(self, out, target, labels=None, kl_weight=1.0):
        if labels is None:
            raise ValueError("The classifier trains on digit labels.")
        loss = F.cross_entropy(out["logits"], labels)
        accuracy = (out["logits"].argmax(1) == labels).float().mean()
        return {"loss": loss, "accuracy": accuracy}


def code_maps(codes: np.ndarray, code_shape: tuple[int, ...]) -> np.ndarray:
    """Codes (N, size) as small 2-D maps (N, maps, rows, cols) to draw as heatmaps.

    A conv code (C, H, W) gives its C feature maps; a flat code of n values one map of the most
    nearly square rows x cols with rows * cols = n (32 -> 4x8, 36 -> 6x6, 2 -> 1x2).
    """
    codes = np.asarray(codes)
    if len(code_shape) == 3:
        return codes.reshape(len(codes), *code_shape)
    size = code_shape[0]
    rows = max(r for r in range(1, math.isqrt(size) + 1) if size % r == 0)
    return codes.reshape(len(codes), 1, rows, size // rows)


def layer_summary(model: nn.Module) -> list[dict]:
    """One row per leaf layer: name, type, output shape for one digit, parameter count."""
    rows: list[dict] = []
    hooks = []
    for name, module in model.named_modules():
        if len(list(module.children())) == 0 and name:
            def record(mod, args, output, name=name):
                rows.append({"layer": name, "type": type(mod).__name__,
                             "output shape": tuple(output.shape[1:]),
                             "parameters": sum(p.numel() for p in mod.parameters())})
            hooks.append(module.register_forward_hook(record))
    try:
        with torch.no_grad():
            x = torch.zeros(1, 1, 28, 28)
            y = torch.zeros(1, dtype=torch.long)
            model.eval()
            model(x, y) if getattr(model, "is_conditional", False) else model(x)
    finally:
        for hook in hooks:
            hook.remove()
    own = sum(p.numel() for p in model.parameters(recurse=False))
    if own:  # parameters held by the model itself, such as the tied AE's one weight matrix
        rows.insert(0, {"layer": "(own)", "type": type(model).__name__, "output shape": (),
                        "parameters": own})
    return rows
