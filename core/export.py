"""Export a dense decoder as plain arrays, so a browser can decode latent codes itself.

The export is a JSON-able dict: the layers in order, Linear weights and biases as base64
little-endian float32, and what a caller needs to build the input (latent size, whether a
one-hot digit label follows the code). `run_exported` is the reference forward pass in numpy;
the JavaScript in components/latent_pad does the same arithmetic, layer for layer.
"""

from __future__ import annotations

import base64
import hashlib

import numpy as np
from torch import nn

from core.models import N_CLASSES, PIXELS

FORMAT = "autoencoder-lab/decoder/1"
# The layer kinds the browser can run; anything else is refused at export time.
LAYER_TYPES = {nn.Linear: "linear", nn.ReLU: "relu", nn.Sigmoid: "sigmoid"}


def _leaf_layers(module: nn.Module, prefix: str) -> list[tuple[str, nn.Module]]:
    """(dotted name, layer) of every leaf module, in the order nn.Sequential runs them."""
    if not isinstance(module, nn.Sequential):
        return [(prefix, module)]
    layers = []
    for name, child in module.named_children():
        layers += _leaf_layers(child, f"{prefix}.{name}")
    return layers


def _floats_b64(tensor) -> str:
    return base64.b64encode(tensor.detach().cpu().numpy().astype("<f4").tobytes()).decode("ascii")


def export_decoder(model: nn.Module) -> dict:
    """The decoder of an autoencoder as {"layers": [...], "latent", "classes", "id", ...}.

    The model must decode as sigmoid(decoder(input)) with `decoder` an nn.Sequential of Linear,
    ReLU and Sigmoid layers (the dense autoencoders and the VAEs); for a conditional model the
    input is the code followed by the one-hot digit label.

    Raises:
        ValueError: the model has no such decoder, or a layer the browser cannot run.
    """
    decoder = getattr(model, "decoder", None)
    if not getattr(model, "is_autoencoder", False) or not isinstance(decoder, nn.Sequential):
        raise ValueError(f"{type(model).__name__} has no layer-by-layer decoder to export; "
                         "only the dense autoencoders and the VAEs can decode in the browser.")
    layers: list[dict] = []
    digest = hashlib.sha256()
    for name, layer in _leaf_layers(decoder, "decoder"):
        kind = LAYER_TYPES.get(type(layer))
        if kind is None:
            supported = ", ".join(t.__name__ for t in LAYER_TYPES)
            raise ValueError(f"The browser decoder runs {supported} layers only; {name} is "
                             f"{type(layer).__name__}.")
        entry: dict = {"type": kind}
        if kind == "linear":
            if layer.bias is None:
                raise ValueError(f"{name} has no bias; the browser decoder expects one on every Linear layer.")
            entry.update({"in": layer.in_features, "out": layer.out_features,
                          "weight": _floats_b64(layer.weight),  # (out, in), row-major
                          "bias": _floats_b64(layer.bias)})
            digest.update(entry["weight"].encode() + entry["bias"].encode())
        layers.append(entry)
    layers.append({"type": "sigmoid"})  # Autoencoder.decode: images = sigmoid(logits)

    if len(model.code_shape) != 1:
        raise ValueError(f"{type(model).__name__} has a code of shape {model.code_shape}; "
                         "the browser decoder takes a flat code.")
    latent = model.code_shape[0]
    classes = N_CLASSES if model.is_conditional else 0

    linear = [entry for entry in layers if entry["type"] == "linear"]
    if not linear or linear[0]["in"] != latent + classes or linear[-1]["out"] != PIXELS:
        raise ValueError(f"{type(model).__name__}'s decoder does not map a {latent + classes}-value "
                         f"input to {PIXELS} pixels, so it cannot be exported.")
    return {"format": FORMAT, "id": digest.hexdigest()[:16], "latent": latent,
            "conditional": bool(classes), "classes": classes, "image": [28, 28], "layers": layers}


def _floats(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4")


def run_exported(spec: dict, z, labels=None) -> np.ndarray:
    """Images (N, 28, 28) from codes (N, latent) through an exported decoder, in float64.

    The reference for the browser: it accumulates in double precision as JavaScript does.
    """
    x = np.atleast_2d(np.asarray(z, dtype=np.float64))  # (N, latent)
    if x.shape[1] != spec["latent"]:
        raise ValueError(f"This decoder takes {spec['latent']} latent values, not {x.shape[1]}.")
    if spec["conditional"]:
        if labels is None:
            raise ValueError("This decoder is conditional: give the digit label to decode.")
        one_hot = np.eye(spec["classes"])[np.broadcast_to(np.asarray(labels), (len(x),))]
        x = np.concatenate([x, one_hot], axis=1)  # (N, latent + classes)
    for layer in spec["layers"]:
        if layer["type"] == "linear":
            weight = _floats(layer["weight"]).reshape(layer["out"], layer["in"]).astype(np.float64)
            x = x @ weight.T + _floats(layer["bias"])
        elif layer["type"] == "relu":
            x = np.maximum(x, 0.0)
        elif layer["type"] == "sigmoid":
            x = 1.0 / (1.0 + np.exp(-x))
        else:
            raise ValueError(f"Unknown layer type {layer['type']!r} in an exported decoder.")
    return x.reshape(-1, *spec["image"])
