"""The training queue shared by many visitors: first come first served, one run per visitor, a
bounded queue with an expected wait, a cap on a run's minutes, waiting runs of visitors who left
dropped, finished runs never evicted by others' while younger than the minimum."""

import dataclasses
import time

import pytest

from core import jobs
from core.registry import get_spec

QUICK = dataclasses.replace(get_spec("dense").recipe, epochs=1, train_digits=256)
LONG = dataclasses.replace(get_spec("dense").recipe, epochs=500)


@pytest.fixture
def one_slot(monkeypatch):
    """One training slot and the default limits; every job started through `run` is stopped after."""
    monkeypatch.setattr(jobs, "TRAINING_SLOTS", 1)
    before = jobs.limits()
    started = []

    def run(recipe=QUICK, **options):
        job = jobs.start("dense", recipe, **options)
        started.append(job)
        return job

    yield run
    for job in started:
        job.cancel()
    for job in started:
        assert job.wait(timeout=120)
    jobs.configure(before)


def training(job):
    """Wait until a job trains (holds the slot)."""
    deadline = time.time() + 120
    while job.state != jobs.TRAINING or job.latest is None:
        assert job.running and time.time() < deadline, job.error
        time.sleep(0.05)
    return job


def test_the_queue_drains_in_order_of_arrival_with_positions_and_waits(one_slot):
    first = training(one_slot(LONG))
    waiting = [one_slot() for _ in range(4)]
    assert [job.queue_position for job in waiting] == [1, 2, 3, 4]
    waits = [job.expected_wait() for job in waiting]
    assert 0 < waits[0] < waits[1] < waits[2] < waits[3]
    assert jobs.wait_for_new_run() > waits[3]
    first.cancel()
    for job in waiting:
        assert job.wait(timeout=300) and job.state == jobs.DONE
    starts = [job.training_started for job in waiting]
    assert starts == sorted(starts)
    assert all(job.queue_position is None and job.expected_wait() == 0 for job in waiting)


def test_one_run_per_visitor_at_a_time(one_slot):
    mine = one_slot(LONG, owner="session-a")
    with pytest.raises(ValueError, match="already have a run waiting or training"):
        one_slot(owner="session-a")
    other = one_slot(owner="session-b")
    assert other.queue_position == 1 or other.running
    mine.cancel()
    assert mine.wait(timeout=120)
    one_slot(owner="session-a")  # the visitor's run ended: another may start


def test_a_full_queue_refuses_with_a_sentence(one_slot):
    jobs.configure(dataclasses.replace(jobs.limits(), max_waiting=2))
    training(one_slot(LONG))
    one_slot(), one_slot()
    with pytest.raises(ValueError, match=r"training queue is full \(2 runs are waiting"):
        one_slot()


def test_a_run_stops_at_the_cap_keeping_what_it_learnt(one_slot):
    jobs.configure(dataclasses.replace(jobs.limits(), max_run_minutes=0.03))  # 1.8 s
    job = one_slot(LONG)
    assert job.wait(timeout=300)
    assert job.state == jobs.DONE and job.capped and job.result.cancelled
    assert 1 <= job.result.epochs_done < 500 and job.metrics["bce"] < 0.7


def test_a_waiting_run_of_a_visitor_who_left_is_dropped(one_slot):
    jobs.configure(dataclasses.replace(jobs.limits(), abandon_seconds=0.3))
    first = training(one_slot(LONG))
    gone = one_slot(owner="gone", owner_present=lambda: False)
    here = one_slot(owner="here", owner_present=lambda: True)
    assert gone.wait(timeout=30)
    assert gone.state == jobs.CANCELLED and gone.stop_reason == "left"
    assert here.state == jobs.QUEUED and here.queue_position == 1
    assert first.running  # a training run is not dropped: it keeps its slot until it ends or hits the cap


def test_a_reloaded_tab_adopts_its_waiting_run(one_slot):
    jobs.configure(dataclasses.replace(jobs.limits(), abandon_seconds=0.5))
    training(one_slot(LONG))
    job = one_slot(owner="browser-a", owner_present=lambda: False)  # its first tab is closed
    assert not job.adopt("browser-b", lambda: True)  # another browser's tab only watches
    assert job.adopt("browser-a", lambda: True)  # a new tab of the same browser
    assert not job.wait(timeout=1.5)
    assert job.state == jobs.QUEUED and job.owner == "browser-a"


def test_young_finished_runs_are_never_evicted_by_others(one_slot):
    others = []
    for _ in range(100):  # finished runs of other visitors, beyond the count bound, all young
        job = jobs.TrainJob("dense", QUICK)
        job.state, job.finished = jobs.DONE, time.time()
        jobs._jobs[job.id] = job
        others.append(job)
    mine = one_slot()
    assert mine.wait(timeout=300)
    assert all(jobs.get(job.id) is job for job in [*others, mine])
    mine.finished -= jobs.limits().keep_finished_minutes * 60 + 1  # an hour later
    assert jobs.get(mine.id) is None and jobs.forgotten(mine.id)
    assert not jobs.forgotten("never-was")
    for job in others:
        jobs._jobs.pop(job.id, None)
