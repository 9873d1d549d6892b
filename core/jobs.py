"""Training runs in a background thread: the web page polls their progress and can cancel them.

A job outlives the page script that started it (a rerun never stops it) and is kept in a
process-wide table by id, so a reloaded browser tab finds its run again. At most
`TRAINING_SLOTS` jobs train at once; the others wait in one first-come, first-served queue, so
interactive sessions on a small machine always keep a core. The run itself is `core.pipeline`
(train, then evaluate); this module only runs it in a thread, records what it reports, and saves
the result on request.

Many visitors share the queue, so what one of them can take is bounded (`JobLimits`): one run
per visitor at a time, a bounded number waiting, a cap on a run's minutes (it then stops as if
cancelled, keeping what it learnt), a waiting run dropped when its visitor has left, a finished
run kept for a fixed time after it ends (never forgotten because of others' activity), and one
save per run, as a visitor's model (`core.visitors`).
"""

from __future__ import annotations

import heapq
import logging
import os
import sys
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from core import checkpoints, pipeline, visitors
from core.registry import Recipe
from core.trainer import TrainEvent, TrainResult, prepare_data
from core.training_cost import estimate_seconds

log = logging.getLogger(__name__)

# One core trains; the rest serve the pages (this machine has 2).
TRAINING_SLOTS = max(1, (os.cpu_count() or 2) - 1)
TRAINING_NICENESS = 10   # the training thread yields the CPU to page reruns on a busy machine
PREVIEW_SECONDS = 2.0    # live reconstructions inside an epoch at most this often (an epoch can take minutes)
LIVE_POINT_SECONDS = 0.5  # a point of the live loss chart at most this often
MAX_LIVE_POINTS = 600     # then thinned to half
FORGOTTEN_IDS = 10_000   # ids of forgotten runs remembered, so a stale link gets a sentence (12 bytes each)


@dataclass(frozen=True)
class JobLimits:
    """What the training queue lets visitors take; an operator's settings (ui.py reads them)."""

    max_waiting: int = 4                 # runs waiting for a slot, server-wide; one more is refused
    max_run_minutes: float = 15.0        # a run stops here, keeping what it learnt (every shipped recipe fits)
    keep_finished_minutes: float = 60.0  # a finished run stays reachable by its link this long
    abandon_seconds: float = 60.0        # a waiting run whose visitor has been gone this long is dropped


_limits = JobLimits()


def configure(limits: JobLimits) -> None:
    """Set the queue's limits for this process (the server calls it once with the operator's settings)."""
    global _limits
    _limits = limits


def limits() -> JobLimits:
    return _limits

QUEUED, LOADING, TRAINING, EVALUATING = "queued", "loading", "training", "evaluating"
DONE, CANCELLED, FAILED = "done", "cancelled", "failed"
RUNNING_STATES = (QUEUED, LOADING, TRAINING, EVALUATING)

_jobs: dict[str, TrainJob] = {}
_forgotten: OrderedDict[str, float] = OrderedDict()  # id -> when it finished
_jobs_lock = threading.Lock()
_queue = threading.Condition()  # guards _waiting and _training
_waiting: list[TrainJob] = []  # in order of arrival; the first ones take free slots
_training = 0                    # jobs holding a slot


class TrainJob:
    """One training run of a registry model in its own thread.

    Read `state`, `latest`, `history`, `snapshots`, `fraction`, `eta` while it runs; `cancel()`
    stops it within one epoch, keeping what was learned. When `state` is DONE, `model`,
    `result` and `metrics` hold the outcome; when FAILED, `error` says why in a sentence.
    """

    def __init__(self, model_name: str, recipe: Recipe, config=None, owner: str | None = None,
                 owner_present: Callable[[], bool] | None = None):
        self.id = uuid.uuid4().hex[:12]
        self.model_name = model_name
        self.recipe = recipe
        self.config = config
        self.owner = owner                      # the visitor (session) that started it
        self._owner_present = owner_present     # False while that visitor is gone
        self._owner_gone_since: float | None = None
        self.estimate = estimate_seconds(model_name, recipe, config)  # seconds of training, before it starts
        self.run_cap = _limits.max_run_minutes * 60
        self.stop_reason: str | None = None     # "cancelled", "cap" or "left", when it stopped early
        self.saved_as: str | None = None        # a run is saved once
        self._save_lock = threading.Lock()
        self.state = QUEUED
        self.latest: TrainEvent | None = None   # the last batch or epoch event
        self.preview: np.ndarray | None = None  # (10, 28, 28) latest reconstructions, also inside an epoch
        self.training_started: float | None = None
        self.fixed_digits: np.ndarray | None = None  # (10, 28, 28) originals of the snapshots
        self.model: nn.Module | None = None
        self.result: TrainResult | None = None
        self.metrics: dict | None = None
        self._trained: pipeline.Trained | None = None
        self.error: str | None = None
        self.started = time.time()
        self.finished: float | None = None
        self._history: list[dict] = []
        self._snapshots: list[np.ndarray] = []
        self._live_loss: list[tuple[float, float]] = []  # (epochs done, as a fraction; running training loss)
        self._last_point = -float("inf")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"train-{model_name}-{self.id}", daemon=True)

    # --- what the page reads ----------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.state in RUNNING_STATES

    @property
    def cancel_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def history(self) -> list[dict]:
        """Per finished epoch: "epoch", "train" and "val" loss terms, "seconds" since the start."""
        with self._lock:
            return list(self._history)

    @property
    def live_loss(self) -> list[tuple[float, float]]:
        """(epochs done as a fraction, running training loss) about every LIVE_POINT_SECONDS,
        inside epochs too: the live chart's first points come seconds after the start."""
        with self._lock:
            return list(self._live_loss)

    @property
    def snapshots(self) -> list[np.ndarray]:
        """Per finished epoch, the (10, 28, 28) reconstructions of the ten fixed digits."""
        with self._lock:
            return list(self._snapshots)

    @property
    def fraction(self) -> float:
        """Share of the planned batches done, 0 to 1."""
        event = self.latest
        if self.state in (DONE, EVALUATING):
            return 1.0
        if event is None:
            return 0.0
        return ((event.epoch - 1) * event.batches + event.batch) / (event.epochs * event.batches)

    @property
    def eta(self) -> float | None:
        """Seconds of training left at the pace so far; None before the first batch."""
        return None if self.latest is None else self.latest.eta

    @property
    def elapsed(self) -> float:
        return (self.finished or time.time()) - self.started

    @property
    def capped(self) -> bool:
        """Stopped by the server's cap on a run's minutes (what it learnt is kept)."""
        return self.stop_reason == "cap"

    @property
    def queue_position(self) -> int | None:
        """1 for the next run to start, 2 after it, ...; None when not waiting."""
        with _queue:
            return _waiting.index(self) + 1 if self in _waiting else None

    def remaining_seconds(self) -> float:
        """Seconds of training left: at the pace so far once it trains, else the estimate; within the cap."""
        if not self.running:
            return 0.0
        if self.latest is None or self.training_started is None:
            return min(self.estimate, self.run_cap)
        spent = time.time() - self.training_started
        return max(0.0, min(self.latest.eta, self.run_cap - spent))

    def expected_wait(self) -> float:
        """Seconds until this waiting run should start (0 once it has started)."""
        with _queue:
            if self not in _waiting:
                return 0.0
            ahead = _waiting[:_waiting.index(self)]
        return _time_until_free(ahead)

    # --- control ----------------------------------------------------------------------------

    def start(self) -> TrainJob:
        self._thread.start()
        return self

    def cancel(self, reason: str = "cancelled") -> None:
        """Stop after the current batch; the epochs so far (and that partial one) are kept."""
        if not self._stop.is_set():
            self.stop_reason = reason
        self._stop.set()

    def adopt(self, owner: str | None, owner_present: Callable[[], bool] | None) -> None:
        """A reloaded tab (a new session) takes over the run it finds through its link."""
        self.owner, self._owner_present, self._owner_gone_since = owner, owner_present, None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends; True when it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def save(self, name: str, store: visitors.StoreLimits | None = None,
             replace_shipped: bool = False) -> Path:
        """Save the trained model as a visitor's model named `name` (`core.visitors`); once per run.

        Raises:
            ValueError: nothing trained yet, already saved, a bad or shipped name, no room left.
            FileExistsError: another model has this name.
        """
        if self.state != DONE or self.model is None:
            raise ValueError("There is no trained model to save yet; wait for training to finish.")
        with self._save_lock:
            if self.saved_as is not None:
                raise ValueError(f"This run is already saved as {self.saved_as!r}; each run is saved once. "
                                 "Train again to save another model.")
            path = pipeline.save_for_visitor(self._trained, name, store, replace_shipped)
            self.saved_as = path.name.removesuffix(checkpoints.SUFFIX)
        return path

    # --- the thread -------------------------------------------------------------------------

    def _record(self, event: TrainEvent) -> None:
        self.latest = event
        if event.snapshot is not None:
            self.preview = event.snapshot
        now = time.monotonic()
        if event.kind == "batch" and now - self._last_point >= LIVE_POINT_SECONDS and "loss" in event.train:
            self._last_point = now
            with self._lock:
                self._live_loss.append((event.epoch - 1 + event.batch / event.batches, event.train["loss"]))
                if len(self._live_loss) > MAX_LIVE_POINTS:
                    self._live_loss = self._live_loss[::2]  # a long run keeps its shape at half the detail
        if event.kind == "epoch":
            with self._lock:
                self._history.append({"epoch": event.epoch, "train": event.train, "val": event.val,
                                      "seconds": event.elapsed})
                if event.snapshot is not None:
                    self._snapshots.append(event.snapshot)

    def _should_stop(self) -> bool:
        if self._stop.is_set():
            return True
        if time.time() - self.training_started > self.run_cap:
            self.cancel("cap")
            return True
        return False

    def _owner_left(self) -> bool:
        """True once the visitor has been gone for the limit's `abandon_seconds`."""
        if self._owner_present is None or self._owner_present():
            self._owner_gone_since = None
            return False
        now = time.time()
        self._owner_gone_since = self._owner_gone_since or now
        return now - self._owner_gone_since >= _limits.abandon_seconds

    def _wait_for_slot(self) -> bool:
        """Wait in the queue until first in line and a slot is free; False when cancelled or left meanwhile."""
        global _training
        with _queue:
            while True:
                if not self._stop.is_set() and self._owner_left():
                    self.cancel("left")
                if self._stop.is_set():
                    _waiting.remove(self)
                    _queue.notify_all()
                    return False
                if _waiting[0] is self and _training < TRAINING_SLOTS:
                    _waiting.pop(0)
                    _training += 1
                    _queue.notify_all()
                    return True
                _queue.wait(0.2)  # stay cancellable, and see the visitor leave

    def _run(self) -> None:
        global _training
        _lower_thread_priority()
        if not self._wait_for_slot():
            self._finish(CANCELLED)
            return
        try:
            self.state = LOADING
            data = prepare_data(self.recipe)  # seconds the first time; cached per process after
            self.fixed_digits = data.fixed_x.numpy()[:, 0]
            if self._stop.is_set():
                self._finish(CANCELLED)
                return
            self.state = TRAINING
            self.training_started = time.time()
            trained = pipeline.train_and_evaluate(
                self.model_name, self.recipe, self.config, on_evaluating=lambda: setattr(self, "state", EVALUATING),
                data=data, callbacks=[self._record], should_stop=self._should_stop, preview_seconds=PREVIEW_SECONDS)
            self._trained = trained
            self.model, self.result, self.metrics = trained.model, trained.result, trained.metrics
            self._finish(DONE)
        except (ValueError, FileNotFoundError) as exc:  # bad settings or missing data: say so
            self.error = str(exc)
            self._finish(FAILED)
        except Exception as exc:  # the thread is the last place to catch it; the page shows it
            log.exception("training job %s (%s) failed", self.id, self.model_name)
            self.error = f"Training stopped by an unexpected error ({type(exc).__name__}: {exc})."
            self._finish(FAILED)
        finally:
            with _queue:
                _training -= 1
                _queue.notify_all()

    def _finish(self, state: str) -> None:
        self.finished = time.time()
        self.state = state


def _lower_thread_priority() -> None:
    """Raise this thread's nice value so page reruns go first (Linux: nice is per thread)."""
    if sys.platform.startswith("linux"):
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + TRAINING_NICENESS))


def _time_until_free(ahead: list[TrainJob]) -> float:
    """Seconds until a slot is free for the run after `ahead` (the runs before it in the queue),
    from what the training runs have left and the waiting runs' estimates, slot by slot."""
    with _jobs_lock:
        training = [j for j in _jobs.values() if j.running and j.state != QUEUED]
    free_at = sorted(j.remaining_seconds() for j in training)[:TRAINING_SLOTS]
    free_at += [0.0] * (TRAINING_SLOTS - len(free_at))
    heapq.heapify(free_at)
    for job in ahead:
        heapq.heappush(free_at, heapq.heappop(free_at) + min(job.estimate, job.run_cap))
    return free_at[0]


def wait_for_new_run() -> float:
    """Seconds a run started now would wait for a slot."""
    with _queue:
        ahead = list(_waiting)
    return _time_until_free(ahead)


def _forget_old() -> None:
    """Forget runs finished longer ago than the limit (age only: others' activity never evicts a run)."""
    cutoff = time.time() - _limits.keep_finished_minutes * 60
    with _jobs_lock:
        for old in [j for j in _jobs.values() if not j.running and j.finished is not None and j.finished < cutoff]:
            del _jobs[old.id]
            _forgotten[old.id] = old.finished
        while len(_forgotten) > FORGOTTEN_IDS:
            _forgotten.popitem(last=False)


def start(model_name: str, recipe: Recipe, config=None, owner: str | None = None,
          owner_present: Callable[[], bool] | None = None) -> TrainJob:
    """Start training a registry model in a background thread and return its job.

    Args:
        owner: who starts it (a session id); one run per owner at a time.
        owner_present: says whether that visitor is still there; a waiting run of a visitor
            gone for `JobLimits.abandon_seconds` is dropped.

    Raises:
        ValueError: the owner already has a run waiting or training, or the queue is full;
            the sentence says what to do.
    """
    _forget_old()
    job = TrainJob(model_name, recipe, config, owner, owner_present)
    with _jobs_lock, _queue:
        if owner is not None and any(j.owner == owner and j.running for j in _jobs.values()):
            raise ValueError("You already have a run waiting or training; cancel it or let it finish "
                             "before starting another.")
        if len(_waiting) >= _limits.max_waiting:
            raise ValueError(f"The training queue is full ({len(_waiting)} runs are waiting for this "
                             f"server's {TRAINING_SLOTS} training slot{'s' if TRAINING_SLOTS > 1 else ''}); "
                             "try again in a few minutes.")
        _jobs[job.id] = job
        _waiting.append(job)
    return job.start()


def get(job_id: str | None) -> TrainJob | None:
    """The job with this id in this process, or None (unknown, forgotten, or the server restarted)."""
    _forget_old()
    with _jobs_lock:
        return _jobs.get(job_id) if job_id else None


def forgotten(job_id: str | None) -> bool:
    """True when a run of this id finished here and was forgotten after `keep_finished_minutes`."""
    with _jobs_lock:
        return bool(job_id) and job_id in _forgotten


def waiting_for_slot() -> int:
    """How many jobs of this process wait for a training slot."""
    with _jobs_lock:
        return sum(1 for j in _jobs.values() if j.state == QUEUED)
