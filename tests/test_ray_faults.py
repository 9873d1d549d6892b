"""Faults of a Ray cluster, on a real head inside the Ray tests' network namespace
(tests/test_ray_network.py): a worker killed mid-run, the head stopped while serving and back."""

from __future__ import annotations

import dataclasses
import os
import signal

import pytest

from core import jobs
from core.registry import get_spec
from tests.pages import open_app_page
from tests.ray_cluster import ADDRESS, RayHead, in_own_network, wait_until

pytestmark = pytest.mark.skipif(not in_own_network(), reason="runs in its own network namespace: test_ray_network.py")

QUICK = dataclasses.replace(get_spec("dense").recipe, epochs=1, train_digits=256)
LONG = dataclasses.replace(get_spec("dense").recipe, epochs=500)


@pytest.fixture
def cluster():
    """A 2-CPU head and this process's runs sent to it; `cluster.head` may be stopped and replaced."""
    from core import ray_jobs

    before = jobs.limits()
    state = type("Cluster", (), {})()
    state.head = RayHead()
    state.backend = ray_jobs.use_cluster(ADDRESS, before)
    try:
        wait_until(lambda: state.backend.unavailable() is None, 240, "the Ray head answers")
        yield state
    finally:
        state.backend.close()
        jobs.use_backend(None)
        state.head.stop()
        jobs.configure(before)


def test_a_worker_killed_mid_run_fails_the_run_with_a_sentence_and_the_visitor_starts_again(cluster, checkpoint_dir):
    job = jobs.start("dense", LONG, owner="me")
    wait_until(lambda: job.state == jobs.TRAINING and job.latest is not None, 180, "the run trains")
    workers = wait_until(lambda: cluster.head.workers_running("train_run"), 30, "its worker is found")
    assert len(workers) == 1
    os.kill(workers[0], signal.SIGKILL)
    assert job.wait(timeout=120)
    assert job.state == jobs.FAILED and job.error.startswith("The machine training this run stopped")
    assert job.model is None and job.result is None
    with pytest.raises(ValueError, match="no trained model"):
        job.save("half", visitor="me")
    assert not list(checkpoint_dir.rglob("*.safetensors"))  # nothing half-saved
    again = jobs.start("dense", QUICK, owner="me")  # one run per visitor: the failed one no longer counts
    assert again.wait(timeout=180) and again.state == jobs.DONE


def test_the_head_stopped_makes_training_unavailable_and_its_return_brings_it_back(cluster):
    cluster.head.stop()
    sentence = wait_until(cluster.backend.unavailable, 60, "the stop is noticed")
    assert sentence.startswith("Training is unavailable for now")
    train = open_app_page("views/train.py")
    assert any("Training is unavailable for now" in w.value for w in train.warning)
    assert not train.button  # no Train button while nothing can train
    other = open_app_page("views/generate.py")  # the other pages work
    assert not other.exception and not other.warning
    cluster.head = RayHead()  # the head comes back; the server is not restarted
    wait_until(lambda: cluster.backend.unavailable() is None, 240, "the head is found again")
    job = jobs.start("dense", QUICK, owner="me")
    assert job.wait(timeout=180) and job.state == jobs.DONE
    train = open_app_page("views/train.py")
    assert not train.warning and train.button(key="trn_start")
