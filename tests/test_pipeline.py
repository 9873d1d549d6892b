"""The one train -> evaluate -> save sequence: the CLI, the Train page's jobs and the tests use it."""

import dataclasses
import subprocess
import sys
from pathlib import Path

from core import checkpoints, pipeline
from core.registry import get_spec, list_models

PROJECT = Path(__file__).resolve().parents[1]


def test_the_cli_trains_evaluates_and_saves_through_the_pipeline(checkpoint_dir, monkeypatch, capsys):
    monkeypatch.setitem(__import__("core.registry").registry._REGISTRY, "tied",
                        dataclasses.replace(get_spec("tied"), recipe=dataclasses.replace(get_spec("tied").recipe, epochs=1)))
    assert pipeline.main(["--model", "tied", "--threads", "1"]) == 0
    meta = checkpoints.read_meta("tied")
    assert meta["epochs"] == 1 and "bce" in meta["metrics"]
    assert "saved" in capsys.readouterr().out


def test_cli_dry_run_trains_every_model_and_saves_nothing(checkpoint_dir, capsys):
    assert pipeline.main(["--all", "--dry-run", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    for name in list_models():
        assert f"{name} dry run ok" in out
    assert list(checkpoint_dir.iterdir()) == []


def test_python_m_core_train_runs_the_pipeline_command_line(checkpoint_dir):
    done = subprocess.run([sys.executable, "-m", "core.train", "--model", "dense", "--dry-run", "--threads", "1"],
                          cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "dense dry run ok" in done.stdout and list(checkpoint_dir.iterdir()) == []


def test_all_models_train_longest_first_by_their_last_recorded_time(monkeypatch):
    seconds = {"dense": 60.0, "conv": 500.0, "vae": 160.0}

    def read_meta(name):
        if name not in seconds:
            raise FileNotFoundError(name)
        return {"train_seconds": seconds[name]}

    monkeypatch.setattr(pipeline.checkpoints, "read_meta", read_meta)
    assert pipeline.longest_first(["dense", "vae", "new", "conv"]) == ["new", "conv", "vae", "dense"]
