"""Training runs in a background thread: the web page polls their progress and can cancel them.

A job outlives the page script that started it (a rerun never stops it) and is kept in a
process-wide table by id, so a reloaded browser tab finds its run again. At most
`TRAINING_SLOTS` jobs train at once; the others wait in one first-come, first-served queue, so
interactive sessions on a small machine always keep a core. The run itself is `core.pipeline`
(train, then evaluate); this module only runs it in a thread, records what it reports, and saves
the result on request.

Many visitors share the queue, so what one of them can take is bounded (`JobLimits`). A visitor
is a browser (`ui.session.visitor_id`), not a tab: one run per visitor at a time, a bounded number
of runs a visitor starts an hour, a bounded number waiting, a cap on a run's minutes (it then stops
as if cancelled, keeping what it learnt), a waiting run dropped when its visitor has left, and one
save per run, as a visitor's model (`core.visitors`). Only the visitor who started a run may cancel
or save it; anyone with its link may watch it.

A finished run keeps only what the page shows and a save needs (weights on the CPU without
gradients, uint8 snapshots, the loss history), and finished runs are bounded in count and bytes,
server-wide and per visitor: past the bounds the oldest finished run is dropped first, never one
younger than `keep_finished_at_least_minutes`, and any is dropped after `keep_finished_minutes`.
A dropped run's link, and a tab still holding it, say it expired.

That is the default backend: this process's threads. `use_backend` hands the module's functions
(`start`, `get`, `why_forgotten`, `running_run_of`, `waiting_for_slot`, `wait_for_new_run`,
`training_slots`, `unavailable`) to another one, `core.ray_jobs` on a Ray cluster, whose jobs
answer the same attributes and methods as a `TrainJob`.
"""

from __future__ import annotations

import dataclasses
import heapq
import logging
import os
import sys
import threading
import time
import uuid
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from core import checkpoints, pipeline, visitors
from core.images import to_uint8
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
HISTORY_ROW_BYTES = 1_000  # a finished run's loss history, per epoch (dicts of a few floats), when counting its bytes
HOUR = 3600.0
AGE, ROOM = "age", "room"  # why a finished run was forgotten


@dataclass(frozen=True)
class JobLimits:
    """What the training queue lets visitors take; an operator's settings (ui.py reads them)."""

    max_waiting: int = 4                 # runs waiting for a slot, server-wide; one more is refused
    max_run_minutes: float = 15.0        # a run stops here, keeping what it learnt (every shipped recipe fits)
    keep_finished_minutes: float = 60.0  # a finished run stays reachable by its link at most this long
    abandon_seconds: float = 60.0        # a waiting run whose visitor has been gone this long is dropped
    max_runs_per_hour: int = 20          # runs one visitor may start in an hour (a quick run takes about a minute)
    # Finished runs kept, oldest dropped first. A cvae run kept 8.7 MB untrimmed (weights and their
    # gradients); trimmed, a run keeps its weights (0.02-4.3 MB) and 7.8 KB of snapshots an epoch.
    keep_finished_runs: int = 100
    keep_finished_megabytes: float = 300.0
    keep_finished_runs_per_visitor: int = 5
    keep_finished_megabytes_per_visitor: float = 50.0
    keep_finished_at_least_minutes: float = 5.0  # never dropped for room sooner: time to look and save


_limits = JobLimits()


def configure(limits: JobLimits) -> None:
    """Set the queue's limits for this process (the server calls it once with the operator's settings)."""
    global _limits
    _limits = limits


def limits() -> JobLimits:
    return _limits


class TrainingUnavailable(RuntimeError):
    """The backend that trains runs cannot be reached now; str() is a sentence for the page."""


_backend = None  # None: this process's threads; else an object with this module's functions (core.ray_jobs)


def use_backend(backend) -> None:
    """Send runs to `backend` from now on (None: back to this process's threads)."""
    global _backend
    _backend = backend


def backend():
    """The backend runs go to; None: this process's threads."""
    return _backend


def unavailable() -> str | None:
    """A sentence when runs cannot be started or followed now (the cluster is unreachable), else None."""
    return _backend.unavailable() if _backend is not None else None


def training_slots() -> int:
    """How many runs train at once: this process's slots, or the cluster's CPUs."""
    return _backend.training_slots() if _backend is not None else TRAINING_SLOTS

QUEUED, LOADING, TRAINING, EVALUATING = "queued", "loading", "training", "evaluating"
DONE, CANCELLED, FAILED = "done", "cancelled", "failed"
RUNNING_STATES = (QUEUED, LOADING, TRAINING, EVALUATING)

_jobs: dict[str, TrainJob] = {}
_forgotten: OrderedDict[str, str] = OrderedDict()  # id -> why it was forgotten (AGE or ROOM)
_started: dict[str, deque[float]] = {}  # visitor -> when they started runs, in the last hour (under _jobs_lock)
_jobs_lock = threading.Lock()
_queue = threading.Condition()  # guards _waiting and _training
_waiting: list[TrainJob] = []  # in order of arrival; the first ones take free slots
_training = 0                    # jobs holding a slot


class TrainJob:
    """One training run of a registry model in its own thread.

    Read `state`, `latest`, `history`, `fraction`, `eta` while it runs; `cancel()`
    stops it within one epoch, keeping what was learned. When `state` is DONE, `model`,
    `result`, `snapshots` and `metrics` hold the outcome; when FAILED, `error` says why in a
    sentence. Once the run is forgotten (`expired`), they are released.
    """

    def __init__(self, model_name: str, recipe: Recipe, config=None, owner: str | None = None,
                 owner_present: Callable[[], bool] | None = None):
        self.id = uuid.uuid4().hex[:12]
        self.model_name = model_name
        self.recipe = recipe
        self.config = config
        self.owner = owner                      # the visitor (browser) that started it; None: anyone's
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
        self.fixed_digits: np.ndarray | None = None  # (10, 28, 28) uint8 originals of the snapshots
        self.model: nn.Module | None = None
        self.result: TrainResult | None = None
        self.metrics: dict | None = None
        self._trained: pipeline.Trained | None = None
        self.error: str | None = None
        self.started = time.time()
        self.finished: float | None = None
        self.kept_bytes = 0                     # what it holds once finished (weights, snapshots, history)
        self.expired = False                    # forgotten: the outcome is released, the link says so
        self._history: list[dict] = []
        # (epochs done, as a fraction; running training loss); an (N, 2) float32 array once finished
        self._live_loss: list[tuple[float, float]] | np.ndarray = []
        self._last_point = -float("inf")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"train-{model_name}-{self.id}", daemon=True)

    # What a copy of the job carries to another process (core.ray_jobs): every attribute, whatever
    # the trainer's events and the history hold, but no thread, lock or callable.
    _LOCAL = ("_thread", "_lock", "_save_lock", "_stop", "_owner_present")

    def __getstate__(self) -> dict:
        state = {k: v for k, v in self.__dict__.items() if k not in self._LOCAL}
        state["_stop_set"] = self._stop.is_set()
        return state

    def __setstate__(self, state: dict) -> None:
        stop_set = state.pop("_stop_set", False)
        self.__dict__.update(state)
        self._lock, self._save_lock, self._stop = threading.Lock(), threading.Lock(), threading.Event()
        self._owner_present, self._thread = None, None
        if stop_set:
            self._stop.set()

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
            if isinstance(self._live_loss, np.ndarray):
                return [tuple(point) for point in self._live_loss.tolist()]
            return list(self._live_loss)

    @property
    def snapshots(self) -> list[np.ndarray]:
        """Once trained: [e] the (10, 28, 28) uint8 reconstructions of the ten fixed digits after
        epoch e, [0] before training; empty before then (the page shows `preview` meanwhile)."""
        result = self.result
        return list(result.snapshots) if result is not None else []

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

    def owned_by(self, visitor: str | None) -> bool:
        """Whether this visitor may cancel and save the run: the one who started it (anyone for a run
        started with no owner, as the command line and tests do)."""
        return self.owner is None or visitor == self.owner

    def adopt(self, visitor: str | None, owner_present: Callable[[], bool] | None) -> bool:
        """A reloaded tab of the visitor who started the run (a new session) takes over watching for
        their presence; True when it did. Another visitor's tab only watches: False."""
        if self.owner is None or visitor != self.owner:
            return False
        self._owner_present, self._owner_gone_since = owner_present, None
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends; True when it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def save(self, name: str, store: visitors.StoreLimits | None = None,
             replace_shipped: bool = False, visitor: str | None = None) -> Path:
        """Save the trained model as a visitor's model named `name` (`core.visitors`); once per run,
        by the visitor who started it, within that visitor's saves an hour and models kept.

        Raises:
            ValueError: expired, nothing trained yet, already saved, another visitor's run, a bad or
                shipped name, no room left, or the visitor's quota; a sentence each.
            FileExistsError: another model has this name.
        """
        with self._save_lock:
            refusal = self.save_refusal(visitor)
            if refusal is not None:
                raise ValueError(refusal)
            path = save_trained(self._trained, self.owner, name, store, replace_shipped)
            self.saved_as = path.name.removesuffix(checkpoints.SUFFIX)
        return path

    def save_refusal(self, visitor: str | None) -> str | None:
        """Why this visitor cannot save the run now, in a sentence; None when they can."""
        if self.expired:
            return ("This run has expired: the server no longer keeps it, so it cannot be saved. "
                    "Train it again to save it.")
        if self.state != DONE or self._trained is None:
            return "There is no trained model to save yet; wait for training to finish."
        if not self.owned_by(visitor):
            return ("Only the browser that started this run can save it; you can watch it "
                    "through its link, and train your own from the sidebar.")
        if self.saved_as is not None:
            return (f"This run is already saved as {self.saved_as!r}; each run is saved once. "
                    "Train again to save another model.")
        return None

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
                                      "seconds": event.elapsed,
                                      **({"positions": event.positions} if event.positions is not None else {})})

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
            self.fixed_digits = to_uint8(data.fixed_x.numpy()[:, 0])  # a copy: nothing of `data` outlives the run
            if self._stop.is_set():
                self._finish(CANCELLED)
                return
            self.state = TRAINING
            self.training_started = time.time()
            trained = pipeline.train_and_evaluate(
                self.model_name, self.recipe, self.config, on_evaluating=lambda: setattr(self, "state", EVALUATING),
                data=data, callbacks=[self._record], should_stop=self._should_stop, preview_seconds=PREVIEW_SECONDS)
            _trim(trained.model)
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
        """Keep only what a finished run shows and saves, count its bytes, then say it ended."""
        with self._lock:
            self._live_loss = np.asarray(self._live_loss, dtype=np.float32).reshape(-1, 2)
            if self.result is not None:
                self._history = self.result.history  # the same rows: one copy
        self.preview = None
        if self.latest is not None and self.latest.snapshot is not None:
            self.latest = dataclasses.replace(self.latest, snapshot=None)
        self.kept_bytes = self._count_bytes()
        self.finished = time.time()
        self.state = state

    def _count_bytes(self) -> int:
        # the timeline's positions: 16 KB an epoch (2,000 points), the run's largest part after its weights
        positions = self.result.positions if self.result is not None else [
            row["positions"] for row in self._history if "positions" in row]
        arrays = [self._live_loss, *(self.snapshots), self.fixed_digits, *positions]
        weights = sum(t.numel() * t.element_size() for t in self.model.state_dict().values()) if self.model else 0
        return (weights + sum(a.nbytes for a in arrays if a is not None)
                + HISTORY_ROW_BYTES * len(self._history))

    def _release(self) -> None:
        """Forgotten: drop the outcome, so a tab still holding the job holds nothing large."""
        with self._save_lock:  # a save under way finishes first
            self.expired = True
            self.model = self.result = self.metrics = self._trained = None
            self.fixed_digits = self.preview = None
            with self._lock:
                self._history, self._live_loss = [], np.zeros((0, 2), np.float32)
            self.kept_bytes = 0


def save_trained(trained: pipeline.Trained, owner: str | None, name: str,
                 store: visitors.StoreLimits | None = None, replace_shipped: bool = False) -> Path:
    """Save a finished run's model as `owner`'s model named `name`, within their quota; the path."""
    store = store or visitors.StoreLimits()
    with visitors.visitor_save(owner, store) as saved:
        path = pipeline.save_for_visitor(trained, name, store, replace_shipped)
        saved(path.name.removesuffix(checkpoints.SUFFIX))
    return path


def _trim(model: nn.Module) -> None:
    """A trained model as a finished run keeps it: evaluation mode, no gradients (a copy of every
    weight after the last step) and no autograd bookkeeping."""
    model.eval()
    for parameter in model.parameters():
        parameter.grad = None
        parameter.requires_grad_(False)


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
    if _backend is not None:
        return _backend.wait_for_new_run()
    with _queue:
        ahead = list(_waiting)
    return _time_until_free(ahead)


def _drop_oldest(runs: list[TrainJob], max_runs: int, max_megabytes: float, young_since: float,
                 dropped: dict[str, str]) -> None:
    """Mark the oldest of `runs` (finished, oldest first) dropped for room until at most `max_runs`
    and `max_megabytes` are left, never one finished after `young_since`."""
    count, total, budget = len(runs), sum(j.kept_bytes for j in runs), max_megabytes * 2**20
    for job in runs:
        if (count <= max_runs and total <= budget) or job.finished >= young_since:
            return
        dropped[job.id] = ROOM
        count, total = count - 1, total - job.kept_bytes


def _forget_old() -> None:
    """Forget finished runs older than `keep_finished_minutes`, then the oldest beyond the bounds on
    finished runs per visitor and server-wide (never one younger than `keep_finished_at_least_minutes`)."""
    now = time.time()
    with _jobs_lock:
        finished = sorted((j for j in _jobs.values() if not j.running and j.finished is not None),
                          key=lambda j: j.finished)
        dropped = {j.id: AGE for j in finished if j.finished < now - _limits.keep_finished_minutes * 60}
        young_since = now - _limits.keep_finished_at_least_minutes * 60
        per_visitor: dict[str, list[TrainJob]] = defaultdict(list)
        for job in finished:
            if job.id not in dropped and job.owner is not None:
                per_visitor[job.owner].append(job)
        for runs in per_visitor.values():
            _drop_oldest(runs, _limits.keep_finished_runs_per_visitor, _limits.keep_finished_megabytes_per_visitor,
                         young_since, dropped)
        _drop_oldest([j for j in finished if j.id not in dropped], _limits.keep_finished_runs,
                     _limits.keep_finished_megabytes, young_since, dropped)
        released = [_jobs.pop(job_id) for job_id in dropped]
        _forgotten.update(dropped)
        while len(_forgotten) > FORGOTTEN_IDS:
            _forgotten.popitem(last=False)
    for job in released:  # outside the table's lock: a save under way may hold the job a second
        job._release()


def _runs_this_hour(visitor: str, now: float) -> deque[float]:
    """When the visitor started runs in the last hour (other visitors' older starts forgotten)."""
    for other in [v for v, times in _started.items() if not times or times[-1] < now - HOUR]:
        del _started[other]
    times = _started.setdefault(visitor, deque())
    while times and times[0] < now - HOUR:
        times.popleft()
    return times


def start(model_name: str, recipe: Recipe, config=None, owner: str | None = None,
          owner_present: Callable[[], bool] | None = None) -> TrainJob:
    """Start training a registry model in a background thread and return its job.

    Args:
        owner: the visitor who starts it (a browser, `ui.session.visitor_id`); one run per visitor at
            a time, `JobLimits.max_runs_per_hour` an hour; only they may cancel or save it.
        owner_present: says whether the tab that started it is still there; a waiting run of a
            visitor gone for `JobLimits.abandon_seconds` is dropped.

    Raises:
        ValueError: the owner already has a run waiting or training, or started the most runs an
            hour allows, or the queue is full; the sentence says what to do.
    """
    if _backend is not None:
        return _backend.start(model_name, recipe, config, owner, owner_present)
    return enqueue(TrainJob(model_name, recipe, config, owner, owner_present))


def enqueue(job: TrainJob) -> TrainJob:
    """Check the limits for a new job, put it last in the queue and start its thread; `start`'s errors."""
    owner = job.owner
    _forget_old()
    with _jobs_lock, _queue:
        if owner is not None and any(j.owner == owner and j.running for j in _jobs.values()):
            raise ValueError("You already have a run waiting or training (perhaps in another tab); cancel "
                             "it or let it finish before starting another.")
        now = time.time()
        started = _runs_this_hour(owner, now) if owner is not None else None
        if started is not None and len(started) >= _limits.max_runs_per_hour:
            wait = max(1, round((started[0] + HOUR - now) / 60))
            raise ValueError(f"You have started {len(started)} runs in the last hour, this server's limit per "
                             f"visitor; you can start another in about {wait} min.")
        if len(_waiting) >= _limits.max_waiting:
            raise ValueError(f"The training queue is full ({len(_waiting)} runs are waiting for this "
                             f"server's {TRAINING_SLOTS} training slot{'s' if TRAINING_SLOTS > 1 else ''}); "
                             "try again in a few minutes.")
        job.started = time.time()  # arrival: in queue order, also for jobs created at once in several threads
        _jobs[job.id] = job
        _waiting.append(job)
        if started is not None:
            started.append(now)
    return job.start()


def get(job_id: str | None) -> TrainJob | None:
    """The job with this id in this process, or None (unknown, forgotten, or the server restarted)."""
    if _backend is not None:
        return _backend.get(job_id)
    _forget_old()
    with _jobs_lock:
        return _jobs.get(job_id) if job_id else None


def forgotten(job_id: str | None) -> bool:
    """True when a run of this id finished here and was forgotten (its time or room ran out)."""
    return why_forgotten(job_id) is not None


def why_forgotten(job_id: str | None) -> str | None:
    """AGE when a run of this id was forgotten after `keep_finished_minutes`, ROOM when dropped
    sooner to keep finished runs within their bounds, None when no such run was forgotten here."""
    if _backend is not None:
        return _backend.why_forgotten(job_id)
    with _jobs_lock:
        return _forgotten.get(job_id) if job_id else None


def running_run_of(visitor: str | None) -> TrainJob | None:
    """The visitor's run waiting or training, in any tab, or None."""
    if _backend is not None:
        return _backend.running_run_of(visitor)
    with _jobs_lock:
        return next((j for j in _jobs.values() if visitor is not None and j.owner == visitor and j.running), None)


def waiting_for_slot() -> int:
    """How many jobs wait for a training slot."""
    if _backend is not None:
        return _backend.waiting_for_slot()
    with _jobs_lock:
        return sum(1 for j in _jobs.values() if j.state == QUEUED)
