"""A visitor is a browser, not a tab: one run per browser, per-visitor quotas on runs, saves and
models kept, a run controlled only by the browser that started it (a link lets anyone watch),
finished runs trimmed and bounded (oldest dropped first, a dropped run's link says it expired),
drop-oldest that spares recently used models and takes their thumbnails, and reserved names."""

import dataclasses
import os
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import catalogue, checkpoints, jobs, visitors
from core.latent import PIXELS
from core.registry import get_spec
from tests.visitor_models import save_visitor_model
from ui import session, settings

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "views/train.py"
QUICK = dataclasses.replace(get_spec("dense").recipe, epochs=1, train_digits=256)
LONG = dataclasses.replace(get_spec("dense").recipe, epochs=500)
SAVE = "FormSubmitter:trn_save_form-Save"


def tab(visitor: str, job_id: str | None = None) -> AppTest:
    """A tab of the browser `visitor` on the Train page (through app.py), opened from a run's link when given."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[session.VISITOR_KEY] = visitor
    at.run()
    at.switch_page(PAGE)
    if job_id is not None:
        at.query_params["job"] = job_id
    at.run()
    assert not at.exception, at.exception[0].value
    return at


def press_train(at: AppTest, epochs: int = 1) -> None:
    at.number_input(key="trn_dense_epochs").set_value(epochs).run()
    at.button(key="trn_start").click().run()
    assert not at.exception, at.exception[0].value


def walk(node):
    """Every element under a block of an AppTest tree, in page order."""
    yield node
    for child in getattr(node, "children", {}).values():
        yield from walk(child)


def finished(owner: str | None, minutes_ago: float, kept_bytes: int = 1000) -> jobs.TrainJob:
    """A finished run in the table without training one (what the bounds look at)."""
    job = jobs.TrainJob("dense", QUICK, owner=owner)
    job.state, job.finished, job.kept_bytes = jobs.DONE, time.time() - minutes_ago * 60, kept_bytes
    jobs._jobs[job.id] = job
    return job


@pytest.fixture
def server_jobs(monkeypatch):
    """One training slot, limits restored and every job this test started stopped and removed after."""
    monkeypatch.setattr(jobs, "TRAINING_SLOTS", 1)
    limits, before = jobs.limits(), set(jobs._jobs)
    monkeypatch.setattr(jobs, "_started", {})
    monkeypatch.setattr(visitors, "_saves", {})
    monkeypatch.setattr(visitors, "_saved_by", {})
    yield
    jobs.configure(limits)
    for job_id in set(jobs._jobs) - before:
        job = jobs._jobs.pop(job_id)
        job.cancel()
        if job._thread.ident is not None:  # not one of `finished`'s, which never ran
            job.wait(timeout=120)


def test_two_tabs_of_one_browser_are_one_visitor_and_another_browser_is_not(checkpoint_dir, server_jobs):
    blocker = jobs.start("dense", LONG)  # someone else's run holds the slot: ours wait, cheaply
    first_tab = tab("browser-a")
    press_train(first_tab)
    mine = first_tab.session_state["trn_job"]
    assert mine.owner == "browser-a" and mine.running
    second_tab = tab("browser-a")
    assert second_tab.button(key="trn_start").disabled
    assert any("Your run in another tab" in c.value for c in second_tab.sidebar.caption)
    with pytest.raises(ValueError, match="already have a run waiting or training"):
        jobs.start("dense", QUICK, owner="browser-a")  # what the page's Train asks, from any tab
    other_browser = tab("browser-b")
    assert not other_browser.button(key="trn_start").disabled
    press_train(other_browser)
    assert other_browser.session_state["trn_job"].owner == "browser-b" and not other_browser.error
    blocker.cancel()


def test_a_link_lets_another_browser_watch_but_never_cancel_or_save(checkpoint_dir, server_jobs):
    blocker = jobs.start("dense", LONG)
    owner_tab = tab("browser-a")
    press_train(owner_tab)
    job = owner_tab.session_state["trn_job"]
    watcher = tab("browser-b", job.id)
    assert watcher.session_state["trn_job"] is job and job.owner == "browser-a"
    assert not watcher.get("button") or all(b.key != "trn_cancel" for b in watcher.button)
    assert any("only that browser can cancel or save it" in c.value for c in watcher.caption)
    assert any(b.key == "trn_cancel" for b in tab("browser-a", job.id).button)  # the owner's other tab
    blocker.cancel()
    assert job.wait(timeout=300) and job.state == jobs.DONE
    watcher.run()
    assert not watcher.get("form") and any("only that browser can cancel or save" in c.value for c in watcher.caption)
    with pytest.raises(ValueError, match="Only the browser that started this run can save it"):
        job.save("taken-over", visitor="browser-b")
    owner_again = tab("browser-a", job.id)  # a reloaded tab of the owner's browser saves it
    owner_again.text_input(key="trn_save_name").set_value("mine")
    owner_again.button(key=SAVE).click().run()
    assert not owner_again.error and "Saved as **mine**" in owner_again.success[-1].value
    assert checkpoints.list_visitor_models() == ["mine"]


def test_a_visitor_starts_a_bounded_number_of_runs_an_hour(checkpoint_dir, server_jobs):
    jobs.configure(dataclasses.replace(jobs.limits(), max_runs_per_hour=2))
    blocker = jobs.start("dense", LONG)
    at = tab("browser-a")
    for _ in range(2):
        press_train(at)
        assert not at.error
        at.button(key="trn_cancel").click().run()  # cancelled while waiting: it still counts
        assert at.session_state["trn_job"].wait(timeout=30)
        at.run()
    press_train(at)
    assert "You have started 2 runs in the last hour, this server's limit per visitor" in at.error[0].value
    press_train(tab("browser-b"))  # another browser has its own allowance
    blocker.cancel()


def test_a_visitor_keeps_a_bounded_number_of_models_and_saves_a_bounded_number_an_hour(
        checkpoint_dir, server_jobs, monkeypatch):
    monkeypatch.setenv("AE_VISITOR_MAX_MODELS_EACH", "1")
    monkeypatch.setenv("AE_VISITOR_MAX_SAVES_PER_HOUR", "2")
    settings.apply()  # as a server started with these settings does
    try:
        check_visitor_store_quotas()
    finally:
        monkeypatch.delenv("AE_VISITOR_MAX_MODELS_EACH")
        monkeypatch.delenv("AE_VISITOR_MAX_SAVES_PER_HOUR")
        settings.apply()


def check_visitor_store_quotas():
    runs = []
    for owner in ("browser-a", "browser-a", "browser-b"):  # one run at a time per browser
        runs.append(jobs.start("dense", QUICK, owner=owner))
        assert runs[-1].wait(timeout=300) and runs[-1].state == jobs.DONE
    results = []
    for job, name in zip(runs, ("first", "second", "theirs")):
        at = tab(job.owner, job.id)
        at.text_input(key="trn_save_name").set_value(name)
        at.button(key=SAVE).click().run()
        results.append(at.error[0].value if at.error else at.success[-1].value)
    assert "Saved as **first**" in results[0] and "Saved as **theirs**" in results[2]
    assert "You keep 1 saved models on this server (first), the most one visitor may keep" in results[1]
    visitors.delete("first")  # room again, but the hour's saves count too
    store = settings.current().store
    with visitors.visitor_save("browser-a", store) as saved:
        saved("made-elsewhere")
    with pytest.raises(ValueError, match="You have saved 2 models in the last hour"):
        runs[1].save("second", store=store, visitor="browser-a")


def test_a_finished_run_keeps_only_what_it_shows_and_saves(checkpoint_dir, server_jobs):
    job = jobs.start("cvae", dataclasses.replace(get_spec("cvae").recipe, epochs=1, train_digits=256))
    assert job.wait(timeout=300) and job.state == jobs.DONE
    assert all(p.grad is None and not p.requires_grad for p in job.model.parameters())
    assert not job.model.training
    assert all(s.dtype == np.uint8 for s in [*job.snapshots, job.fixed_digits]) and len(job.snapshots) == 2
    assert job.preview is None and job.latest.snapshot is None
    weights = sum(t.numel() * t.element_size() for t in job.model.state_dict().values())
    positions = sum(p.nbytes for p in job.result.positions)  # the timeline: epoch 0 and 1, 16 KB each
    assert positions == 2 * 2000 * 2 * 4
    assert weights + positions < job.kept_bytes < weights + positions + 100_000  # and snapshots, history
    model = job.model
    job.finished -= jobs.limits().keep_finished_minutes * 60 + 1
    assert jobs.get(job.id) is None and job.expired
    assert job.model is None and job.result is None and job._trained is None  # a tab still holding it holds little
    with pytest.raises(ValueError, match="This run has expired"):
        job.save("too-late")
    assert model is not None


def test_finished_runs_are_bounded_per_visitor_and_server_wide_oldest_first(checkpoint_dir, server_jobs):
    jobs.configure(dataclasses.replace(jobs.limits(), keep_finished_runs_per_visitor=2, keep_finished_runs=4,
                                       keep_finished_at_least_minutes=5))
    mine = [finished("browser-a", minutes) for minutes in (30, 20, 10, 1)]
    others = [finished(f"browser-{n}", 40 - n) for n in range(3)]
    young = [finished("browser-z", 0.5) for _ in range(6)]  # more than any bound, but younger than 5 minutes
    jobs.get(None)
    kept = [job for job in [*mine, *others, *young] if jobs.get(job.id) is job]
    assert set(kept) == {mine[3], *young}  # the visitor's 2 newest; then server-wide, oldest first, never the young
    assert all(jobs.why_forgotten(job.id) == jobs.ROOM for job in [*mine[:3], *others])
    link = tab("browser-a", mine[0].id)
    assert "The run in this link has expired: this server keeps at most 4 finished runs (2 per visitor)" in \
        link.info[0].value
    bytes_bound = finished("browser-y", 6, kept_bytes=60 * 2**20)  # more than 50 MB per visitor
    assert jobs.get(bytes_bound.id) is None and jobs.why_forgotten(bytes_bound.id) == jobs.ROOM


def test_a_tab_holding_an_expired_run_cannot_save_it(checkpoint_dir, server_jobs):
    job = jobs.start("dense", QUICK, owner="browser-a")
    assert job.wait(timeout=300) and job.state == jobs.DONE
    at = tab("browser-a", job.id)
    assert at.get("form")
    at.text_input(key="trn_save_name").set_value("late")
    job.finished -= jobs.limits().keep_finished_minutes * 60 + 1  # the hour passes with the tab open
    at.button(key=SAVE).click().run()
    assert not at.exception and not at.get("form")
    assert "has been forgotten: this server keeps a finished run 60 minutes, so it has expired" in at.info[0].value
    assert checkpoints.list_visitor_models() == []


def test_the_replay_starts_at_epoch_0_and_train_sits_at_the_top_of_the_sidebar(checkpoint_dir, server_jobs):
    at = tab("browser-a")
    keys = [node.key for node in walk(at.sidebar) if getattr(node, "key", None)]
    assert keys.index("trn_start") < keys.index("trn_dense_digits")  # above the settings, not below them
    press_train(at, epochs=2)
    job = at.session_state["trn_job"]
    assert job.wait(timeout=300)
    at.run()
    animation = next(c for c in at.get("plotly_chart") if '"sliders"' in c.proto.spec)
    assert '"label":"0"' in animation.proto.spec.replace(" ", "") and '"prefix":"epoch "' in animation.proto.spec


def test_drop_oldest_spares_recently_used_models_and_deletes_thumbnails(checkpoint_dir, monkeypatch):
    limits = visitors.StoreLimits(max_models=2, drop_oldest_unused=True, keep_used_minutes=10)
    old = save_visitor_model("old", limits=limits)
    save_visitor_model("recent", limits=limits)
    assert visitors.thumbnail_files("old")
    with pytest.raises(ValueError, match="Every saved model was used in the last 10 minutes"):
        save_visitor_model("third", limits=limits)  # both just saved: nobody's model is taken
    stamp = old.stat().st_mtime_ns - 3600 * 10**9
    os.utime(old, ns=(stamp, stamp))  # unused for an hour
    monkeypatch.setattr(visitors, "_last_marked", {})
    save_visitor_model("third", limits=limits)
    assert checkpoints.list_visitor_models() == ["recent", "third"]
    assert not visitors.thumbnail_files("old") and visitors.thumbnail_files("recent")
    assert all(p.name.startswith(("recent-", "third-")) for p in catalogue.thumbnail_dir().glob("*.json")
               if p.name != catalogue.TEST_ROW_FILE)


@pytest.mark.parametrize("text", ["pixels", "Pixels ", "ＰＩＸＥＬＳ"])
def test_the_latent_pages_pixels_is_a_reserved_name(checkpoint_dir, text):
    assert PIXELS in visitors.RESERVED_NAMES
    with pytest.raises(ValueError, match="'pixels' is reserved"):
        save_visitor_model(text)
    assert checkpoints.list_visitor_models() == []


def test_the_xsrf_cookie_decodes_to_its_token_whatever_the_mask():
    token = bytes(range(16))
    cookies = []
    for mask in (b"\x01\x02\x03\x04", b"\xff\x00\xaa\x55"):
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(token))
        cookies.append(f"2|{mask.hex()}|{masked.hex()}|1700000000")
    assert [session.xsrf_token(c) for c in cookies] == [token, token]
    assert session.xsrf_token(None) is None and session.xsrf_token("2|zz|00|1") is None
    assert session.xsrf_token("1|0102|0304|5") is None
