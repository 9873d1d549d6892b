"""Shared test setup: one torch thread, and a temporary checkpoint folder on demand."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture
def checkpoint_dir(tmp_path, monkeypatch):
    """An empty checkpoint folder that core.checkpoints uses for the test."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    monkeypatch.setenv("AE_CHECKPOINT_DIR", str(folder))
    return folder
