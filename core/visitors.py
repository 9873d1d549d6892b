"""Visitors' saved models: a folder of their own, names that never collide, a bounded count and size.

Many people share one server, so a visitor's save can never replace, damage or delete a shipped
model or another visitor's: names are compared after normalising case, spaces, '-'/'_' and
Unicode; a taken name is refused with a sentence; the folder holds at most `StoreLimits`' count
and megabytes, and when it is full the save is refused or (the operator's choice) the visitor
model used least recently is deleted to make room. Replacing a shipped model from the web page
happens only when the operator allows it (`replace_shipped`), and only under its exact name.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from core import checkpoints
from core.registry import list_models

USE_MARK_SECONDS = 60.0  # a model's "last used" time is refreshed at most this often (one utime call)
HEADER_ALLOWANCE = 64 * 2**10  # bytes of metadata beside the weights, when estimating a file's size


@dataclass(frozen=True)
class StoreLimits:
    """How much visitors may keep; defaults fit a small server (each model is 0.1-3 MB)."""

    max_models: int = 100          # saved visitor models in all
    max_megabytes: float = 200.0   # their files together
    drop_oldest_unused: bool = False  # when full: refuse the save (False), or delete the model used least recently


_save_lock = threading.Lock()  # one save at a time per process: check the name and room, then write
_last_marked: dict[str, float] = {}


def normalise_name(text: str) -> str:
    """The checkpoint name a visitor's text stands for: Unicode NFKC, trimmed, lower case, spaces as '-'.

    Raises:
        ValueError: what is left is not a valid name; the sentence says what is allowed.
    """
    if not isinstance(text, str):
        raise ValueError("A model name must be text.")
    name = re.sub(r"\s+", "-", unicodedata.normalize("NFKC", text).strip().casefold())
    return checkpoints.validate_name(name)


def name_key(name: str) -> str:
    """What two names must differ in to both exist: '-' and '_' count as the same."""
    return name.replace("_", "-")


def _shipped_twin(name: str) -> str | None:
    key = name_key(name)
    return next((shipped for shipped in list_models() if name_key(shipped) == key), None)


def _visitor_files() -> list[Path]:
    return [checkpoints.path_for(name) for name in checkpoints.list_visitor_models()]


def usage() -> tuple[int, int]:
    """(number of visitors' models, their bytes together)."""
    count = total = 0
    for path in _visitor_files():
        try:
            total += path.stat().st_size
            count += 1
        except FileNotFoundError:
            pass  # deleted meanwhile
    return count, total


def _last_used(path: Path) -> int:
    stat = path.stat()
    return max(stat.st_atime_ns, stat.st_mtime_ns)


def mark_used(name: str) -> None:
    """Record that a visitor's model was used now (its file's access time), so the least recently
    used one is dropped first when the operator lets a full folder make room. Shipped: nothing."""
    if checkpoints.is_shipped(name):
        return
    now = time.time()
    if now - _last_marked.get(name, 0.0) < USE_MARK_SECONDS:
        return
    _last_marked[name] = now
    try:
        path = checkpoints.path_for(name)
        os.utime(path, ns=(time.time_ns(), path.stat().st_mtime_ns))  # mtime kept: caches key on it
    except (FileNotFoundError, ValueError):
        pass  # deleted meanwhile, or not a checkpoint name: nothing to mark


def _make_room(new_bytes: int, limits: StoreLimits) -> None:
    """Refuse, or drop least-recently-used visitor models, until one more file of `new_bytes` fits."""
    budget = int(limits.max_megabytes * 2**20)
    if new_bytes > budget:
        raise ValueError(f"This model needs {new_bytes / 2**20:.1f} MB, more than the "
                         f"{limits.max_megabytes:g} MB this server keeps for visitors' models.")
    while True:
        count, total = usage()
        if count + 1 <= limits.max_models and total + new_bytes <= budget:
            return
        if not limits.drop_oldest_unused or count == 0:
            raise ValueError(
                f"The server's room for visitors' models is full ({count} of {limits.max_models} models, "
                f"{total / 2**20:.1f} of {limits.max_megabytes:g} MB), so this one cannot be saved. "
                "Use the models already saved, or ask the operator to make room.")
        oldest = min(_visitor_files(), key=_last_used)
        oldest.unlink(missing_ok=True)


@contextlib.contextmanager
def reserve(text: str, model: nn.Module, limits: StoreLimits = StoreLimits(), replace_shipped: bool = False):
    """Check a visitor's save of `model` under the name `text` stands for, then let the caller write it:
    `with reserve(...) as (name, overwrite): write the checkpoint "name"`. Saves in this process
    wait for each other, so two names that collide after normalising cannot both pass.

    Args:
        replace_shipped: the operator allows replacing a shipped model from the web page; the
            visitor must then give its exact name (and the writer checks the settings are the registry's).

    Raises:
        ValueError: a bad name, a shipped name (unless allowed), or no room; a sentence each.
        FileExistsError: another visitor's model has this name (after normalising).
    """
    name = normalise_name(text)
    twin = _shipped_twin(name)
    if twin is not None:
        if not replace_shipped:
            raise ValueError(f"{twin!r} is a shipped model, which visitors cannot replace on this server; "
                             f"choose another name, such as 'my-{twin.replace('_', '-')}'.")
        if name != twin:
            raise ValueError(f"{name!r} is too close to the shipped {twin!r}: to replace that model, "
                             f"save under {twin!r} exactly; otherwise choose another name.")
        yield twin, True
        return
    size = sum(t.numel() * t.element_size() for t in model.state_dict().values()) + HEADER_ALLOWANCE
    with _save_lock:
        key = name_key(name)
        taken = next((other for other in checkpoints.list_visitor_models() if name_key(other) == key), None)
        if taken is not None:
            raise FileExistsError(f"A model named {taken!r} is already saved on this server; "
                                  "choose another name (saved models are never replaced).")
        _make_room(size, limits)
        yield name, False  # never overwrite: of two processes saving one name, the file system picks one
    _last_marked.pop(name, None)
