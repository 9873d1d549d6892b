"""Save, load and verify checkpoints: one safetensors file per name, weights plus metadata.

The metadata (JSON in the safetensors header) holds what rebuilds and explains the model: the
registry model, its config, the training recipe, the data source, epochs, loss history, test
metrics, library versions and a SHA-256 of the weights. Weights are never unpickled. Files are
written to a temporary name and renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import stat
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import nn

# The file layout and the header are read the same way by the home page, without torch.
from core.catalogue import (
    HEADER_ERRORS,
    META_KEY,
    NAME_PATTERN,
    SUFFIX,
    checkpoint_dir,
    checkpoint_files,
    header_meta,
    open_regular,
    visitor_dir,
)
from core.files import write_atomic
from core.registry import Recipe, config_from_dict, create_model, get_spec, list_models

FORMAT_VERSION = 1
_EPOCH_KEYS = ("loss", "recon", "kl", "l1", "accuracy")


class StaleCheckpointError(ValueError):
    """The file was written for other model settings than the registry has now."""


class CorruptCheckpointError(ValueError):
    """The file cannot be read, or its weights do not match their recorded hash."""


def is_shipped(name: str) -> bool:
    """A registry model's own checkpoint (shipped with the lab), as opposed to a visitor's model."""
    return name in list_models()


def validate_name(name: str) -> str:
    """Return the name if it is a safe checkpoint name, else raise ValueError saying what is allowed."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ValueError(
            f"{name!r} cannot be a checkpoint name: use 1 to 40 lowercase letters, digits, '-' "
            "or '_', starting with a letter or digit."
        )
    return name


def path_for(name: str) -> Path:
    """The file of a checkpoint: registry names in the checkpoint folder, every other name in the
    visitors' folder, so no visitor's name can ever point at a shipped file."""
    folder = checkpoint_dir() if is_shipped(validate_name(name)) else visitor_dir()
    return folder / f"{name}{SUFFIX}"


def weights_hash(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 over tensor names, dtypes, shapes and bytes, in name order."""
    digest = hashlib.sha256()
    for key in sorted(state):
        tensor = state[key].detach().cpu().contiguous()
        digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.numpy().tobytes() if tensor.dtype != torch.bfloat16 else tensor.float().numpy().tobytes())
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    import safetensors

    return {"python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "safetensors": safetensors.__version__}


def _compact_history(history: list[dict]) -> list[dict]:
    """Per-epoch losses rounded for the metadata: enough to plot, small enough for a header."""
    rows = []
    for row in history:
        compact = {"epoch": row["epoch"], "seconds": round(row["seconds"], 2)}
        for part in ("train", "val"):
            compact[part] = {k: round(float(v), 5) for k, v in (row.get(part) or {}).items() if k in _EPOCH_KEYS}
        rows.append(compact)
    return rows


def save(name: str, model: nn.Module, recipe: Recipe, result=None, metrics: dict | None = None,
         model_name: str | None = None, overwrite: bool = False, data_source: str | None = None) -> Path:
    """Write a checkpoint atomically and return its path.

    Args:
        name: the checkpoint's name (a registry name for the shipped ones, else the user's).
        result: the TrainResult, for epochs, history and training time.
        model_name: the registry model it is an instance of; defaults to `name`.
        overwrite: replace an existing file of that name; otherwise an existing one is an error.

    Raises:
        ValueError: a bad name, or registry-named settings that differ from the registry's.
        FileExistsError: the name is taken and overwrite is False (also when another session
            saved the same name a moment earlier).
    """
    path = path_for(name)
    model_name = model_name or name
    spec = get_spec(model_name)
    if name in list_models() and name != model_name:
        raise ValueError(f"{name!r} is the name of another registry model; choose another name.")
    if name == model_name and model.config != spec.config:
        raise ValueError(f"Settings that differ from the registry's {name!r} need a name of their own.")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {
        "format": FORMAT_VERSION,
        "name": name,
        "model": model_name,
        "config": dataclasses.asdict(model.config),
        "recipe": dataclasses.asdict(recipe),
        "data_source": data_source or getattr(result, "source", None) or "",
        "epochs": result.epochs_done if result is not None else 0,
        "cancelled": bool(getattr(result, "cancelled", False)),
        "train_seconds": round(getattr(result, "seconds", 0.0), 1),
        "history": _compact_history(result.history) if result is not None else [],
        "metrics": metrics or {},
        "parameters": sum(p.numel() for p in model.parameters()),
        "versions": _versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sha256": weights_hash(state),
    }
    return _write_atomic(path, save_safetensors(state, metadata={META_KEY: json.dumps(meta)}), overwrite)


def _write_atomic(path: Path, blob: bytes, overwrite: bool) -> Path:
    return write_atomic(path, blob, overwrite, what=f"The checkpoint {path.stem!r}", exists_message=(
        f"A checkpoint named {path.stem!r} already exists; choose another name or allow overwriting."))


def update_metrics(name: str, metrics: dict) -> Path:
    """Replace the test metrics stored in a checkpoint, keeping its weights and everything else."""
    state, meta = _read(name)
    meta["metrics"] = metrics
    return _write_atomic(path_for(name), save_safetensors(state, metadata={META_KEY: json.dumps(meta)}), overwrite=True)


def _read(name: str) -> tuple[dict[str, torch.Tensor], dict]:
    path = path_for(name)
    if not path.is_file():
        raise FileNotFoundError(
            f"There is no checkpoint {name!r}; train it with "
            f"`python -m core.train --model {name}` or on the Train page."
        )
    try:
        with open_regular(path) as file:  # never a FIFO put in its place, which would block this session
            blob = file.read()
    except OSError as exc:  # no permission, an I/O error, not a regular file: said without the server's path
        raise CorruptCheckpointError(
            f"The checkpoint {name!r} cannot be read ({exc.strerror or type(exc).__name__}); restore the file "
            "or retrain it.") from exc
    try:
        state = load_safetensors(blob)
        header_len = int.from_bytes(blob[:8], "little")
        header = json.loads(blob[8:8 + header_len])
        meta = json.loads(header["__metadata__"][META_KEY])
    except (SafetensorError, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise CorruptCheckpointError(
            f"The checkpoint {name!r} is damaged or not a checkpoint of this lab ({type(exc).__name__}); "
            "retrain it or restore the file."
        ) from exc
    if weights_hash(state) != meta.get("sha256"):
        raise CorruptCheckpointError(f"The checkpoint {name!r} is damaged: its weights do not match their hash; retrain it.")
    meta["name"] = name  # the validated file name, never a name written inside the file
    return state, meta


def _check_fresh(name: str, meta: dict):
    """The config to build the model with; raises StaleCheckpointError when it no longer fits."""
    model_name = meta.get("model", name)
    try:
        spec = get_spec(model_name)
        config = config_from_dict(model_name, meta["config"])
    except (ValueError, KeyError, TypeError) as exc:
        raise StaleCheckpointError(f"The checkpoint {name!r} no longer fits its model: {exc} Retrain it.") from exc
    if name == model_name and config != spec.config:
        raise StaleCheckpointError(
            f"The checkpoint {name!r} was trained with other settings than the model has now "
            f"({config} vs {spec.config}); retrain it."
        )
    return config


def read_meta(name: str) -> dict:
    """The metadata of a checkpoint, after checking the file (missing, corrupt, stale: raises)."""
    _, meta = _read(name)
    _check_fresh(name, meta)
    return meta


def load(name: str) -> tuple[nn.Module, dict]:
    """Load a checkpoint into a model in eval mode; returns (model, metadata).

    Raises:
        FileNotFoundError: no such checkpoint.
        CorruptCheckpointError: unreadable, or the hash does not match.
        StaleCheckpointError: its settings no longer match the registry model.
    """
    state, meta = _read(name)
    config = _check_fresh(name, meta)
    model = create_model(meta["model"], config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise StaleCheckpointError(f"The checkpoint {name!r} does not fit its model's layers; retrain it.") from exc
    return model.eval(), meta


@dataclass(frozen=True)
class CheckpointStatus:
    name: str
    state: str        # "ok", "missing", "stale" or "corrupt"
    message: str      # a sentence for people
    meta: dict | None


def checked_header(name: str) -> dict:
    """A checkpoint's metadata from its header alone (a few KB, the weights unread), after checking
    that the file is as long as its header says and that it fits its model; raises like `load`.

    The weights' hash is checked by `load`, which every use of the weights goes through.
    """
    try:
        meta = header_meta(path_for(name))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"There is no checkpoint {name!r}; train it with "
            f"`python -m core.train --model {name}` or on the Train page."
        ) from None
    except OSError as exc:  # a symlink loop, no permission, an I/O error: said without the server's path
        raise CorruptCheckpointError(
            f"The checkpoint {name!r} cannot be read ({exc.strerror or type(exc).__name__}); restore the file "
            "or retrain it.") from exc
    except HEADER_ERRORS as exc:
        raise CorruptCheckpointError(
            f"The checkpoint {name!r} is damaged or not a checkpoint of this lab ({type(exc).__name__}); "
            "retrain it or restore the file."
        ) from exc
    meta["name"] = name
    _check_fresh(name, meta)
    return meta


def status(name: str) -> CheckpointStatus:
    """Check a checkpoint without raising: its state, a sentence, and its metadata when readable.

    Reads the header only, so listing hundreds of checkpoints stays cheap (see `read_header`).
    """
    try:
        meta = checked_header(name)
    except FileNotFoundError as exc:
        return CheckpointStatus(name, "missing", str(exc), None)
    except StaleCheckpointError as exc:
        return CheckpointStatus(name, "stale", str(exc), None)
    except CorruptCheckpointError as exc:
        return CheckpointStatus(name, "corrupt", str(exc), None)
    return CheckpointStatus(name, "ok", f"Trained {meta['epochs']} epochs on {meta['data_source']}.", meta)


def _names_in(folder: Path) -> set[str]:
    """The well-named regular checkpoint files in a folder (`catalogue.checkpoint_files`): a FIFO or a
    symlink loop under a checkpoint's name is never offered, so never opened."""
    return {path.name[: -len(SUFFIX)] for path, _ in checkpoint_files(folder)}


def list_shipped() -> list[str]:
    """Registry models whose checkpoint file is present, in registry order."""
    present = _names_in(checkpoint_dir())
    return [n for n in list_models() if n in present]


def list_visitor_models() -> list[str]:
    """Names of visitors' saved models, in name order (registry names there are never read)."""
    return sorted(_names_in(visitor_dir()) - set(list_models()))


def list_checkpoints() -> list[str]:
    """Names of the checkpoint files present: shipped models first, then visitors' in name order."""
    return list_shipped() + list_visitor_models()


def listing_stamp() -> tuple:
    """The name, size and modification time of every checkpoint file in both folders: a listing
    cached under this stamp is never stale, even after a file is changed in place. One directory
    scan per folder (about a millisecond for 500 files), no file opened."""
    stamp = []
    for folder in (checkpoint_dir(), visitor_dir()):
        try:
            with os.scandir(folder) as entries:
                files = sorted(filter(None, (_entry_stamp(e) for e in entries if e.name.endswith(SUFFIX))))
        except FileNotFoundError:
            files = []
        stamp.append((str(folder), tuple(files)))
    return tuple(stamp)


def _entry_stamp(entry: os.DirEntry) -> tuple[str, int, int] | None:
    """(name, mtime, size) of a checkpoint file; None for a folder; (name, -1, -1) for an entry that
    cannot be read (a symlink loop, a dangling link), which its status then explains."""
    try:
        info = entry.stat()
    except OSError:
        return entry.name, -1, -1
    return (entry.name, info.st_mtime_ns, info.st_size) if stat.S_ISREG(info.st_mode) else None
