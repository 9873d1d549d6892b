"""The Train page under AppTest: settings, a short run to a saved checkpoint, cancel, and save errors."""

import dataclasses
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import checkpoints, jobs
from core.registry import get_spec

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "pages/6_Train.py"


def open_train_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception
    return at


def train(at: AppTest, model: str, epochs: int) -> jobs.TrainJob:
    """Pick a model and a number of epochs, press Train; returns the job the page started."""
    at.selectbox(key="trn_model").set_value(model).run()
    at.number_input(key=f"trn_{model}_epochs").set_value(epochs).run()
    at.button(key="trn_start").click().run()
    assert not at.exception
    job = at.session_state["trn_job"]
    assert job.model_name == model and job.recipe.epochs == epochs
    return job


def finish(at: AppTest, job: jobs.TrainJob) -> None:
    assert job.wait(timeout=300), "the job did not finish"
    at.run()
    assert not at.exception


@pytest.fixture
def app(checkpoint_dir):
    at = open_train_page()
    yield at
    job = at.session_state["trn_job"] if "trn_job" in at.session_state else None
    if job is not None:  # never leave a job training into the next test
        job.cancel()
        job.wait(timeout=120)


def test_page_shows_the_settings_of_the_chosen_model(app):
    assert app.button(key="trn_start").disabled is False
    assert "parameters" in app.info[0].value
    labels = {w.label for w in app.sidebar.select_slider}
    assert "Code size" in labels and "L1 weight on the code" not in labels
    app.selectbox(key="trn_model").set_value("sparse").run()
    assert "L1 weight on the code" in {w.label for w in app.sidebar.select_slider}
    app.selectbox(key="trn_model").set_value("denoising").run()
    assert app.slider(key="trn_denoising_noise_strength").value == 0.5
    assert "Code channels (each 7×7)" in {w.label for w in app.sidebar.select_slider}  # 28 -> 14 -> 7: code 32×7×7
    app.selectbox(key="trn_model").set_value("vae_one").run()
    assert app.selectbox(key="trn_vae_one_digit").value == 7
    assert not app.exception


def test_a_short_run_completes_and_its_checkpoint_loads(app, checkpoint_dir):
    app.select_slider(key="trn_dense_code").set_value(16).run()
    job = train(app, "dense", epochs=2)
    assert app.button(key="trn_start").disabled  # one run at a time per session
    finish(app, job)
    assert job.state == jobs.DONE
    assert "Trained 2 epochs" in app.success[0].value
    assert any("BCE" in md.value for md in app.markdown)
    charts = app.get("plotly_chart")
    assert len(charts) == 2  # loss per epoch, and the reconstruction animation

    app.text_input(key="trn_save_name").set_value("my-dense-16")
    app.button(key="FormSubmitter:trn_save_form-Save").click().run()
    assert not app.error, app.error[0].value
    assert "Saved as **my-dense-16**" in app.success[-1].value
    model, meta = checkpoints.load("my-dense-16")
    assert model.config.code_size == 16 and meta["model"] == "dense" and meta["epochs"] == 2
    assert (checkpoint_dir / "my-dense-16.safetensors").is_file()
    assert "my-dense-16" in checkpoints.list_checkpoints()


def test_save_errors_are_sentences(app, checkpoint_dir):
    finish(app, train(app, "tied", epochs=1))
    submit = "FormSubmitter:trn_save_form-Save"
    app.text_input(key="trn_save_name").set_value("Bad Name!")
    app.button(key=submit).click().run()
    assert "cannot be a checkpoint name" in app.error[0].value
    app.text_input(key="trn_save_name").set_value("tied")  # a shipped name
    app.button(key=submit).click().run()
    assert not app.error
    app.switch_page(PAGE)  # a second run to the same name
    finish(app, train(app, "tied", epochs=1))
    app.text_input(key="trn_save_name").set_value("tied")
    app.button(key=submit).click().run()
    assert "already exists" in app.error[0].value
    app.checkbox(key="trn_overwrite").check()
    app.button(key=submit).click().run()
    assert not app.error and "Saved as **tied**" in app.success[-1].value


def test_cancel_stops_the_run_and_keeps_the_model(app, checkpoint_dir):
    job = train(app, "dense", epochs=300)
    while not job.history:
        assert job.running, job.error
        job.wait(timeout=0.1)
    app.run()
    app.button(key="trn_cancel").click().run()
    finish(app, job)
    assert job.result.cancelled and job.result.epochs_done < 300
    assert "Stopped after" in app.warning[0].value
    app.button(key="FormSubmitter:trn_save_form-Save").click().run()
    model, meta = checkpoints.load("my-dense")
    assert meta["cancelled"] and meta["epochs"] == job.result.epochs_done


def test_a_reloaded_tab_finds_its_run_through_the_url(checkpoint_dir):
    job = jobs.start("tied", dataclasses.replace(get_spec("tied").recipe, epochs=1))
    try:
        assert job.wait(timeout=300)
        at = AppTest.from_file(APP, default_timeout=60)
        at.run()
        at.switch_page(PAGE)
        at.query_params["job"] = job.id
        at.run()
        assert not at.exception
        assert at.session_state["trn_job"] is job
        assert "Trained 1 epoch in" in at.success[0].value
    finally:
        job.cancel()
