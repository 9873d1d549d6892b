"""Faults while the app runs: a checkpoint damaged or deleted under it, two people saving one name
at once, an empty checkpoint folder. The app explains
what happened in a sentence, offers the fix, and every other page and session keeps working.

Damage is done to a temporary copy of checkpoints/ (AE_CHECKPOINT_DIR); the real folder is
never touched.
"""

import dataclasses
import os
import shutil
import threading
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import checkpoints, jobs
from core.registry import create_model, get_spec
from ui import pages

PROJECT = Path(__file__).resolve().parents[1]
APP = str(PROJECT / "app.py")
SHIPPED = PROJECT / "checkpoints"
PAGE_FILES = ["app.py", *(page.path for page in pages.PAGES)]


@pytest.fixture
def checkpoint_copy(tmp_path, monkeypatch):
    """A copy of the shipped checkpoints that the test may damage; the app reads it instead."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for path in SHIPPED.glob(f"*{checkpoints.SUFFIX}"):
        shutil.copy2(path, folder / path.name)
    monkeypatch.setenv("AE_CHECKPOINT_DIR", str(folder))
    return folder


def damage(path: Path) -> None:
    """Cut a checkpoint file short, as an interrupted copy leaves it."""
    path.write_bytes(path.read_bytes()[:1000])


def open_page(page: str, before_run=None) -> AppTest:
    """A fresh session on `page` (a file of pages.PAGES, or "app.py" for home), after its first run."""
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    if page != "app.py":
        at.switch_page(page)
        if before_run is not None:
            before_run(at)
        at.run()
    return at


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def retrain_links(at: AppTest) -> list[str]:
    """Labels of the links to the Train page."""
    return [link.proto.label for link in at.get("page_link") if link.proto.page == "Train"]


# --- a damaged checkpoint ------------------------------------------------------------------------

@pytest.mark.parametrize("page, victim", [
    ("views/reconstruction.py", "conv"),
    ("views/denoising.py", "unet"),
    ("views/latent_space.py", "ae20"),
    ("views/generate.py", "vae2"),
])
def test_a_damaged_checkpoint_is_explained_with_a_way_to_retrain_it(checkpoint_copy, page, victim):
    damage(checkpoint_copy / f"{victim}.safetensors")
    at = open_page(page)
    assert not at.exception, at.exception[0].value
    assert any(f"'{victim}' is damaged" in message for message in texts(at.error))
    assert f"Retrain {victim} on the Train page" in retrain_links(at)


def test_home_and_anomaly_pages_say_how_to_get_a_damaged_model_back(checkpoint_copy):
    for victim in ("dense", "vae_one"):
        damage(checkpoint_copy / f"{victim}.safetensors")
    home = open_page("app.py")
    assert not home.exception
    assert any("'dense' is damaged" in message and "retrain" in message for message in texts(home.warning))
    anomaly = open_page("views/anomaly.py")
    assert not anomaly.exception
    assert any("train `vae_one` on the Train page" in message for message in texts(anomaly.warning))


def test_a_checkpoint_damaged_between_two_runs_of_a_session(checkpoint_copy):
    """The session already holds the model; on its next run the page notices the new file."""
    at = open_page("views/reconstruction.py", lambda at: at.session_state.__setitem__("rec_models", ["dense", "conv"]))
    assert not at.exception and not at.error
    damage(checkpoint_copy / "conv.safetensors")
    at.run()
    assert not at.exception, at.exception[0].value
    assert any("'conv' is damaged" in message for message in texts(at.error))
    labels = [m.value for m in at.markdown if m.value.startswith("**dense · BCE")]
    assert labels, "the undamaged model's row is gone"


def test_other_pages_and_sessions_keep_working_beside_a_damaged_checkpoint(checkpoint_copy):
    damage(checkpoint_copy / "conv.safetensors")
    damage(checkpoint_copy / "vae.safetensors")
    pages = ("views/latent_space.py", "views/generate.py", "views/anomaly.py", "views/train.py")
    sessions = [open_page(page) for page in pages]
    for at in sessions:
        at.run()  # a second run of each, after every other session has run
    for at in sessions:
        assert not at.exception, at.exception[0].value
        assert not at.error, at.error[0].value


# --- a checkpoint deleted under a running session ------------------------------------------------

def test_a_checkpoint_deleted_while_a_session_uses_it(checkpoint_copy):
    at = open_page("views/generate.py")
    assert not at.exception and not at.error
    (checkpoint_copy / "vae2.safetensors").unlink()
    at.run()
    assert not at.exception
    assert any("no checkpoint 'vae2'" in message for message in texts(at.error))
    assert "Retrain vae2 on the Train page" in retrain_links(at)


def test_a_picked_model_deleted_while_the_session_has_it_selected(checkpoint_copy):
    at = open_page("views/denoising.py", lambda at: at.session_state.__setitem__("den_model", "conv"))
    assert not at.exception
    (checkpoint_copy / "conv.safetensors").unlink()
    at.run()
    assert not at.exception, at.exception[0].value
    assert at.selectbox(key="den_model").value != "conv"  # the picker falls back to a model that exists


def test_a_model_deleted_from_a_multiple_choice_drops_out_and_the_others_stay(checkpoint_copy):
    at = open_page("views/reconstruction.py")
    assert "vae" in at.multiselect(key="rec_models").value
    (checkpoint_copy / "vae.safetensors").unlink()
    at.run()
    assert not at.exception, at.exception[0].value
    assert at.multiselect(key="rec_models").value == ["dense", "deep", "conv"]
    assert [m.value.split(" ·")[0] for m in at.markdown if " · BCE" in m.value] == ["**dense", "**deep", "**conv"]


# --- two people save the same name at once ---------------------------------------------------------

@pytest.fixture(scope="module")
def two_finished_jobs():
    recipe = dataclasses.replace(get_spec("dense").recipe, epochs=1)
    started = [jobs.start("dense", recipe) for _ in range(2)]
    for job in started:
        assert job.wait(timeout=600) and job.state == jobs.DONE, job.error
    return started


def test_two_sessions_saving_one_name_one_wins_and_the_other_is_told(checkpoint_dir, two_finished_jobs):
    """Two people press Save with the same name. The pages run one after the other here: AppTests in
    threads trip CPython 3.11's AST compiler ("AST constructor recursion depth mismatch"), which the
    server, compiling each page once under a lock, never does. The race on the file itself, both
    saves at the same instant, is tested in test_checkpoints.py and test_jobs.py."""
    sessions = []
    for job in two_finished_jobs:  # each person's tab shows their own finished run
        at = open_page("views/train.py", lambda at, job=job: at.query_params.__setitem__("job", job.id))
        assert at.session_state["trn_job"] is job
        at.text_input(key="trn_save_name").set_value("class-demo")
        at.button(key="FormSubmitter:trn_save_form-Save").click()
        sessions.append(at)
    for at in sessions:
        at.run()
    for at in sessions:
        assert not at.exception
    first, second = sessions
    assert any("Saved as **class-demo**" in m for m in texts(first.success))
    assert any("'class-demo' is already saved on this server" in m for m in texts(second.error))
    _, meta = checkpoints.load("class-demo")  # whole, and the winner's weights
    assert meta["sha256"] == checkpoints.weights_hash(two_finished_jobs[0].model.state_dict())
    assert [p.name for p in (checkpoint_dir / "visitors").iterdir()] == ["class-demo.safetensors"]  # no temp file left
    assert not [p for p in checkpoint_dir.rglob(".*")]  # no temp file left, of the checkpoint or its thumbnail


def test_overwrites_racing_with_readers_never_show_a_torn_file(checkpoint_dir):
    """Several sessions replacing one checkpoint while others load it: every load sees a whole file."""
    models = [create_model("dense") for _ in range(4)]
    hashes = {checkpoints.weights_hash(m.state_dict()) for m in models}
    recipe = get_spec("dense").recipe
    checkpoints.save("shared", models[0], recipe, model_name="dense")
    stop = threading.Event()
    seen, failures = [], []

    def write(model):
        for _ in range(15):
            checkpoints.save("shared", model, recipe, model_name="dense", overwrite=True)

    def read():
        while not stop.is_set():
            try:
                seen.append(checkpoints.load("shared")[1]["sha256"])
            except (ValueError, FileNotFoundError) as exc:
                failures.append(exc)

    readers = [threading.Thread(target=read) for _ in range(2)]
    writers = [threading.Thread(target=write, args=(m,)) for m in models]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in readers:
        thread.join()
    assert failures == []
    assert seen and set(seen) <= hashes
    assert [p.name for p in (checkpoint_dir / "visitors").iterdir()] == ["shared.safetensors"]


# --- an empty checkpoint folder ------------------------------------------------------------------

@pytest.mark.parametrize("page", PAGE_FILES)
def test_with_no_checkpoints_every_page_starts_and_says_what_to_do(checkpoint_dir, page):
    at = open_page(page)
    assert not at.exception, at.exception[0].value
    if page == "views/train.py":  # the way out: training works without any checkpoint
        assert not at.error and at.button(key="trn_start").disabled is False
        return
    messages = texts(at.error) + texts(at.warning)
    assert messages, "the page shows nothing to explain the missing models"
    assert all("train" in m.lower() for m in messages), messages


# --- the file system misbehaving: a symlink loop, a full disk, no permission ------------------------

@pytest.mark.parametrize("page", PAGE_FILES)
def test_a_symlink_loop_in_the_checkpoint_folder_breaks_no_page_and_shows_no_path(checkpoint_copy, page):
    (checkpoint_copy / "conv.safetensors").unlink()
    (checkpoint_copy / "conv.safetensors").symlink_to("conv.safetensors")  # a shipped name, looping on itself
    (checkpoint_copy / "ping.safetensors").symlink_to("pong.safetensors")  # a user's name, two links in a ring
    (checkpoint_copy / "pong.safetensors").symlink_to("ping.safetensors")
    at = open_page(page)
    assert not at.exception, at.exception[0].value
    shown = " ".join(texts(at.error) + texts(at.warning) + texts(at.markdown) + texts(at.caption))
    assert str(checkpoint_copy.parent) not in shown


def test_a_checkpoint_the_server_may_not_read_is_explained_without_its_path(checkpoint_copy, monkeypatch):
    open_regular = checkpoints.open_regular  # where core.checkpoints opens a checkpoint's weights

    def refuse_conv(path: Path):
        if path.name == "conv.safetensors":
            raise PermissionError(13, "Permission denied", str(path))
        return open_regular(path)

    monkeypatch.setattr(checkpoints, "open_regular", refuse_conv)
    os.utime(checkpoint_copy / "conv.safetensors")  # a new file stamp: no cached model of an earlier test
    at = open_page("views/reconstruction.py")
    assert not at.exception, at.exception[0].value
    expected = "The checkpoint 'conv' cannot be read (Permission denied); restore the file or retrain it."
    assert expected in texts(at.error)
    assert not any(str(checkpoint_copy) in message for message in texts(at.error))


def test_saving_a_checkpoint_on_a_full_disk_says_so_and_leaves_nothing(checkpoint_dir, monkeypatch):
    from core import files

    job = jobs.start("dense", dataclasses.replace(get_spec("dense").recipe, epochs=1, train_digits=500))
    assert job.wait(timeout=600) and job.state == jobs.DONE, job.error  # a run of its own, never saved yet

    def disk_full(*args):
        raise OSError(28, "No space left on device", str(checkpoint_dir))

    monkeypatch.setattr(files.os, "fsync", disk_full)
    at = open_page("views/train.py", lambda at: at.query_params.__setitem__("job", job.id))
    at.text_input(key="trn_save_name").set_value("full-disk")
    at.button(key="FormSubmitter:trn_save_form-Save").click().run()
    assert not at.exception, at.exception[0].value
    assert texts(at.error) == ["The checkpoint 'full-disk' could not be saved: the server's disk is full."]
    assert not [p for p in checkpoint_dir.rglob("*") if not p.is_dir()]  # nothing half-written anywhere
