"""A server whose Ray cluster does not answer at start-up: one line in its log, the Train page says
training is unavailable, every other page works. (Nothing listens at the address: no Ray process
starts, so this runs outside the Ray tests' network namespace.)"""

import logging

import pytest

from core import jobs
from tests.pages import open_app_page
from tests.ray_cluster import wait_until

NOBODY = "ray://127.0.0.1:1"  # a loopback port where nothing listens


@pytest.fixture
def unreachable_cluster(caplog):
    from core import ray_jobs

    before = jobs.limits()
    caplog.set_level(logging.WARNING, logger="core.ray_jobs")
    backend = ray_jobs.use_cluster(NOBODY, before)
    try:
        yield backend
    finally:
        backend.close()
        jobs.use_backend(None)


def test_an_unreachable_cluster_is_logged_once_and_only_training_waits(unreachable_cluster, caplog):
    said = lambda: [r for r in caplog.records if "unreachable" in r.getMessage()]  # noqa: E731
    wait_until(said, 180, "the failed connection is logged")
    assert NOBODY in said()[0].getMessage()
    sentence = jobs.unavailable()
    assert sentence.startswith("Training is unavailable for now")
    with pytest.raises(jobs.TrainingUnavailable):
        jobs.start("dense", None, owner="me")
    train = open_app_page("views/train.py")
    assert [w.value for w in train.warning] == [sentence]
    assert not train.button and not train.sidebar.selectbox  # nothing to press while nothing can train
    other = open_app_page("views/generate.py")
    assert not other.exception and not other.warning
    assert len(said()) == 1  # retried since, quietly: one line per outage
