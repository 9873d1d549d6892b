"""One contract for training runs, whichever backend trains them: this process's threads, or a Ray
cluster (a real head started here; that variant runs inside its own network namespace, started by
tests/test_ray_network.py). Start, progress, cancel, the cap, an abandoned waiting run, one save,
the limits, a failing run, a finished run forgotten by age."""

from __future__ import annotations

import dataclasses
import threading

import pytest
import torch

from core import checkpoints, jobs
from core.registry import get_spec
from tests.ray_cluster import ADDRESS, RayHead, in_own_network, wait_until

QUICK = dataclasses.replace(get_spec("dense").recipe, epochs=1, train_digits=256)
SHORT = dataclasses.replace(get_spec("dense").recipe, epochs=2, train_digits=2000)
LONG = dataclasses.replace(get_spec("dense").recipe, epochs=500)


@pytest.fixture(scope="module", params=["ray"] if in_own_network() else ["threads"])
def backend(request):
    """The backend runs go to: "threads" with one training slot, or "ray" on a 2-CPU head."""
    before = jobs.limits()
    if request.param == "threads":
        slots, jobs.TRAINING_SLOTS = jobs.TRAINING_SLOTS, 1
        yield request.param
        jobs.TRAINING_SLOTS = slots
    else:
        from core import ray_jobs

        head = RayHead()
        cluster = ray_jobs.use_cluster(ADDRESS, before)
        try:
            wait_until(lambda: cluster.unavailable() is None, 240, "the Ray head answers")
            yield request.param
        finally:
            cluster.close()
            jobs.use_backend(None)
            head.stop()
    jobs.configure(before)


def set_limits(waiting_per_cpu: int = 4, **changes) -> None:
    """The operator's limits, as the server hands them to the backend at start-up."""
    limits = dataclasses.replace(jobs.JobLimits(), **changes)
    jobs.configure(limits)
    if jobs.backend() is not None:
        jobs.backend().configure(limits, waiting_per_cpu)


@pytest.fixture
def runs(backend):
    """`run(recipe, **options)` starts a dense run; every run started so is stopped after the test."""
    set_limits()
    started = []

    def run(recipe=QUICK, model="dense", **options):
        job = jobs.start(model, recipe, **options)
        started.append(job)
        return job

    yield run
    for job in started:
        job.cancel()
    for job in started:
        assert job.wait(timeout=180)
    set_limits()


def training(job):
    """Wait until a run trains (it holds a slot and has reported a batch)."""
    wait_until(lambda: (job.state == jobs.TRAINING and job.latest is not None) or not job.running, 180,
               "the run trains")
    assert job.running, job.error
    return job


def fill_slots(run) -> list:
    """Runs that hold every training slot, so the next ones wait."""
    return [training(run(LONG, owner=f"busy-{i}")) for i in range(jobs.training_slots())]


def test_a_run_reports_progress_then_its_outcome(runs):
    job = runs(SHORT)
    assert jobs.get(job.id).id == job.id
    seen = set()
    while job.running:
        seen.add(job.state)
        assert 0.0 <= job.fraction <= 1.0
        job.wait(timeout=0.2)
    assert jobs.TRAINING in seen
    assert job.state == jobs.DONE and job.error is None
    assert [row["epoch"] for row in job.history] == [1, 2]
    assert len(job.snapshots) == 3 and job.snapshots[0].shape == (10, 28, 28)
    assert job.fixed_digits.shape == (10, 28, 28) and job.fixed_digits.dtype.name == "uint8"
    assert job.fraction == 1.0 and job.live_loss and job.preview is None
    assert 0 < job.metrics["bce"] < 0.7
    again = jobs.get(job.id)  # what another tab, or another replica, finds by the run's link
    assert again.state == jobs.DONE and again.history == job.history


def test_cancel_stops_a_run_keeping_what_it_learned(runs):
    job = runs(LONG)
    wait_until(lambda: job.history or not job.running, 180, "one epoch learnt")
    job.cancel()
    assert job.wait(timeout=120)
    assert job.state == jobs.DONE and job.result.cancelled and job.cancel_requested
    assert 1 <= job.result.epochs_done < LONG.epochs
    assert job.metrics["bce"] < 0.7


def test_a_run_stops_at_the_cap_keeping_what_it_learnt(runs):
    set_limits(max_run_minutes=0.05)  # 3 s
    job = runs(LONG)
    assert job.wait(timeout=180)
    assert job.state == jobs.DONE and job.capped and job.result.cancelled
    assert 1 <= job.result.epochs_done < LONG.epochs


def test_the_queue_keeps_arrival_order_one_run_per_visitor_and_a_bound(runs):
    fill_slots(runs)
    set_limits(max_waiting=2, waiting_per_cpu=1)
    first, second = runs(QUICK, owner="a"), runs(QUICK, owner="b")
    assert [first.queue_position, second.queue_position] == [1, 2]
    assert 0 < first.expected_wait() < second.expected_wait()
    assert jobs.waiting_for_slot() == 2 and jobs.running_run_of("a").id == first.id
    with pytest.raises(ValueError, match="already have a run waiting or training"):
        runs(QUICK, owner="a")
    with pytest.raises(ValueError, match=r"training queue is full \(2 runs are waiting"):
        runs(QUICK, owner="c")
    second.cancel()
    assert second.wait(timeout=30) and second.state == jobs.CANCELLED
    assert first.queue_position == 1


def test_a_waiting_run_of_a_visitor_who_left_is_dropped(runs):
    busy = fill_slots(runs)
    set_limits(abandon_seconds=0.5)
    gone = runs(QUICK, owner="gone", owner_present=lambda: False)
    here = runs(QUICK, owner="here", owner_present=lambda: True)
    assert gone.wait(timeout=60)
    assert gone.state == jobs.CANCELLED and gone.stop_reason == "left"
    assert here.state == jobs.QUEUED and here.queue_position == 1
    assert all(job.running for job in busy)  # a training run keeps its slot


def test_a_run_is_saved_once_by_its_owner_only(runs, checkpoint_dir):
    job = runs(QUICK, owner="me")
    assert job.wait(timeout=180) and job.state == jobs.DONE
    with pytest.raises(ValueError, match="Only the browser that started this run"):
        job.save("theirs", visitor="someone-else")
    barrier, outcomes = threading.Barrier(2), []

    def save(name):
        barrier.wait()
        try:
            outcomes.append(job.save(name, visitor="me"))
        except ValueError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=save, args=(name,)) for name in ("mine", "again")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refused = [o for o in outcomes if isinstance(o, ValueError)]
    saved = [o for o in outcomes if not isinstance(o, ValueError)]
    assert len(refused) == 1 and "already saved as" in str(refused[0])
    assert len(saved) == 1 and jobs.get(job.id).saved_as == saved[0].stem
    model, meta = checkpoints.load(saved[0].stem)
    assert meta["model"] == "dense" and meta["metrics"]["bce"] == job.metrics["bce"]
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(model(x)["recon"], job.model(x)["recon"])
    assert not list(checkpoint_dir.rglob(".*"))  # no temporary files left


def test_a_failing_run_says_why_in_a_sentence(runs):
    job = runs(dataclasses.replace(QUICK, dataset="cifar"), owner="me")
    assert job.wait(timeout=120)
    assert job.state == jobs.FAILED and "Unknown dataset 'cifar'" in job.error
    assert jobs.running_run_of("me") is None  # the visitor can start again
    with pytest.raises(ValueError, match="no trained model"):
        job.save("never-trained", visitor="me")


def test_a_finished_run_is_forgotten_after_its_time(runs):
    job = runs(QUICK)
    assert job.wait(timeout=180) and job.state == jobs.DONE
    set_limits(keep_finished_minutes=0.01)  # 0.6 s
    wait_until(lambda: jobs.get(job.id) is None, 30, "the run is forgotten")
    assert jobs.why_forgotten(job.id) == jobs.AGE
