"""Training timelines: recorded without touching the run, small, tied to the weights, stable."""

import dataclasses

import numpy as np
import pytest
import torch

from core import checkpoints, pipeline, timeline
from core.registry import get_spec, list_models
from core.trainer import train_model


def quick(name: str, epochs: int = 2, **changes):
    return dataclasses.replace(get_spec(name).recipe, epochs=epochs, train_digits=256, **changes)


def weights(model) -> str:
    return checkpoints.weights_hash(model.state_dict())


@pytest.mark.parametrize("name", ["ae2", "conv", "vae"])
def test_recording_leaves_the_weights_bit_for_bit_the_same(name):
    recorded_model, recorded = train_model(name, quick(name))
    plain_model, plain = train_model(name, quick(name), record_timeline=False)
    assert weights(recorded_model) == weights(plain_model)
    assert len(recorded.positions) == recorded.epochs_done + 1 and not plain.positions


def test_epoch_events_carry_positions_of_two_thousand_balanced_digits():
    events = []
    _, result = train_model("ae20", quick("ae20"), callbacks=[events.append])
    epochs = [e for e in events if e.kind == "epoch"]
    assert [e.positions.shape for e in epochs] == [(2000, 2)] * 2
    assert all(e.positions is None for e in events if e.kind == "batch")
    assert np.bincount(result.timeline_labels, minlength=10).tolist() == [200] * 10
    assert result.timeline_method == timeline.PCA_PROCRUSTES


def test_a_two_dimensional_code_is_drawn_as_itself():
    model, result = train_model("ae2", quick("ae2", epochs=1))
    digits = timeline.points("mnist")
    with torch.no_grad():
        codes = model.encode(digits.floats()).numpy()
    assert result.timeline_method == timeline.CODE
    np.testing.assert_allclose(result.positions[-1], codes, rtol=1e-5, atol=1e-5)


def test_procrustes_undoes_a_turn_and_a_mirror():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(500, 2)) * [3.0, 1.0]
    target -= target.mean(0)
    angle = 2.0
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ np.diag([1, -1])
    np.testing.assert_allclose(timeline.procrustes_onto(target @ turn, target), target, atol=1e-9)


def test_consecutive_epochs_differ_little_when_the_weights_barely_moved():
    model, _ = train_model("dense", quick("dense", epochs=1))
    recorder = timeline.Recorder("mnist")
    before = recorder.positions(model)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 1e-4 * parameter.abs().mean())
    after = recorder.positions(model)
    spread = np.linalg.norm(before - before.mean(0), axis=1).mean()
    moved = np.linalg.norm(after - before, axis=1).mean()
    assert 0 < moved < 0.01 * spread


def test_knn_accuracy_reads_clusters_and_not_noise():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(10), 50)
    clusters = np.stack([np.cos(labels), np.sin(labels)], 1) * 10 + rng.normal(size=(500, 2)) * 0.1
    assert timeline.knn_accuracy(clusters, labels) == 1.0
    assert timeline.knn_accuracy(rng.normal(size=(500, 2)), labels) < 0.3


def test_a_long_run_keeps_at_most_max_frames_with_the_first_and_last():
    for epochs in (1, 40, 100, 150, 200, 500):
        kept = timeline.kept_frames(epochs)
        assert len(kept) <= timeline.MAX_FRAMES and kept[0] == 0 and kept[-1] == epochs
        assert np.all(np.diff(kept) > 0)
        if epochs < timeline.MAX_FRAMES:
            assert kept.tolist() == list(range(epochs + 1))
    assert timeline.kept_frames(timeline.MAX_FRAMES - 1).tolist() == list(range(timeline.MAX_FRAMES))


def test_the_largest_timeline_fits_its_file_budget():
    _, result = train_model("conv", quick("conv", epochs=1))
    recorded = timeline.from_result(result, "mnist", result.timeline_labels, result.timeline_indices,
                                    result.timeline_method)
    frames = timeline.MAX_FRAMES
    rng = np.random.default_rng(2)
    # positions as random as numbers get; reconstructions drifting from the untrained to the trained ones
    share = np.linspace(0, 1, frames)[:, None, None, None]
    drift = (1 - share) * recorded.recon[0] + share * recorded.recon[-1]
    full = dataclasses.replace(
        recorded, epochs=np.arange(frames), positions=rng.normal(size=(frames, 2000, 2)).astype(np.float32),
        recon=np.clip(drift, 0, 255).astype(np.uint8), knn=np.zeros(frames, np.float32))
    blob = timeline.to_bytes(full)
    assert len(blob) <= timeline.MAX_FILE_BYTES
    back = timeline.from_bytes(blob)
    span = full.positions.max() - full.positions.min()
    assert np.abs(back.positions - full.positions).max() <= span / 0xFFFF
    assert back.recon.dtype == np.uint8 and back.recon.shape == (frames, 10, 28, 28)


def test_a_saved_checkpoint_keeps_its_timeline_tied_to_its_weights(checkpoint_dir):
    trained = pipeline.train_and_evaluate("ae2", quick("ae2"))
    pipeline.save(trained)
    sha = checkpoints.read_meta("ae2")["sha256"]
    assert timeline.timeline_file("ae2", sha).is_file()
    loaded = timeline.load("ae2")
    assert loaded.sha256 == sha and loaded.frames == 3 and loaded.method == timeline.CODE
    np.testing.assert_allclose(loaded.val_loss, [row["val"]["loss"] for row in trained.result.history], rtol=1e-6)
    assert timeline.has_timeline("ae2")

    retrained = pipeline.train_and_evaluate("ae2", quick("ae2", seed=1))
    pipeline.save(retrained, overwrite=True)
    new_sha = checkpoints.read_meta("ae2")["sha256"]
    assert new_sha != sha
    assert [p.name for p in timeline.timeline_files("ae2")] == [timeline.timeline_file("ae2", new_sha).name]


def test_a_stale_or_missing_timeline_is_refused_in_a_sentence(checkpoint_dir):
    trained = pipeline.train_and_evaluate("ae2", quick("ae2", epochs=1))
    pipeline.save(trained)
    sha = checkpoints.read_meta("ae2")["sha256"]
    old = timeline.timeline_file("ae2", sha).read_bytes()
    pipeline.save(pipeline.train_and_evaluate("ae2", quick("ae2", epochs=1, seed=3)), overwrite=True)
    new_sha = checkpoints.read_meta("ae2")["sha256"]
    timeline.timeline_file("ae2", new_sha).write_bytes(old)  # another run's file under this run's name
    with pytest.raises(timeline.StaleTimelineError, match="other weights"):
        timeline.load("ae2")
    timeline.timeline_file("ae2", new_sha).unlink()
    with pytest.raises(FileNotFoundError, match="no training timeline"):
        timeline.load("ae2")
    assert not timeline.has_timeline("ae2")
    timeline.timeline_file("ae2", new_sha).write_bytes(b"not a timeline")
    with pytest.raises(ValueError, match="not a training timeline"):
        timeline.load("ae2")


def test_a_run_without_recording_saves_no_timeline(checkpoint_dir):
    trained = pipeline.train_and_evaluate("ae2", quick("ae2", epochs=1), record_timeline=False)
    pipeline.save(trained)
    assert not timeline.has_timeline("ae2") and timeline.timeline_files("ae2") == []


@pytest.mark.parametrize("name", list_models())
def test_every_shipped_model_has_the_timeline_of_its_own_weights(name):
    meta = checkpoints.read_meta(name)
    recorded = timeline.load(name)  # refuses a file of other weights, a damaged or an oversized one
    assert recorded.sha256 == meta["sha256"]
    assert timeline.timeline_file(name, meta["sha256"]).stat().st_size <= timeline.MAX_FILE_BYTES
    assert recorded.epochs[0] == 0 and recorded.epochs[-1] == meta["epochs"]  # untrained, then to the last epoch
    assert recorded.positions.shape[1:] == (2000, 2) and recorded.recon.shape[1:] == (10, 28, 28)
    # the run it recorded is the one the checkpoint keeps: the same last test loss
    assert recorded.val_loss[-1] == pytest.approx(meta["history"][-1]["val"]["loss"], rel=1e-3)  # kept rounded there
