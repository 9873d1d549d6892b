"""Visitors' models: their own folder, normalised names that never collide, bounded count and size,
and shipped models that no visitor's save can replace unless the operator allows it."""

import dataclasses
import hashlib
import os

import pytest
import torch

from core import checkpoints, visitors
from core.registry import create_model, get_spec, list_models
from tests.visitor_models import save_visitor_model


def save(text, model=None, **options):
    return save_visitor_model(text, model, **options)


def shipped_copy(checkpoint_dir, name="dense"):
    """A 'shipped' checkpoint in the test folder, and its SHA-256."""
    path = checkpoints.save(name, create_model(name), get_spec(name).recipe)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("text, name", [
    ("  My Dense ", "my-dense"), ("ＭＹ　ＤＥＮＳＥ", "my-dense"), ("run\t2", "run-2"), ("a_b", "a_b")])
def test_names_are_normalised_for_case_spaces_and_unicode(text, name):
    assert visitors.normalise_name(text) == name


@pytest.mark.parametrize("text", ["", "   ", "../x", "é-model", "a/b", "x" * 41, None])
def test_bad_names_get_a_sentence(text):
    with pytest.raises(ValueError, match="name"):
        visitors.normalise_name(text)


def test_a_visitor_model_lives_apart_from_the_shipped_ones(checkpoint_dir):
    path = save("Mine")
    assert path == checkpoint_dir / "visitors" / "mine.safetensors"
    assert checkpoints.path_for("mine") == path and checkpoints.path_for("dense").parent == checkpoint_dir
    assert checkpoints.list_visitor_models() == ["mine"] and checkpoints.list_shipped() == []
    _, meta = checkpoints.load("mine")
    assert meta["model"] == "dense" and checkpoints.status("mine").state == "ok"


@pytest.mark.parametrize("text", ["dense", "Dense ", "DENSE", "ｄｅｎｓｅ", "vae-one", "VAE One", "dense-mse"])
def test_shipped_names_are_refused_and_the_shipped_file_is_untouched(checkpoint_dir, text):
    path, digest = shipped_copy(checkpoint_dir)
    with pytest.raises(ValueError, match="shipped model, which visitors cannot replace"):
        save(text)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert checkpoints.list_visitor_models() == []


def test_a_registry_name_in_the_visitors_folder_is_never_read(checkpoint_dir):
    path, digest = shipped_copy(checkpoint_dir)
    (checkpoint_dir / "visitors").mkdir()
    (checkpoint_dir / "visitors" / "dense.safetensors").write_bytes(b"planted")
    assert checkpoints.list_checkpoints() == ["dense"]
    assert checkpoints.load("dense")[1]["sha256"] == checkpoints.read_meta("dense")["sha256"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_the_operator_can_allow_replacing_a_shipped_model_under_its_exact_name(checkpoint_dir):
    path, digest = shipped_copy(checkpoint_dir)
    with pytest.raises(ValueError, match="too close to the shipped 'dense_mse'"):
        save("dense-mse", replace_shipped=True)
    trained = create_model("dense")
    with torch.no_grad():
        next(trained.parameters()).add_(0.01)  # another model than the shipped one
    assert save("Dense ", trained, replace_shipped=True) == path
    assert hashlib.sha256(path.read_bytes()).hexdigest() != digest


def test_another_visitors_name_is_refused_after_normalising(checkpoint_dir):
    first = save("my-model")
    before = first.read_bytes()
    for text in ("my-model", "My Model", "MY_MODEL", "ｍｙ-ｍｏｄｅｌ"):
        with pytest.raises(FileExistsError, match="'my-model' is already saved"):
            save(text)
    assert first.read_bytes() == before and checkpoints.list_visitor_models() == ["my-model"]


def test_a_full_folder_refuses_with_a_sentence(checkpoint_dir):
    limits = visitors.StoreLimits(max_models=2)
    save("one", limits=limits)
    save("two", limits=limits)
    with pytest.raises(ValueError, match=r"room for visitors' models is full \(2 of 2 models"):
        save("three", limits=limits)
    assert checkpoints.list_visitor_models() == ["one", "two"]


def test_the_size_bound_counts_bytes(checkpoint_dir):
    one_model_mb = save("one").stat().st_size / 2**20
    limits = visitors.StoreLimits(max_megabytes=one_model_mb * 1.5)
    with pytest.raises(ValueError, match="full"):
        save("two", limits=limits)
    with pytest.raises(ValueError, match="more than the"):
        save("huge", create_model("deep"), limits=visitors.StoreLimits(max_megabytes=0.01))


def test_the_operator_can_let_the_least_recently_used_model_make_room(checkpoint_dir, monkeypatch):
    limits = visitors.StoreLimits(max_models=2, drop_oldest_unused=True)
    old, newer = save("old", limits=limits), save("newer", limits=limits)
    for path, age in ((old, 3000), (newer, 2000)):  # both unused for longer than keep_used_minutes
        stamp = path.stat().st_mtime_ns - age * 10**9
        os.utime(path, ns=(stamp, stamp))
    monkeypatch.setattr(visitors, "_last_marked", {})
    visitors.mark_used("old")  # opened a moment ago: "newer" is now the one unused longest
    save("third", limits=limits)
    assert checkpoints.list_visitor_models() == ["old", "third"]


def test_marking_a_model_used_keeps_its_file_stamp(checkpoint_dir):
    path = save("kept")
    before = path.stat().st_mtime_ns
    visitors.mark_used("kept")
    visitors.mark_used("dense")  # shipped: nothing to do
    assert path.stat().st_mtime_ns == before


def test_status_reads_the_header_only(checkpoint_dir, monkeypatch):
    path = save("header-only")
    monkeypatch.setattr(checkpoints, "load_safetensors", lambda blob: pytest.fail("status read the weights"))
    status = checkpoints.status("header-only")
    assert status.state == "ok" and status.meta["model"] == "dense"
    path.write_bytes(path.read_bytes()[:-1])  # one byte short of what the header describes
    assert checkpoints.status("header-only").state == "corrupt"


def test_the_listing_stamp_changes_when_a_model_is_saved_changed_in_place_or_removed(checkpoint_dir):
    before = checkpoints.listing_stamp()
    path = save("stamped")
    after = checkpoints.listing_stamp()
    assert after != before
    path.write_bytes(path.read_bytes()[:1000])  # cut short in place: the folder itself does not change
    cut = checkpoints.listing_stamp()
    assert cut != after
    path.unlink()
    assert checkpoints.listing_stamp() not in (after, cut)


def test_every_shipped_name_is_known_to_the_collision_check():
    for name in list_models():
        assert visitors._shipped_twin(visitors.normalise_name(name.replace("_", " ").upper())) == name


def test_settings_that_differ_from_the_registry_cannot_replace_a_shipped_model(checkpoint_dir):
    shipped_copy(checkpoint_dir)
    small = create_model("dense", dataclasses.replace(get_spec("dense").config, code_size=8))
    with pytest.raises(ValueError, match="name of their own"):
        save("dense", small, replace_shipped=True)
