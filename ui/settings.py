"""The operator's settings: an environment variable AE_<NAME>, else `name` in .streamlit/secrets.toml,
else the default (README, "Serving many visitors").

Read and applied once, at start-up (`apply`, from `ui.startup`): the training queue gets its
limits then, not as a side effect of whichever page asks first. A bad value is kept as its sentence
and raised by `current()`, so the pages that use the settings stop with it and the others work.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from core import jobs, visitors


@dataclass(frozen=True)
class OperatorSettings:
    """What the server's operator allows visitors (README, "Serving many visitors")."""

    allow_replace_shipped: bool
    store: visitors.StoreLimits
    jobs: jobs.JobLimits
    ray_address: str | None = None  # a Ray cluster that trains the runs (README, "Beyond one machine"); None: this process
    waiting_per_cpu: int = 4        # with Ray, runs that may wait: at least this many per cluster CPU


def _setting(name: str, default, parse: Callable):
    """An operator setting: environment variable AE_<NAME>, else `name` in .streamlit/secrets.toml, else default."""
    raw = os.environ.get(f"AE_{name.upper()}")
    if raw is None:
        try:
            raw = st.secrets.get(name)
        except FileNotFoundError:  # no secrets.toml: defaults
            raw = None
    if raw is None:
        return default
    try:
        return parse(raw)
    except (TypeError, ValueError):
        raise ValueError(f"The operator setting {name} = {raw!r} is not a valid value "
                         f"(the default is {default!r}); fix it in the environment or in secrets.toml.") from None


def _flag(raw) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(text)


def _positive(parse: Callable) -> Callable:
    def check(raw):
        value = parse(raw)
        if not value > 0:
            raise ValueError(raw)
        return value
    return check


def read() -> OperatorSettings:
    """The settings as the environment and secrets.toml give them now; ValueError names a bad one."""
    store, job = visitors.StoreLimits(), jobs.JobLimits()
    return OperatorSettings(
        allow_replace_shipped=_setting("allow_replace_shipped", False, _flag),
        store=visitors.StoreLimits(
            max_models=_setting("visitor_max_models", store.max_models, _positive(int)),
            max_megabytes=_setting("visitor_max_megabytes", store.max_megabytes, _positive(float)),
            drop_oldest_unused=_setting("visitor_drop_oldest_unused", store.drop_oldest_unused, _flag),
            keep_used_minutes=_setting("visitor_keep_used_minutes", store.keep_used_minutes, _positive(float)),
            max_models_each=_setting("visitor_max_models_each", store.max_models_each, _positive(int)),
            max_saves_per_hour=_setting("visitor_max_saves_per_hour", store.max_saves_per_hour, _positive(int))),
        jobs=jobs.JobLimits(
            max_waiting=_setting("train_max_waiting", job.max_waiting, _positive(int)),
            max_run_minutes=_setting("train_max_minutes", job.max_run_minutes, _positive(float)),
            keep_finished_minutes=_setting("train_keep_finished_minutes", job.keep_finished_minutes, _positive(float)),
            abandon_seconds=_setting("train_abandon_seconds", job.abandon_seconds, _positive(float)),
            max_runs_per_hour=_setting("train_max_runs_per_hour", job.max_runs_per_hour, _positive(int)),
            keep_finished_runs=_setting("train_keep_finished_runs", job.keep_finished_runs, _positive(int)),
            keep_finished_megabytes=_setting("train_keep_finished_megabytes", job.keep_finished_megabytes,
                                             _positive(float)),
            keep_finished_runs_per_visitor=_setting("train_keep_finished_runs_per_visitor",
                                                    job.keep_finished_runs_per_visitor, _positive(int)),
            keep_finished_megabytes_per_visitor=_setting("train_keep_finished_megabytes_per_visitor",
                                                         job.keep_finished_megabytes_per_visitor, _positive(float)),
            keep_finished_at_least_minutes=_setting("train_keep_finished_at_least_minutes",
                                                    job.keep_finished_at_least_minutes, _positive(float))),
        ray_address=_setting("ray_address", None, lambda raw: str(raw).strip() or None),
        waiting_per_cpu=_setting("train_waiting_per_cpu", 4, _positive(int)),
    )


_applied: OperatorSettings | ValueError | None = None


def apply() -> None:
    """Read the settings and hand the training queue its limits (and its Ray cluster, where one is
    named: connected once per process); a bad value is kept for `current()`."""
    global _applied
    try:
        _applied = read()
    except ValueError as exc:
        _applied = exc
        return
    jobs.configure(_applied.jobs)
    if _applied.ray_address and jobs.backend() is None:
        try:
            from core import ray_jobs  # imports Ray: only on servers that use a cluster
        except ImportError:
            _applied = ValueError("The operator setting ray_address names a Ray cluster, but Ray is not "
                                  "installed here: pip install -r requirements-ray.txt, or unset AE_RAY_ADDRESS.")
            return
        ray_jobs.use_cluster(_applied.ray_address, _applied.jobs, _applied.waiting_per_cpu)


def current() -> OperatorSettings:
    """The settings applied at start-up. Raises ValueError, a sentence naming a bad setting."""
    if _applied is None:
        apply()
    if isinstance(_applied, ValueError):
        raise _applied
    return _applied
