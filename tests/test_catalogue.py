"""The home page's catalogue: checkpoint metadata read from the header alone, and the thumbnails
`python -m core.thumbnails` makes from the checkpoints."""

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from core import catalogue, thumbnails
from core.registry import list_models

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints"


def test_every_shipped_checkpoint_has_the_thumbnail_of_its_current_weights():
    """Fails after retraining until `python -m core.thumbnails` has been run."""
    for name in list_models():
        meta = catalogue.read_header(SHIPPED / f"{name}.safetensors")
        record = catalogue.read_thumbnail(name, meta["sha256"])
        assert record is not None, f"{name}: run python -m core.thumbnails"
        assert record["sha256"] == meta["sha256"] and record["image"].startswith("data:image/png;base64,")
    assert catalogue.test_row()["indices"][:3] == [3, 2, 1]  # the first 0, 1 and 2 of the test split


def test_header_gives_the_metadata_and_headline_without_the_weights():
    meta = catalogue.read_header(SHIPPED / "conv.safetensors")
    assert meta["model"] == "conv" and meta["parameters"] > 0
    assert catalogue.checkpoint_headline(meta).startswith("BCE ")
    explained = catalogue.headline_help(meta)
    assert "Lower is better" in explained and "0.094 (Keras blog)" in explained


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("AE_CHECKPOINT_DIR", str(tmp_path))
    for name in ("dense", "classifier"):
        shutil.copy2(SHIPPED / f"{name}.safetensors", tmp_path)
    return tmp_path


def test_a_checkpoint_cut_short_gets_a_sentence(folder):
    path = folder / "dense.safetensors"
    path.write_bytes(path.read_bytes()[:-100])  # the header is whole, the weights are not
    card = next(c for c in catalogue.cards() if c.name == "dense")
    assert card.meta is None and "'dense' is damaged" in card.problem


def test_thumbnails_are_made_per_weights_and_old_ones_removed(folder):
    (folder / "thumbnails").mkdir()
    old = folder / "thumbnails" / "dense-000000000000.json"
    old.write_text("{}")
    thumbnails.make_all(log=lambda line: None)
    assert not old.exists()
    cards = {c.name: c for c in catalogue.cards()}
    assert cards["dense"].thumbnail["kind"] == "ae"
    assert re.search(r": (\d ){9}\d\.$", cards["classifier"].thumbnail["caption"])  # its reading, right or wrong
    assert json.loads((folder / "thumbnails" / catalogue.TEST_ROW_FILE).read_text())["sizes"]["test"] == 10_000


def test_the_denoisers_headline_names_the_noise_it_was_measured_at():
    meta = catalogue.read_header(SHIPPED / "denoising.safetensors")
    assert catalogue.checkpoint_headline(meta).startswith("PSNR ") and "at noise 0.5" in catalogue.checkpoint_headline(meta) and "Higher is better" in catalogue.headline_help(meta)


def test_visitors_models_get_cards_of_their_own_newest_first_and_bounded(folder):
    visitors = folder / "visitors"
    visitors.mkdir()
    for i in range(catalogue.HOME_VISITOR_MODELS + 3):
        copy = visitors / f"mine-{i:02d}.safetensors"
        shutil.copy2(SHIPPED / "dense.safetensors", copy)
        stamp = 1_700_000_000 + i
        os.utime(copy, (stamp, stamp))
    cards = catalogue.cards()
    yours = [card.name for card in cards if card.is_yours]
    assert sorted(card.name for card in cards if not card.is_yours) == ["classifier", "dense"]
    assert len(yours) == catalogue.HOME_VISITOR_MODELS and "mine-12" in yours and "mine-00" not in yours
    assert catalogue.visitor_model_count() == catalogue.HOME_VISITOR_MODELS + 3
