"""The Timeline page under AppTest: a model's timeline, two side by side, the sentence's numbers, no timeline."""

import dataclasses
import time

import pytest
from streamlit.testing.v1 import AppTest

from core import checkpoints, pipeline, timeline
from core.registry import get_spec
from tests.pages import APP, open_app_page

PAGE = "views/timeline.py"


def save_quick(name: str, epochs: int = 3, **changes) -> None:
    recipe = dataclasses.replace(get_spec(name).recipe, epochs=epochs, train_digits=512, **changes)
    pipeline.save(pipeline.train_and_evaluate(name, recipe), overwrite=True)


@pytest.fixture
def two_timelines(checkpoint_dir):
    save_quick("ae2")
    save_quick("vae2")
    return checkpoint_dir


def page_text(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_the_page_shows_a_model_and_dates_its_knn_accuracy(two_timelines):
    at = open_app_page(PAGE, query_params={"tl_model": "ae2", "tl_compare": "(none)"})
    recorded = timeline.load("ae2")
    text = page_text(at)
    assert f"{100 * recorded.knn[0]:.0f}% of the time before training" in text
    assert f"{100 * recorded.knn[-1]:.0f}% after epoch {recorded.epochs[-1]}" in text
    assert at.selectbox(key="tl_model").value == "ae2" and not at.error


def test_two_models_share_the_page_and_their_spread_is_compared(two_timelines):
    at = open_app_page(PAGE, query_params={"tl_model": "ae2", "tl_compare": "vae2"})
    text = page_text(at)
    assert "**ae2**" in text and "**vae2**" in text
    assert "median distance of a code from the origin" in text
    assert at.selectbox(key="tl_compare").options == ["(none)", "vae2"]


def test_a_model_whose_weights_changed_since_its_timeline_is_not_offered(two_timelines):
    for path in timeline.timeline_files("vae2"):
        path.unlink()
    at = open_app_page(PAGE, query_params={"tl_model": "ae2"})
    assert at.selectbox(key="tl_model").options == ["ae2"]
    assert at.selectbox(key="tl_compare").options == ["(none)"]


def test_without_any_timeline_the_page_says_how_to_record_one(checkpoint_dir):
    save_quick("ae2", epochs=1)
    for path in timeline.timeline_files("ae2"):
        path.unlink()
    at = open_app_page(PAGE)
    assert "No model has a training timeline yet" in at.warning[0].value


def test_the_home_card_links_to_its_timeline(two_timelines):
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    sha = checkpoints.read_meta("ae2")["sha256"]
    assert timeline.timeline_file("ae2", sha).is_file()
    cards = "\n".join(m.value for m in at.markdown)
    assert 'href="Timeline?tl_model=ae2"' in cards and 'href="Timeline?tl_model=vae2"' in cards


# --- the Train page: the same timeline, live and after the run ----------------------------------------

def test_a_running_job_keeps_each_epochs_positions_in_its_rows(checkpoint_dir):
    from core import jobs

    recipe = dataclasses.replace(get_spec("ae20").recipe, epochs=3, train_digits=512)
    job = jobs.start("ae20", recipe)
    seen = []
    while job.running:
        rows = job.history
        if rows and job.running:
            seen.append([row["positions"].shape for row in rows])
        time.sleep(0.02)  # a spinning reader holding the GIL would starve the run it watches
    assert job.wait(timeout=300) and job.state == jobs.DONE
    assert seen and all(shapes == [(2000, 2)] * len(shapes) for shapes in seen)
    rows = [{"epoch": e, "train": {"loss": 1.0}, "val": {"loss": 1.0}, "positions": job.result.positions[e]}
            for e in (1, 2, 3)]
    live = timeline.live_timeline(rows, job.result.timeline_labels, job.result.timeline_indices, "mnist")
    assert live.frames == 3 and live.epochs.tolist() == [1, 2, 3] and len(live.recon) == 0
    assert len(job.result.positions) == 4  # [0] untrained, then each epoch


def test_the_train_page_shows_the_run_as_a_timeline_and_a_saved_model_keeps_it(checkpoint_dir):
    from core import jobs
    from tests.test_page_train import finish, open_train_page, train

    at = open_train_page()
    job = train(at, "ae2", epochs=2)
    finish(at, job)
    assert job.state == jobs.DONE
    assert any("Watch it learn" in m.value for m in at.markdown)
    job.save("my-ae2", visitor=job.owner)
    saved = timeline.load("my-ae2")
    assert saved.frames == 3 and saved.method == timeline.CODE
    at = open_app_page(PAGE, query_params={"tl_model": "my-ae2"})
    assert at.selectbox(key="tl_model").value == "my-ae2"
