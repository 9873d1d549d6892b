"""Checkpoints round-trip exactly, refuse stale, corrupt and hostile files, and write atomically."""

import dataclasses
import json
import pickle
import threading

import pytest
import torch

from core import checkpoints
from core.registry import create_model, get_spec, list_models
from core.trainer import train_model


def _tiny(name="dense"):
    recipe = dataclasses.replace(get_spec(name).recipe, epochs=1)
    return (*train_model(name, recipe, max_batches=2), recipe)


@pytest.mark.parametrize("name", ["dense", "conv", "tied", "vae", "cvae", "classifier"])
def test_round_trip_gives_identical_outputs(checkpoint_dir, name):
    model, result, recipe = _tiny(name)
    path = checkpoints.save(name, model, recipe, result, {"note": 1.0})
    assert path.parent == checkpoint_dir and path.stat().st_size < 5 * 2**20
    loaded, meta = checkpoints.load(name)
    assert not loaded.training
    x, y = torch.rand(3, 1, 28, 28), torch.tensor([1, 2, 3])
    key = "logits" if name == "classifier" else "recon"
    with torch.no_grad():
        assert torch.equal(model.eval()(x, y)[key], loaded(x, y)[key])
    assert meta["model"] == name and meta["epochs"] == 1 and meta["metrics"] == {"note": 1.0}
    assert meta["data_source"].startswith("MNIST") and meta["versions"]["torch"] == torch.__version__
    assert checkpoints.status(name).state == "ok"


def test_missing_checkpoint_says_how_to_train(checkpoint_dir):
    with pytest.raises(FileNotFoundError, match="python -m core.train --model conv"):
        checkpoints.load("conv")
    assert checkpoints.status("conv").state == "missing"


def test_stale_config_is_reported(checkpoint_dir, monkeypatch):
    model, result, recipe = _tiny("dense")
    checkpoints.save("dense", model, recipe, result)
    changed = dataclasses.replace(get_spec("dense"), config=dataclasses.replace(get_spec("dense").config, code_size=16))
    monkeypatch.setitem(__import__("core.registry").registry._REGISTRY, "dense", changed)
    with pytest.raises(checkpoints.StaleCheckpointError, match="other settings"):
        checkpoints.load("dense")
    assert checkpoints.status("dense").state == "stale"


def test_flipped_weight_byte_is_corrupt(checkpoint_dir):
    model, result, recipe = _tiny("dense")
    path = checkpoints.save("dense", model, recipe, result)
    blob = bytearray(path.read_bytes())
    blob[-10] ^= 0x01  # inside the last tensor's data
    path.write_bytes(bytes(blob))
    with pytest.raises(checkpoints.CorruptCheckpointError, match="hash"):
        checkpoints.load("dense")


def test_truncated_file_is_corrupt(checkpoint_dir):
    model, result, recipe = _tiny("dense")
    path = checkpoints.save("dense", model, recipe, result)
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(checkpoints.CorruptCheckpointError, match="damaged"):
        checkpoints.load("dense")
    assert checkpoints.status("dense").state == "corrupt"


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_payload_is_refused_and_never_runs(checkpoint_dir, tmp_path):
    marker = tmp_path / "pwned"
    (checkpoint_dir / "dense.safetensors").write_bytes(pickle.dumps(_Payload(str(marker))))
    torch.save({"weights": _Payload(str(marker))}, checkpoint_dir / "conv.safetensors")
    for name in ("dense", "conv"):
        with pytest.raises(checkpoints.CorruptCheckpointError):
            checkpoints.load(name)
    assert not marker.exists()


@pytest.mark.parametrize("bad", ["../escape", "/etc/passwd", "a/b", "", ".hidden", "x" * 41, "Dense", "name.safetensors"])
def test_names_cannot_escape_the_folder(checkpoint_dir, bad):
    with pytest.raises(ValueError, match="cannot be a checkpoint name"):
        checkpoints.path_for(bad)


def test_existing_name_is_not_overwritten_unless_asked(checkpoint_dir):
    model, result, recipe = _tiny("dense")
    checkpoints.save("mine", model, recipe, result, model_name="dense")
    with pytest.raises(FileExistsError, match="already exists"):
        checkpoints.save("mine", model, recipe, result, model_name="dense")
    checkpoints.save("mine", model, recipe, result, model_name="dense", overwrite=True)
    assert checkpoints.list_checkpoints() == ["mine"]


def test_user_checkpoint_keeps_its_own_config(checkpoint_dir):
    config = dataclasses.replace(get_spec("dense").config, code_size=8)
    model = create_model("dense", config)
    checkpoints.save("small-code", model, get_spec("dense").recipe, model_name="dense")
    loaded, meta = checkpoints.load("small-code")
    assert loaded.code_shape == (8,) and meta["model"] == "dense"
    with pytest.raises(ValueError, match="name of their own"):
        checkpoints.save("dense", model, get_spec("dense").recipe)
    with pytest.raises(ValueError, match="another registry model"):
        checkpoints.save("conv", create_model("dense"), get_spec("dense").recipe, model_name="dense")


def test_concurrent_saves_of_one_name_one_wins_and_the_file_is_whole(checkpoint_dir):
    models = [create_model("dense") for _ in range(2)]
    outcomes = []
    barrier = threading.Barrier(2)

    def save(model):
        barrier.wait()
        try:
            checkpoints.save("race", model, get_spec("dense").recipe, model_name="dense")
            outcomes.append("saved")
        except FileExistsError:
            outcomes.append("refused")

    threads = [threading.Thread(target=save, args=(m,)) for m in models]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused", "saved"]
    _loaded, meta = checkpoints.load("race")
    assert any(checkpoints.weights_hash(m.state_dict()) == meta["sha256"] for m in models)
    assert [p.name for p in (checkpoint_dir / "visitors").iterdir()] == ["race.safetensors"]  # no temp files left


def test_metadata_is_json_with_history(checkpoint_dir):
    model, result, recipe = _tiny("vae")
    checkpoints.save("vae", model, recipe, result)
    meta = checkpoints.read_meta("vae")
    json.dumps(meta)
    assert meta["history"][0]["epoch"] == 1 and {"loss", "recon", "kl"} <= set(meta["history"][0]["val"])
    assert meta["recipe"]["kl_warmup_epochs"] == get_spec("vae").recipe.kl_warmup_epochs


def test_shipped_checkpoints_are_all_there_and_small():
    shipped = checkpoints.checkpoint_dir()
    for name in list_models():
        status = checkpoints.status(name)
        assert status.state == "ok", status.message
        assert (shipped / f"{name}.safetensors").stat().st_size < 5 * 2**20
