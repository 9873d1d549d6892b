"""The ui package: caches built once, shared, and rebuilt when a checkpoint file changes; settings; links."""

import math
import os

import numpy as np
import plotly.graph_objects as go
import pytest
import streamlit as st

from ui import caches, guard, links, settings


def test_a_cached_figure_is_built_once_per_key_and_again_when_its_checkpoint_changes(checkpoint_dir):
    checkpoint = checkpoint_dir / "dense.safetensors"
    checkpoint.write_bytes(b"weights")
    builds = []

    def build():
        builds.append(1)
        return go.Figure(go.Bar(x=[1], y=[len(builds)]))

    first = caches.cached_figure("test bars", build, 0.5, models=("dense",))
    assert caches.cached_figure("test bars", build, 0.5, models=("dense",)) is first
    assert len(builds) == 1
    caches.cached_figure("test bars", build, 0.6, models=("dense",))  # another key value
    caches.cached_figure("other bars", build, 0.5, models=("dense",))  # another figure
    assert len(builds) == 3
    stat = checkpoint.stat()
    os.utime(checkpoint, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # retrained: the file changed
    assert caches.cached_figure("test bars", build, 0.5, models=("dense",)) is not first
    assert len(builds) == 4


def test_shared_arrays_are_read_only():
    scores = caches._read_only(np.zeros(3))
    with pytest.raises(ValueError):
        scores[0] = 1.0


def test_the_checkpoint_listing_reads_no_file_again_while_none_changes_with_500_models(checkpoint_dir, monkeypatch):
    import shutil

    from core import checkpoints, visitors
    from tests.visitor_models import save_visitor_model

    first = save_visitor_model("model-000")
    for i in range(1, 500):
        shutil.copy(first, first.with_name(f"model-{i:03d}.safetensors"))
    assert len(caches.checkpoint_listing()) == 500
    reads = []
    real = checkpoints.status
    monkeypatch.setattr(checkpoints, "status", lambda name: reads.append(name) or real(name))
    assert len(caches.visitor_models()) == 500 and len(caches.available_models()) == 500
    assert reads == []  # nothing re-read while the folders are unchanged
    save_visitor_model("one-more", limits=visitors.StoreLimits(max_models=1000))
    assert "one-more" in dict(caches.checkpoint_listing())


def test_operator_settings_come_from_the_environment_and_bad_values_get_a_sentence(monkeypatch):
    from core import jobs

    before = jobs.limits()
    monkeypatch.setenv("AE_TRAIN_MAX_MINUTES", "2.5")
    monkeypatch.setenv("AE_VISITOR_DROP_OLDEST_UNUSED", "yes")
    try:
        settings.apply()  # what the server does at start-up
        applied = settings.current()
        assert applied.jobs.max_run_minutes == 2.5 and jobs.limits().max_run_minutes == 2.5
        assert applied.store.drop_oldest_unused and not applied.allow_replace_shipped
        monkeypatch.setenv("AE_VISITOR_MAX_MODELS", "-3")
        settings.apply()
        with pytest.raises(ValueError, match="visitor_max_models = '-3' is not a valid value"):
            settings.current()
    finally:
        monkeypatch.undo()
        settings.apply()
        jobs.configure(before)


def test_per_checkpoint_caches_by_function_arguments_and_file(checkpoint_dir):
    checkpoint = checkpoint_dir / "dense.safetensors"
    checkpoint.write_bytes(b"weights")
    calls = []

    @caches.per_checkpoint(st.cache_resource)
    def first(name, indices, scale=2):
        calls.append(("first", name, indices, scale))
        return object()

    @caches.per_checkpoint(st.cache_resource)
    def second(name, indices, scale=2):
        calls.append(("second", name, indices, scale))
        return object()

    value = first("dense", np.array([1, 2]))
    assert first("dense", (1, 2), 2) is value  # an index array and its tuple, a default and its value: one key
    assert second("dense", (1, 2)) is not value  # each function has its own cache
    assert calls == [("first", "dense", (1, 2), 2), ("second", "dense", (1, 2), 2)]
    stat = checkpoint.stat()
    os.utime(checkpoint, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # retrained: the file changed
    assert first("dense", (1, 2)) is not value
    assert len(calls) == 3


def test_a_view_link_carries_every_value_and_repeats_list_keys():
    link = links.view_link("http://host:8501/Reconstruction", {"rec_models": ["conv", "tied"], "rec_indices": ["5, 6"]})
    assert link == "http://host:8501/Reconstruction?rec_models=conv&rec_models=tied&rec_indices=5%2C+6"
    assert links.view_link("http://host:8501/Generate", {}) == "http://host:8501/Generate"


# --- widget values from the browser ---------------------------------------------------------------

def widget_states(sent: dict, value_type: str = "double_value"):
    """Streamlit's widget-state table holding one number_input-like widget (default 1.0) and what was sent."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState
    from streamlit.runtime.state.common import WidgetMetadata
    from streamlit.runtime.state.session_state import Serialized, WStates

    guard.install()  # as ui.startup does before the first page runs

    def deserialize(value):
        if value is None:
            return 1.0
        return float(value) if value > 0 else math.sqrt(value)  # a deserializer that can fail

    states = WStates()
    states.set_widget_metadata(WidgetMetadata("w", deserialize, lambda v: v, value_type))
    states["w"] = Serialized(WidgetState(id="w", **sent))
    return states


@pytest.mark.parametrize("sent, value", [
    ({"double_value": 2.5}, 2.5),
    ({"int_value": 7}, 7.0),  # what Streamlit's frontend sends an integer number_input
    ({}, 1.0),  # no value: the default
])
def test_widget_values_of_the_widgets_kind_are_read(sent, value):
    assert widget_states(sent)["w"] == value


@pytest.mark.parametrize("sent", [{"string_value": "3"}, {"bool_value": True}, {"json_value": "[1]"},
                                  {"double_value": -4.0}])  # the last: the deserializer raises
def test_a_widget_value_of_another_kind_or_unreadable_is_the_default(sent):
    states = widget_states(sent)
    assert states["w"] == 1.0 and states["w"] == 1.0  # and stays so, without reading it again


def test_the_warm_up_fills_what_the_pages_first_runs_need(monkeypatch):
    """After caches.warm_up, the pages' first runs find their sprite sheets, codes and anomaly scores
    cached: none of them is computed again."""
    import streamlit as st

    from core import anomaly, latent, latent_view

    st.cache_resource.clear()
    caches.warm_up()
    computed = []
    monkeypatch.setattr(latent_view, "sprite_bundle", lambda *a, **k: computed.append("sprites"))
    monkeypatch.setattr(latent, "encode", lambda *a, **k: computed.append("codes"))
    monkeypatch.setattr(anomaly, "score_digits", lambda *a, **k: computed.append("scores"))
    monkeypatch.setattr(anomaly, "likelihood_ratio", lambda *a, **k: computed.append("ratio"))
    caches.test_sprites()
    caches.rebuilt_sprites("ae20")
    caches.encoded_test_digits("vae2")
    caches.encoded_test_digits("vae")
    caches.anomaly_scores("vae_one", anomaly.BACKGROUND)
    caches.anomaly_scores("vae_one")
    assert computed == []


def test_the_guard_refuses_a_streamlit_it_was_not_written_for(monkeypatch):
    monkeypatch.setattr(st, "__version__", "9.0.0")
    with pytest.raises(RuntimeError, match="written for Streamlit"):
        guard.install()
