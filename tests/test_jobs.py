"""Background training jobs: they finish, cancel early keeping the weights, queue, fail politely, save once."""

import dataclasses
import threading

import pytest
import torch

from core import checkpoints, jobs
from core.registry import create_model, get_spec


def dense_recipe(**changes):
    return dataclasses.replace(get_spec("dense").recipe, **{"epochs": 2, **changes})


@pytest.fixture(scope="module")
def finished_job():
    job = jobs.start("dense", dense_recipe())
    assert job.wait(timeout=300)
    return job


def stop(job):
    job.cancel()
    assert job.wait(timeout=120)


def test_short_job_completes_with_history_snapshots_and_metrics(finished_job):
    job = finished_job
    assert job.state == jobs.DONE and job.error is None
    assert [row["epoch"] for row in job.history] == [1, 2]
    assert len(job.snapshots) == 3 and job.snapshots[0].shape == (10, 28, 28)  # epoch 0 (untrained), 1, 2
    assert job.fixed_digits.shape == (10, 28, 28)
    assert job.fraction == 1.0 and not job.running
    assert job.result.epochs_done == 2 and not job.result.cancelled
    assert 0 < job.metrics["bce"] < 0.7  # better than guessing 0.5 everywhere (BCE 0.69)
    assert jobs.get(job.id) is job
    assert job.live_loss and job.live_loss[0][0] <= 1
    assert job.preview is None and job.latest.snapshot is None  # live previews are dropped once finished


def test_cancel_stops_within_an_epoch_and_keeps_what_was_learned():
    recipe = dense_recipe(epochs=200)
    job = jobs.start("dense", recipe)
    try:
        while not job.history:  # let it learn one epoch
            assert job.running, job.error
            job.wait(timeout=0.1)
    finally:
        stop(job)
    assert job.state == jobs.DONE and job.result.cancelled
    assert 1 <= job.result.epochs_done < 200
    torch.manual_seed(recipe.seed)
    untrained = create_model("dense")  # the same seed gives the job's initial weights
    trained = job.model.state_dict()
    assert any(not torch.equal(trained[k], v) for k, v in untrained.state_dict().items())
    assert job.metrics["bce"] < 0.7


def test_a_second_job_waits_for_the_slot_and_can_be_cancelled_while_waiting(monkeypatch):
    monkeypatch.setattr(jobs, "TRAINING_SLOTS", 1)
    first = jobs.start("dense", dense_recipe(epochs=200))
    second = jobs.start("dense", dense_recipe())
    try:
        assert not second.wait(timeout=1.0)
        assert second.state == jobs.QUEUED and jobs.waiting_for_slot() >= 1
        second.cancel()
        assert second.wait(timeout=5)
        assert second.state == jobs.CANCELLED and second.model is None
        assert first.running
    finally:
        stop(first)
        stop(second)
    with pytest.raises(ValueError, match="no trained model"):
        second.save("never-trained")


def test_a_failing_job_reports_a_sentence():
    job = jobs.start("dense", dense_recipe(dataset="cifar"))
    assert job.wait(timeout=60)
    assert job.state == jobs.FAILED
    assert "Unknown dataset 'cifar'" in job.error


def test_a_diverging_run_fails_with_what_to_change_not_an_unexpected_error():
    job = jobs.start("vae", dataclasses.replace(get_spec("vae").recipe, epochs=1, optimizer="adam", lr=3.0))
    assert job.wait(timeout=300)
    assert job.state == jobs.FAILED
    assert job.error.startswith("The run diverged at epoch 1") and "lower the learning rate" in job.error


def test_two_concurrent_saves_of_one_run_save_it_once_and_the_file_loads(checkpoint_dir):
    job = jobs.start("dense", dense_recipe(epochs=1, train_digits=500))
    assert job.wait(timeout=300) and job.state == jobs.DONE
    barrier = threading.Barrier(2)
    outcomes = []

    def save(name):
        barrier.wait()
        try:
            outcomes.append(job.save(name))
        except ValueError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=save, args=(name,)) for name in ("mine", "again")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refused = [o for o in outcomes if isinstance(o, ValueError)]
    assert len(refused) == 1 and "already saved as" in str(refused[0])
    saved = [p for p in outcomes if not isinstance(p, Exception)]
    assert len(saved) == 1 and job.saved_as == saved[0].stem
    model, meta = checkpoints.load(job.saved_as)
    assert meta["model"] == "dense" and meta["epochs"] == 1 and meta["metrics"]["bce"] == job.metrics["bce"]
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(model(x)["recon"], job.model(x)["recon"])
    assert [p.name for p in (checkpoint_dir / "visitors").iterdir()] == [saved[0].name]  # no temp files left
    assert not [p for p in checkpoint_dir.rglob(".*")]  # no temp files left, of the checkpoint or its thumbnail
    with pytest.raises(ValueError, match="already saved"):
        job.save("third-name")


def test_user_settings_need_their_own_name(finished_job, checkpoint_dir):
    job = jobs.start("dense", dense_recipe(epochs=1), dataclasses.replace(get_spec("dense").config, code_size=8))
    assert job.wait(timeout=300) and job.state == jobs.DONE
    with pytest.raises(ValueError, match="shipped model"):
        job.save("dense")
    with pytest.raises(ValueError, match="need a name of their own"):
        job.save("dense", replace_shipped=True)
    with pytest.raises(ValueError, match="cannot be a checkpoint name"):
        job.save("../dense")
    job.save("dense-8")
    model, meta = checkpoints.load("dense-8")
    assert model.config.code_size == 8 and meta["model"] == "dense"
