"""Training runs in a background thread: the web page polls their progress and can cancel them.

A job outlives the page script that started it (a rerun never stops it) and is kept in a
process-wide table by id, so a reloaded browser tab finds its run again. At most
`TRAINING_SLOTS` jobs train at once; the others wait their turn, so interactive sessions on a
small machine always keep a core. The run itself is `core.pipeline` (train, then evaluate); this module
only runs it in a thread, records what it reports, and saves the result on request.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from torch import nn

from core import pipeline
from core.registry import Recipe
from core.train import TrainEvent, TrainResult, prepare_data

log = logging.getLogger(__name__)

# One core trains; the rest serve the pages (this machine has 2).
TRAINING_SLOTS = max(1, (os.cpu_count() or 2) - 1)
TRAINING_NICENESS = 10   # the training thread yields the CPU to page reruns on a busy machine
KEEP_FINISHED = 32       # finished jobs kept for reloaded tabs; older ones are forgotten

QUEUED, LOADING, TRAINING, EVALUATING = "queued", "loading", "training", "evaluating"
DONE, CANCELLED, FAILED = "done", "cancelled", "failed"
RUNNING_STATES = (QUEUED, LOADING, TRAINING, EVALUATING)

_slots = threading.BoundedSemaphore(TRAINING_SLOTS)
_jobs: dict[str, "TrainJob"] = {}
_jobs_lock = threading.Lock()


class TrainJob:
    """One training run of a registry model in its own thread.

    Read `state`, `latest`, `history`, `snapshots`, `fraction`, `eta` while it runs; `cancel()`
    stops it within one epoch, keeping what was learned. When `state` is DONE, `model`,
    `result` and `metrics` hold the outcome; when FAILED, `error` says why in a sentence.
    """

    def __init__(self, model_name: str, recipe: Recipe, config=None):
        self.id = uuid.uuid4().hex[:12]
        self.model_name = model_name
        self.recipe = recipe
        self.config = config
        self.state = QUEUED
        self.latest: TrainEvent | None = None   # the last batch or epoch event
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

    # --- control ----------------------------------------------------------------------------

    def start(self) -> "TrainJob":
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Stop after the current batch; the epochs so far (and that partial one) are kept."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends; True when it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def save(self, name: str, overwrite: bool = False) -> Path:
        """Save the trained model as checkpoint `name`; returns its path.

        Raises:
            ValueError: nothing trained yet, a bad name, or a registry name with other settings.
            FileExistsError: the name is taken and overwrite is False.
        """
        if self.state != DONE or self.model is None:
            raise ValueError("There is no trained model to save yet; wait for training to finish.")
        return pipeline.save(self._trained, name, overwrite=overwrite)

    # --- the thread -------------------------------------------------------------------------

    def _record(self, event: TrainEvent) -> None:
        self.latest = event
        if event.kind == "epoch":
            with self._lock:
                self._history.append({"epoch": event.epoch, "train": event.train, "val": event.val,
                                      "seconds": event.elapsed})
                if event.snapshot is not None:
                    self._snapshots.append(event.snapshot)

    def _run(self) -> None:
        _lower_thread_priority()
        slots = _slots  # release the very semaphore acquired, even if the module's is replaced
        while not slots.acquire(timeout=0.2):  # wait for a free slot, but stay cancellable
            if self._stop.is_set():
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
            trained = pipeline.train_and_evaluate(
                self.model_name, self.recipe, self.config, on_evaluating=lambda: setattr(self, "state", EVALUATING),
                data=data, callbacks=[self._record], should_stop=self._stop.is_set)
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
            slots.release()

    def _finish(self, state: str) -> None:
        self.finished = time.time()
        self.state = state


def _lower_thread_priority() -> None:
    """Raise this thread's nice value so page reruns go first (Linux: nice is per thread)."""
    if sys.platform.startswith("linux"):
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + TRAINING_NICENESS))


def start(model_name: str, recipe: Recipe, config=None) -> TrainJob:
    """Start training a registry model in a background thread and return its job."""
    job = TrainJob(model_name, recipe, config)
    with _jobs_lock:
        finished = sorted((j for j in _jobs.values() if not j.running), key=lambda j: j.finished)
        for old in finished[:max(0, len(finished) - KEEP_FINISHED + 1)]:
            del _jobs[old.id]
        _jobs[job.id] = job
    return job.start()


def get(job_id: str | None) -> TrainJob | None:
    """The job with this id in this process, or None (unknown, forgotten, or the server restarted)."""
    with _jobs_lock:
        return _jobs.get(job_id) if job_id else None


def waiting_for_slot() -> int:
    """How many jobs of this process wait for a training slot."""
    with _jobs_lock:
        return sum(1 for j in _jobs.values() if j.state == QUEUED)
