"""Visitors' saved models: a folder of their own, names that never collide, a bounded count and size.

Many people share one server, so a visitor's save can never replace, damage or delete a shipped
model or another visitor's: names are compared after normalising case, spaces, '-'/'_' and
Unicode; a taken name is refused with a sentence; the folder holds at most `StoreLimits`' count
and megabytes, and when it is full the save is refused or (the operator's choice) the visitor
model used least recently is deleted to make room, with its thumbnail, but never one used in the
last `StoreLimits.keep_used_minutes`. One visitor (a browser, `ui.session.visitor_id`) may save a
bounded number of models an hour and keep a bounded number (`visitor_save`), so no one of them can
fill the store that all share. Replacing a shipped model from the web page happens only when the
operator allows it (`replace_shipped`), and only under its exact name.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import threading
import time
import unicodedata
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from core import catalogue, checkpoints
from core.registry import list_models

USE_MARK_SECONDS = 60.0  # a model's "last used" time is refreshed at most this often (one utime call)
HEADER_ALLOWANCE = 64 * 2**10  # bytes of metadata beside the weights, when estimating a file's size
HOUR = 3600.0
# Names the pages give another meaning: the Latent space page lists the raw-pixel space as
# "pixels" beside checkpoint names (core.latent.PIXELS; core.latent sits above this module).
RESERVED_NAMES = ("pixels",)


@dataclass(frozen=True)
class StoreLimits:
    """How much visitors may keep; defaults fit a small server (each model is 0.1-3 MB)."""

    max_models: int = 100          # saved visitor models in all
    max_megabytes: float = 200.0   # their files together
    drop_oldest_unused: bool = False  # when full: refuse the save (False), or delete the model used least recently
    keep_used_minutes: float = 10.0   # ...but never one opened or saved this recently: someone is using it
    max_models_each: int = 10      # models one visitor (browser) may keep: 58 saves a minute filled 100 in 2
    max_saves_per_hour: int = 10   # saves one visitor may make in an hour


_save_lock = threading.Lock()  # one save at a time per process: check the name and room, then write
_quota_lock = threading.Lock()  # taken before _save_lock: one visitor's check and save at a time
_last_marked: dict[str, float] = {}
# Who saved what, in this process: a restart forgets it (the store's own bounds still hold).
_saved_by: dict[str, str] = {}               # model name -> visitor
_saves: dict[str, deque[float]] = {}         # visitor -> times of their saves in the last hour


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


def thumbnail_files(name: str) -> list[Path]:
    """A model's card pictures (`catalogue.thumbnail_file`: name, '-', 12 hex digits of its hash)."""
    pattern = re.compile(re.escape(name) + r"-[0-9a-f]{12}\.json")
    folder = catalogue.thumbnail_dir()
    return [p for p in folder.glob(f"{glob.escape(name)}-*.json") if pattern.fullmatch(p.name)]


def delete(name: str) -> None:
    """Delete a visitor's model and its thumbnail (never a shipped one)."""
    if checkpoints.is_shipped(name):
        raise ValueError(f"{name!r} is a shipped model; visitors' models only are deleted here.")
    checkpoints.path_for(name).unlink(missing_ok=True)
    for path in thumbnail_files(name):
        path.unlink(missing_ok=True)
    _last_marked.pop(name, None)
    _saved_by.pop(name, None)


def _make_room(new_bytes: int, limits: StoreLimits) -> None:
    """Refuse, or drop least-recently-used visitor models not used in `keep_used_minutes`, until one
    more file of `new_bytes` fits."""
    budget = int(limits.max_megabytes * 2**20)
    if new_bytes > budget:
        raise ValueError(f"This model needs {new_bytes / 2**20:.1f} MB, more than the "
                         f"{limits.max_megabytes:g} MB this server keeps for visitors' models.")
    while True:
        count, total = usage()
        if count + 1 <= limits.max_models and total + new_bytes <= budget:
            return
        full = (f"The server's room for visitors' models is full ({count} of {limits.max_models} models, "
                f"{total / 2**20:.1f} of {limits.max_megabytes:g} MB), so this one cannot be saved.")
        if not limits.drop_oldest_unused or count == 0:
            raise ValueError(f"{full} Use the models already saved, or ask the operator to make room.")
        idle_since = time.time_ns() - int(limits.keep_used_minutes * 60 * 1e9)
        unused = [(stamp, path) for path in _visitor_files()
                  if (stamp := _last_used_or_none(path)) is not None and stamp < idle_since]
        if not unused:
            raise ValueError(f"{full} Every saved model was used in the last {limits.keep_used_minutes:g} "
                             "minutes, so none is dropped to make room; try again later.")
        delete(min(unused)[1].name.removesuffix(checkpoints.SUFFIX))


def _last_used_or_none(path: Path) -> int | None:
    try:
        return _last_used(path)
    except FileNotFoundError:
        return None  # deleted meanwhile


def _recent_saves(visitor: str, now: float) -> deque[float]:
    """The visitor's saves in the last hour (and every other visitor's older ones forgotten)."""
    for other in [v for v, times in _saves.items() if not times or times[-1] < now - HOUR]:
        del _saves[other]
    times = _saves.setdefault(visitor, deque())
    while times and times[0] < now - HOUR:
        times.popleft()
    return times


def models_of(visitor: str) -> list[str]:
    """The models a visitor saved (in this process) that are still kept."""
    names = [name for name, by in _saved_by.items() if by == visitor]
    kept = [name for name in names if checkpoints.path_for(name).exists()]
    for gone in set(names) - set(kept):
        _saved_by.pop(gone, None)
    return kept


@contextlib.contextmanager
def visitor_save(visitor: str | None, limits: StoreLimits = StoreLimits()):
    """Check that a visitor may save one more model, then let the caller save it:
    `with visitor_save(visitor, limits) as saved: path = save...; saved(name)`. One visitor's
    saves wait for each other; None (the command line, tests) has no per-visitor bounds.

    Raises:
        ValueError: the visitor's saves this hour, or models kept, are at the limit; a sentence each.
    """
    if visitor is None:
        yield lambda name: None
        return
    with _quota_lock:
        now = time.time()
        times = _recent_saves(visitor, now)
        if len(times) >= limits.max_saves_per_hour:
            wait = max(1, round((times[0] + HOUR - now) / 60))
            raise ValueError(f"You have saved {len(times)} models in the last hour, this server's limit per "
                             f"visitor; you can save again in about {wait} min.")
        mine = models_of(visitor)
        if len(mine) >= limits.max_models_each:
            raise ValueError(f"You keep {len(mine)} saved models on this server ({', '.join(sorted(mine))}), "
                             f"the most one visitor may keep; this server shares its room among everyone.")

        def saved(name: str) -> None:
            times.append(time.time())
            _saved_by[name] = visitor

        yield saved


@contextlib.contextmanager
def reserve(text: str, model: nn.Module, limits: StoreLimits = StoreLimits(), replace_shipped: bool = False):
    """Check a visitor's save of `model` under the name `text` stands for, then let the caller write it:
    `with reserve(...) as (name, overwrite): write the checkpoint "name"`. Saves in this process
    wait for each other, so two names that collide after normalising cannot both pass.

    Args:
        replace_shipped: the operator allows replacing a shipped model from the web page; the
            visitor must then give its exact name (and the writer checks the settings are the registry's).

    Raises:
        ValueError: a bad, reserved or shipped name (unless allowed), or no room; a sentence each.
        FileExistsError: another visitor's model has this name (after normalising).
    """
    name = normalise_name(text)
    if name_key(name) in {name_key(reserved) for reserved in RESERVED_NAMES}:
        raise ValueError(f"{name!r} is reserved: the Latent space page uses it for the raw pixels, "
                         "so a model of that name could not be told apart there; choose another name.")
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
