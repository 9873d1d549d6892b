"""Training runs on a Ray cluster: the job table in a detached actor, each run a Ray task.

    AE_RAY_ADDRESS=ray://head:10001 streamlit run app.py   # README, "Beyond one machine"

The table (`JobTable`, one per cluster, by name) keeps what `core.jobs` keeps in a process: the
queue in arrival order, one run per visitor, the limits, progress, cancel flags, finished runs
dropped by age and room. Its jobs are `core.jobs.TrainJob`s whose thread only waits for a slot and
then for a task: the run itself (`train_run`) asks Ray for 1 CPU (and 1 GPU where the cluster has
one), trains through `core.pipeline`, and reports the trainer's events to the table as they come,
whatever they hold. Every web replica asks the same table, so any replica shows any run by its id,
knows its owner, and a replica's restart loses nothing; a save is claimed in the table (once per
run) and written by the replica into the shared checkpoint folder.

A replica talks to the cluster through `RayJobs`, which `core.jobs.use_backend` installs. When the
cluster cannot be reached, every call raises `jobs.TrainingUnavailable` (a sentence) and the next
call after `RETRY_SECONDS` tries again, so a head that comes back is found without a restart.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import ray
import ray.util.client
import torch
from ray.exceptions import GetTimeoutError, RayError, RayTaskError

from core import PROJECT_DIR, checkpoints, jobs, pipeline, visitors
from core.images import to_uint8
from core.registry import Recipe
from core.trainer import TrainEvent, prepare_data

log = logging.getLogger(__name__)

NAMESPACE = "autoencoder-lab"
TABLE_NAME = "training-runs"   # the detached actor every replica finds by name
CALL_SECONDS = 5.0             # an answer from the table takes milliseconds; this long means the cluster is gone
CONNECT_SECONDS = 20.0         # ray.init against an address that does not answer
RETRY_SECONDS = 5.0            # after a failure, the next call tries to reconnect no sooner
REFRESH_SECONDS = 0.3          # a job's copy on a replica is asked for again when older (the page polls each 1 s)
REPORT_SECONDS = 0.5           # a run sends its events to the table at most this often (and every epoch)
PRESENCE_SECONDS = 1.0         # a replica says whether the owners of its waiting runs are still there
PRESENCE_STALE_SECONDS = 10.0  # no word for this long (the replica died): the owner counts as gone
SAVE_CLAIM_SECONDS = 120.0     # a claimed save not finished in this long (its replica died) may be claimed again
WAITING_PER_CPU = 4            # the queue's bound grows with the cluster: this many waiting runs per CPU
VIEW_LEFT_OUT = ("model", "_trained")  # weights travel once, on a save, not with every progress copy
UNAVAILABLE = ("Training is unavailable for now: this server cannot reach its training cluster. "
               "Every other page works; try again in a minute.")
LOST = "The training cluster restarted and lost this run; start it again from the sidebar."
CRASHED = ("The machine training this run stopped before it finished ({why}); nothing of it was kept. "
           "Start it again from the sidebar.")


# --- on the cluster ------------------------------------------------------------------------------

def _cluster_slots() -> int:
    """Runs that train at once: one per CPU (one per GPU where the cluster has GPUs)."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    return max(1, gpus or int(resources.get("CPU", 1)))


class _Reporter:
    """The trainer's callback and stop check inside a run's task: events go to the table in batches."""

    def __init__(self, table, job_id: str):
        self.table, self.job_id = table, job_id
        self.events: list[TrainEvent] = []
        self.stop = False
        self.last = time.monotonic()

    def record(self, event: TrainEvent) -> None:
        # every epoch event and every picture; of plain batch events, the last one of each flush
        if self.events and self.events[-1].kind == "batch" and self.events[-1].snapshot is None:
            self.events.pop()
        self.events.append(event)
        if event.kind == "epoch" or time.monotonic() - self.last >= REPORT_SECONDS:
            self.flush()

    def flush(self, **changes) -> bool:
        """Send the events and `changes` (job attributes) now; True when the run should stop."""
        events, self.events = self.events, []
        self.stop = ray.get(self.table.report.remote(self.job_id, events, changes))
        self.last = time.monotonic()
        return self.stop

    def should_stop(self) -> bool:
        return self.stop


def train_run(job_id: str, model_name: str, recipe: Recipe, config) -> tuple[str, object]:
    """One run on a cluster worker: ("done", pipeline.Trained), ("cancelled", None) or ("failed", sentence)."""
    torch.set_num_threads(1)
    reporter = _Reporter(ray.get_actor(TABLE_NAME, namespace=NAMESPACE), job_id)
    try:
        data = prepare_data(recipe)
        if reporter.flush(state=jobs.TRAINING, fixed_digits=to_uint8(data.fixed_x.numpy()[:, 0])):
            return "cancelled", None
        trained = pipeline.train_and_evaluate(
            model_name, recipe, config, on_evaluating=lambda: reporter.flush(state=jobs.EVALUATING), data=data,
            callbacks=[reporter.record], should_stop=reporter.should_stop, preview_seconds=jobs.PREVIEW_SECONDS)
        reporter.flush()
    except (ValueError, FileNotFoundError) as exc:  # bad settings or missing data: say so
        return "failed", str(exc)
    except Exception as exc:  # the task is the last place to catch it; the page shows it
        log.exception("training run %s (%s) failed", job_id, model_name)
        return "failed", f"Training stopped by an unexpected error ({type(exc).__name__}: {exc})."
    jobs._trim(trained.model)
    return "done", trained


class ClusterJob(jobs.TrainJob):
    """A job in the table: its thread waits for a slot in the table's queue, then for its task."""

    def _run(self) -> None:
        if not self._wait_for_slot():
            self._finish(jobs.CANCELLED)
            return
        try:
            self.state, self.slot_taken = jobs.LOADING, time.time()  # slot_taken: when its turn came (benchmarks)
            gpus = 1 if ray.cluster_resources().get("GPU", 0) else 0
            task = ray.remote(train_run).options(num_cpus=1, num_gpus=gpus, max_retries=0)
            outcome, value = ray.get(task.remote(self.id, self.model_name, self.recipe, self.config))
            if outcome == "failed":
                self.error = value
                self._finish(jobs.FAILED)
            elif outcome == "cancelled":
                self._finish(jobs.CANCELLED)
            else:
                self._trained = value
                self.model, self.result, self.metrics = value.model, value.result, value.metrics
                self._finish(jobs.DONE)
        except RayError as exc:  # the worker or its machine died: nothing half-kept, the visitor starts again
            log.warning("training run %s (%s) lost its worker: %s", self.id, self.model_name, type(exc).__name__)
            self.error = CRASHED.format(why=_crash_reason(exc))
            self._finish(jobs.FAILED)
        except Exception as exc:  # the thread is the last place to catch it; the page shows it
            log.exception("training run %s (%s) failed in the table", self.id, self.model_name)
            self.error = f"Training stopped by an unexpected error ({type(exc).__name__}: {exc})."
            self._finish(jobs.FAILED)
        finally:
            with jobs._queue:
                jobs._training -= 1
                jobs._queue.notify_all()


def _crash_reason(exc: RayError) -> str:
    name = type(exc).__name__
    if "Node" in name:
        return "its machine left the cluster"
    if "OutOfMemory" in name:
        return "it ran out of memory"
    return "its worker process ended"


class JobTable:
    """The cluster's job table: `core.jobs`'s queue and table, living in this actor's process."""

    def __init__(self):
        self._seen: dict[str, tuple[float, bool]] = {}  # job id -> (when, owner present), from the replicas
        self._saving: dict[str, float] = {}             # job id -> when a replica claimed its save
        self._guard = threading.Lock()
        self.configure(jobs.JobLimits(), WAITING_PER_CPU)

    def configure(self, limits: jobs.JobLimits, waiting_per_cpu: int) -> None:
        """The operator's limits, the queue's bound grown to `waiting_per_cpu` x the cluster's CPUs."""
        self._asked, self._waiting_per_cpu = limits, waiting_per_cpu
        self._resize()

    def _resize(self) -> None:
        jobs.TRAINING_SLOTS = _cluster_slots()
        cpus = int(ray.cluster_resources().get("CPU", 1))
        jobs.configure(dataclasses.replace(self._asked, max_waiting=max(self._asked.max_waiting,
                                                                         self._waiting_per_cpu * cpus)))

    def limits(self) -> jobs.JobLimits:
        return jobs.limits()

    def training_slots(self) -> int:
        return jobs.TRAINING_SLOTS

    def start(self, model_name: str, recipe: Recipe, config, owner: str | None, watched: bool):
        """("ok", view) or ("refused", sentence)."""
        self._resize()  # machines may have joined or left
        job = ClusterJob(model_name, recipe, config, owner)
        if watched:
            self._seen[job.id] = (time.time(), True)
            job._owner_present = lambda: self._present(job.id)
        try:
            jobs.enqueue(job)
        except ValueError as exc:
            return "refused", str(exc)
        return "ok", self._view(job)

    def _present(self, job_id: str) -> bool:
        when, present = self._seen.get(job_id, (0.0, False))
        return present and time.time() - when < PRESENCE_STALE_SECONDS

    def presence(self, reports: dict[str, bool]) -> list[str]:
        """Replicas say whether owners of waiting runs are there; returns the ids no longer waiting."""
        now, done = time.time(), []
        for job_id, present in reports.items():
            job = jobs.get(job_id)
            if job is None or job.state != jobs.QUEUED:
                done.append(job_id)
                self._seen.pop(job_id, None)
            else:
                self._seen[job_id] = (now, present)
        return done

    def _view(self, job: jobs.TrainJob) -> tuple[dict, int | None, float]:
        state = {k: v for k, v in job.__getstate__().items() if k not in VIEW_LEFT_OUT}
        return state, job.queue_position, job.expected_wait()

    def view(self, job_id: str):
        job = jobs.get(job_id)
        return None if job is None else self._view(job)

    def running_run_of(self, visitor: str | None):
        job = jobs.running_run_of(visitor)
        return None if job is None else self._view(job)

    def why_forgotten(self, job_id: str | None) -> str | None:
        return jobs.why_forgotten(job_id)

    def waiting_for_slot(self) -> int:
        return jobs.waiting_for_slot()

    def wait_for_new_run(self) -> float:
        return jobs.wait_for_new_run()

    def report(self, job_id: str, events: list[TrainEvent], changes: dict) -> bool:
        """A run's news from its task; True when it should stop (cancelled, capped, or forgotten)."""
        job = jobs.get(job_id)
        if job is None:
            return True
        if changes.get("state") == jobs.TRAINING:
            job.training_started = time.time()
        for name, value in changes.items():
            setattr(job, name, value)
        for event in events:
            job._record(event)
        return job.training_started is not None and job._should_stop()

    def cancel(self, job_id: str, reason: str) -> None:
        job = jobs.get(job_id)
        if job is not None:
            job.cancel(reason)

    def model(self, job_id: str):
        job = jobs.get(job_id)
        return None if job is None else job.model

    def claim_save(self, job_id: str, visitor: str | None):
        """("ok", (owner, trained)) for the one replica that saves the run, else ("refused", sentence)."""
        job = jobs.get(job_id)
        if job is None:
            return "refused", ("This run has expired: the server no longer keeps it, so it cannot be saved. "
                               "Train it again to save it.")
        deadline = time.time() + SAVE_CLAIM_SECONDS
        while True:  # a save under way on another replica ends first; then it is saved, or free again
            with self._guard:
                claimed = self._saving.get(job_id)
                if claimed is None or time.time() - claimed > SAVE_CLAIM_SECONDS:
                    refusal = job.save_refusal(visitor)
                    if refusal is not None:
                        return "refused", refusal
                    self._saving[job_id] = time.time()
                    return "ok", (job.owner, job._trained)
            if time.time() > deadline:
                return "refused", "Another tab is saving this run now; try again in a minute."
            time.sleep(0.05)

    def finish_save(self, job_id: str, saved_as: str | None) -> None:
        """The claiming replica saved the run as `saved_as` (None: it failed, the run may be saved again)."""
        with self._guard:
            self._saving.pop(job_id, None)
            job = jobs.get(job_id)
            if job is not None and saved_as is not None:
                job.saved_as = saved_as


# --- on a web replica ----------------------------------------------------------------------------

def _job_copy(state: dict) -> jobs.TrainJob:
    job = jobs.TrainJob.__new__(jobs.TrainJob)
    job.__setstate__(dict(state))
    return job


class RemoteJob:
    """A run in the cluster's table as the page sees it: the `TrainJob` attributes, from a copy asked
    for again when older than REFRESH_SECONDS; control goes to the table."""

    def __init__(self, backend: RayJobs, job_id: str, view):
        self._backend, self.id = backend, job_id
        self._model = None
        self._take(view)

    def _take(self, view) -> None:
        state, self._position, self._wait = view
        self._job, self._fetched = _job_copy(state), time.monotonic()

    def _fresh(self) -> jobs.TrainJob:
        if time.monotonic() - self._fetched >= REFRESH_SECONDS:
            view = self._backend.call("view", self.id)
            if view is not None:
                self._take(view)
            elif self._job.running:  # the table restarted with the head: the run is gone
                self._job.state, self._job.error, self._job.finished = jobs.FAILED, LOST, time.time()
            else:
                self._job.expired, self._job.result, self._job.metrics = True, None, None
        return self._job

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._fresh(), name)

    @property
    def queue_position(self) -> int | None:
        self._fresh()
        return self._position

    def expected_wait(self) -> float:
        self._fresh()
        return self._wait

    @property
    def model(self):
        if self._model is None and self._fresh().state == jobs.DONE:
            self._model = self._backend.call("model", self.id)
        return self._model

    def cancel(self, reason: str = "cancelled") -> None:
        self._backend.call("cancel", self.id, reason)
        self._fetched = -float("inf")

    def adopt(self, visitor: str | None, owner_present: Callable[[], bool] | None) -> bool:
        if self.owner is None or visitor != self.owner:
            return False
        self._backend.watch(self.id, owner_present)
        return True

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._fresh().running:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(REFRESH_SECONDS)
        return True

    def save(self, name: str, store: visitors.StoreLimits | None = None,
             replace_shipped: bool = False, visitor: str | None = None) -> Path:
        """As `TrainJob.save`: the table lets one replica save the run once; this one writes the file."""
        outcome, value = self._backend.call("claim_save", self.id, visitor)
        if outcome == "refused":
            raise ValueError(value)
        owner, trained = value
        saved_as = None
        try:
            path = jobs.save_trained(trained, owner, name, store, replace_shipped)
            saved_as = path.name.removesuffix(checkpoints.SUFFIX)
        finally:
            self._backend.call("finish_save", self.id, saved_as)
            self._fetched = -float("inf")
        return path


class RayJobs:
    """The backend `core.jobs` hands its calls to when the operator names a Ray cluster."""

    def __init__(self, address: str, limits: jobs.JobLimits, waiting_per_cpu: int = WAITING_PER_CPU):
        self.address, self._limits, self._waiting_per_cpu = address, limits, waiting_per_cpu
        self._lock = threading.Lock()
        self._table = None
        self._next_try = 0.0
        self._connecting = False
        self._attempted = threading.Event()  # set when no connection attempt is under way
        self._attempted.set()
        self._said_down = False              # the log says so once per outage, not every RETRY_SECONDS
        self._closed = False
        self._watched: dict[str, Callable[[], bool]] = {}  # waiting runs whose owner's tab is here
        self._heartbeat: threading.Thread | None = None

    # connection ------------------------------------------------------------------------------

    def _connect(self):
        """Connect (again) and find or create the table; None, logged once per outage, when unreachable."""
        _disconnect()
        # A Ray client waits this long for a lost head before it gives up (30 s by default), and every
        # call meanwhile with it: the Train page would hang that long before saying so.
        os.environ.setdefault("RAY_CLIENT_RECONNECT_GRACE_PERIOD", str(round(CALL_SECONDS)))
        try:
            ray.init(self.address, namespace=NAMESPACE, logging_level=logging.WARNING,
                     runtime_env={"env_vars": {"PYTHONPATH": str(PROJECT_DIR),
                                               **{k: v for k, v in os.environ.items() if k.startswith("AE_")}}})
            table = ray.remote(JobTable).options(
                name=TABLE_NAME, namespace=NAMESPACE, lifetime="detached", get_if_exists=True, num_cpus=0,
                max_concurrency=64).remote()
            ray.get(table.configure.remote(self._limits, self._waiting_per_cpu), timeout=CALL_SECONDS * 3)
        except (ConnectionError, RayError, RuntimeError, ValueError, TimeoutError) as exc:
            log.debug("connecting to %s failed: %r", self.address, exc)
            if not self._said_down:
                log.warning("training cluster %s unreachable (%s: %s); the Train page says training is "
                            "unavailable until it answers", self.address, type(exc).__name__, str(exc)[:200])
                self._said_down = True
            _disconnect()
            return None
        log.warning("training runs go to the Ray cluster at %s", self.address)
        self._said_down = False
        return table

    def _attempt(self) -> None:
        table = self._connect()
        with self._lock:
            self._table, self._connecting = (None if self._closed else table), False
            self._next_try = time.monotonic() + RETRY_SECONDS
            if table is not None and self._heartbeat is None:
                self._heartbeat = threading.Thread(target=self._beat, name="ray-presence", daemon=True)
                self._heartbeat.start()
        self._attempted.set()

    def _ensure(self, wait: float = 2.0):
        """The table; TrainingUnavailable at once when down (a reconnection is tried in the background,
        at most every RETRY_SECONDS, so a page never waits for an address that does not answer)."""
        with self._lock:
            if self._closed:
                raise jobs.TrainingUnavailable(UNAVAILABLE)
            if self._table is not None:
                return self._table
            if not self._connecting and time.monotonic() >= self._next_try:
                self._connecting = True
                self._attempted.clear()
                threading.Thread(target=self._attempt, name="ray-connect", daemon=True).start()
        self._attempted.wait(wait)
        table = self._table
        if table is None:
            raise jobs.TrainingUnavailable(UNAVAILABLE)
        return table

    def call(self, method: str, *args):
        """One call to the table; TrainingUnavailable when the cluster does not answer."""
        table = self._ensure()
        try:
            return ray.get(getattr(table, method).remote(*args), timeout=CALL_SECONDS)
        except RayTaskError:  # the table's own bug: loud, not "unavailable"
            raise
        except (ConnectionError, GetTimeoutError, RayError) as exc:
            with self._lock:
                if self._table is table:
                    log.warning("training cluster %s stopped answering (%s); retrying every %g s",
                                self.address, type(exc).__name__, RETRY_SECONDS)
                    self._table, self._next_try, self._said_down = None, time.monotonic() + RETRY_SECONDS, True
            raise jobs.TrainingUnavailable(UNAVAILABLE) from None

    def _beat(self) -> None:
        """Tell the table, every PRESENCE_SECONDS, whether the owners of waiting runs here are still there."""
        while not self._closed:
            time.sleep(PRESENCE_SECONDS)
            watched = dict(self._watched)
            if not watched or self._table is None:
                continue
            try:
                done = self.call("presence", {job_id: bool(present()) for job_id, present in watched.items()})
            except jobs.TrainingUnavailable:
                continue
            for job_id in done:
                self._watched.pop(job_id, None)

    def watch(self, job_id: str, owner_present: Callable[[], bool] | None) -> None:
        if owner_present is not None:
            self._watched[job_id] = owner_present

    # core.jobs's functions ---------------------------------------------------------------------

    def unavailable(self, wait: float = 2.0) -> str | None:
        """A sentence when the table does not answer (asked once: a head that stopped is noticed here)."""
        try:
            self._ensure(wait)
            self.call("training_slots")
        except jobs.TrainingUnavailable as exc:
            return str(exc)
        return None

    def configure(self, limits: jobs.JobLimits, waiting_per_cpu: int = WAITING_PER_CPU) -> None:
        """New limits for the table (and for a table made again after the head restarts)."""
        self._limits, self._waiting_per_cpu = limits, waiting_per_cpu
        self.call("configure", limits, waiting_per_cpu)

    def close(self) -> None:
        """Stop using the cluster: no more calls, reconnections or presence reports from this process."""
        with self._lock:
            self._closed, self._table = True, None
        self._attempted.wait(CONNECT_SECONDS)
        _disconnect()

    def training_slots(self) -> int:
        return self.call("training_slots")

    def start(self, model_name: str, recipe: Recipe, config=None, owner: str | None = None,
              owner_present: Callable[[], bool] | None = None) -> RemoteJob:
        outcome, value = self.call("start", model_name, recipe, config, owner, owner_present is not None)
        if outcome == "refused":
            raise ValueError(value)
        job = RemoteJob(self, value[0]["id"], value)
        self.watch(job.id, owner_present)
        return job

    def get(self, job_id: str | None) -> RemoteJob | None:
        view = self.call("view", job_id) if job_id else None
        return None if view is None else RemoteJob(self, job_id, view)

    def why_forgotten(self, job_id: str | None) -> str | None:
        return self.call("why_forgotten", job_id) if job_id else None

    def running_run_of(self, visitor: str | None) -> RemoteJob | None:
        view = self.call("running_run_of", visitor) if visitor else None
        return None if view is None else RemoteJob(self, view[0]["id"], view)

    def waiting_for_slot(self) -> int:
        return self.call("waiting_for_slot")

    def wait_for_new_run(self) -> float:
        return self.call("wait_for_new_run")

    def limits(self) -> jobs.JobLimits:
        return self.call("limits")


def _disconnect() -> None:
    """Forget a connection, also one whose cluster went away: a Ray client keeps a broken one
    registered (and refuses a new `ray.init`) until it is disconnected."""
    if ray.util.client.num_connected_contexts() > 0:
        ray.util.client.ray.disconnect()
    if ray.is_initialized():
        ray.shutdown()


def use_cluster(address: str, limits: jobs.JobLimits, waiting_per_cpu: int = WAITING_PER_CPU) -> RayJobs:
    """Send this process's training runs to the Ray cluster at `address` (`ray://host:10001`, or `auto`)."""
    backend = RayJobs(address, limits, waiting_per_cpu)
    jobs.use_backend(backend)
    backend.unavailable(wait=0)  # start connecting: an unreachable cluster is logged at start-up
    return backend
