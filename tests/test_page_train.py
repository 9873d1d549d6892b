"""The Train page under AppTest: settings, a short run to a saved checkpoint, cancel, and save errors."""

import dataclasses
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import checkpoints, jobs, training_cost
from core.registry import get_spec
from ui import settings

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "views/train.py"


def open_train_page(job_id: str | None = None) -> AppTest:
    """The Train page, opened from the home page, or from a run's link (`?job=<id>`) as a reloaded tab opens it."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page(PAGE)
    if job_id is not None:
        at.query_params["job"] = job_id
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
    job = at.session_state.get("trn_job", None)
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
    assert (checkpoint_dir / "visitors" / "my-dense-16.safetensors").is_file()
    assert "my-dense-16" in checkpoints.list_visitor_models()
    assert not app.get("form")  # a run is saved once: the form is gone


def test_save_errors_are_sentences_and_shipped_models_are_out_of_reach(app, checkpoint_dir):
    finish(app, train(app, "tied", epochs=1))
    submit = "FormSubmitter:trn_save_form-Save"
    assert any("has not enabled it here (`AE_ALLOW_REPLACE_SHIPPED`)" in c.value for c in app.caption)
    assert not app.get("checkbox")  # no way to ask for replacing a shipped model
    app.text_input(key="trn_save_name").set_value("Bad/Name!")
    app.button(key=submit).click().run()
    assert "cannot be a checkpoint name" in app.error[0].value
    app.text_input(key="trn_save_name").set_value("Tied ")  # a shipped name, after normalising
    app.button(key=submit).click().run()
    assert "'tied' is a shipped model, which visitors cannot replace" in app.error[0].value
    assert not (checkpoint_dir / "tied.safetensors").exists()
    app.text_input(key="trn_save_name").set_value("Mine")
    app.button(key=submit).click().run()
    assert not app.error and "Saved as **mine**" in app.success[-1].value
    app.switch_page(PAGE)  # a second run to the same name
    finish(app, train(app, "tied", epochs=1))
    app.text_input(key="trn_save_name").set_value("MINE")
    app.button(key=submit).click().run()
    assert "'mine' is already saved on this server" in app.error[0].value


def test_the_operator_can_let_the_page_replace_a_shipped_model(checkpoint_dir, monkeypatch):
    monkeypatch.setenv("AE_ALLOW_REPLACE_SHIPPED", "1")
    settings.apply()  # as a server started with the setting does
    try:
        at = open_train_page()
        job = train(at, "tied", epochs=1)
        finish(at, job)
        at.text_input(key="trn_save_name").set_value("tied")
        at.checkbox(key="trn_replace_shipped").check()
        at.button(key="FormSubmitter:trn_save_form-Save").click().run()
        assert not at.error and "Saved as **tied**" in at.success[-1].value
        assert (checkpoint_dir / "tied.safetensors").is_file()
    finally:
        monkeypatch.undo()
        settings.apply()


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
    _model, meta = checkpoints.load("my-dense")
    assert meta["cancelled"] and meta["epochs"] == job.result.epochs_done


def test_a_reloaded_tab_finds_its_run_through_the_url(checkpoint_dir):
    job = jobs.start("tied", dataclasses.replace(get_spec("tied").recipe, epochs=1))
    try:
        assert job.wait(timeout=300)
        at = open_train_page(job.id)
        assert at.session_state["trn_job"] is job
        assert "Trained 1 epoch in" in at.success[0].value
    finally:
        job.cancel()


def test_quick_defaults_the_cost_before_training_and_the_shipped_recipe_one_click_away(app):
    quick = training_cost.quick_recipe("conv")
    app.selectbox(key="trn_model").set_value("conv").run()
    assert app.radio(key="trn_conv_digits").value == quick.train_digits
    assert app.number_input(key="trn_conv_epochs").value == quick.epochs
    assert app.radio(key="trn_conv_digits").options == ["5,000", "20,000", "60,000"]
    cost = next(m.value for m in app.sidebar.markdown if m.value.startswith("About"))
    assert f"{quick.epochs} epochs × {quick.train_digits:,} digits" in cost
    app.radio(key="trn_conv_digits").set_value(60_000).run()
    assert "× 60,000 digits" in next(m.value for m in app.sidebar.markdown if m.value.startswith("About"))
    app.button(key="trn_conv_use_shipped").click().run()
    recipe = get_spec("conv").recipe
    assert app.number_input(key="trn_conv_epochs").value == recipe.epochs
    assert app.radio(key="trn_conv_digits").value == 60_000
    assert app.select_slider(key="trn_conv_batch").value == recipe.batch_size
    app.button(key="trn_conv_use_quick").click().run()
    assert app.number_input(key="trn_conv_epochs").value == quick.epochs
    assert not app.exception


def test_a_waiting_run_shows_its_place_in_the_queue_and_a_full_queue_refuses(app, monkeypatch):
    monkeypatch.setattr(jobs, "TRAINING_SLOTS", 1)
    before = jobs.limits()
    others = [jobs.start("dense", dataclasses.replace(get_spec("dense").recipe, epochs=500)),
              jobs.start("dense", dataclasses.replace(get_spec("dense").recipe, epochs=1))]  # other visitors'
    try:
        while others[0].state != jobs.TRAINING:
            others[0].wait(timeout=0.1)
        app.run()
        assert "1 run waiting for this server's training slot: a run started now would start in about" in \
            app.sidebar.caption[-1].value
        jobs.configure(dataclasses.replace(before, max_waiting=1))
        app.button(key="trn_start").click().run()
        assert "training queue is full (1 runs are waiting" in app.error[0].value
        jobs.configure(before)
        job = train(app, "dense", epochs=1)
        assert job.state == jobs.QUEUED
        assert "Waiting in the training queue: position 2, about" in app.get("progress")[0].proto.text
    finally:
        jobs.configure(before)
        for other in others:
            other.cancel()
            other.wait(timeout=120)


def test_a_forgotten_run_link_gets_a_sentence(checkpoint_dir):
    job = jobs.start("tied", dataclasses.replace(get_spec("tied").recipe, epochs=1, train_digits=256))
    assert job.wait(timeout=300)
    job.finished -= jobs.limits().keep_finished_minutes * 60 + 1
    at = open_train_page(job.id)
    assert "has been forgotten: this server keeps a finished run 60 minutes" in at.info[0].value


def test_visitors_models_are_listed_apart(app, checkpoint_dir):
    from tests.visitor_models import save_visitor_model

    save_visitor_model("class-model")
    app.run()
    assert any("1 of 100 saved models" in c.value for c in app.caption)
    table = app.dataframe[0].value
    assert list(table["name"]) == ["class-model"] and list(table["model"]) == ["dense"]
