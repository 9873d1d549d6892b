"""The load probe itself: it speaks Streamlit's protocol to a real server, parses what comes back,
counts zero errors when all is well, and counts an error when a check fails."""

import pytest

from bench import load_probe
from bench.load_probe import PageCheck, ProbeError, Session
from tests.app_server import start_server, stop_server


@pytest.fixture(scope="module")
def server():
    process, url = start_server()
    yield process, url
    stop_server(process)


def test_three_sessions_open_a_page_and_move_a_slider_without_errors(server):
    process, url = server
    result = load_probe.probe(url, 3, pages=("Reconstruction",), think=(0.0, 0.2), ramp_seconds=0.5,
                              run_timeout=120, deadline=300, server_pid=process.pid)
    assert result.errors == []
    assert len(result.runs) == 9  # each session: home, Reconstruction, the slider's rerun
    assert {(run.page, run.action) for run in result.runs} == {
        ("", "open"), ("Reconstruction", "open"), ("Reconstruction", "slider")}
    for run in result.runs:
        assert run.seconds > 0 and run.elements
        assert run.of("heading") and not run.of("exception")
    originals = [m.body for run in result.runs if run.action == "slider" for m in run.of("markdown")
                 if m.body.startswith("**Originals (test digits")]
    assert sorted(label.count(",") + 1 for label in originals) == [7, 8, 9]  # the slider at 4 + (n + 3) % 13
    summary = result.summary()
    assert summary["runs"] == 9 and summary["errors"] == 0
    assert 0 < summary["p50_s"] <= summary["p95_s"] <= summary["max_s"]
    assert summary["server_cpu_ms_per_run"] > 0


def test_an_upload_goes_through_the_http_endpoint_and_comes_back_denoised(server):
    _, url = server

    async def upload() -> load_probe.Run:
        async with Session(url, run_timeout=120) as session:
            # The Upload tab straight from a link (den_tab is bound to the URL): no noise-lab sweep.
            tab = await session.open("Denoising", query_string="den_tab=Upload",
                                     check=PageCheck("Denoising", ("file_uploader",)))
            run, _ = await session.upload(tab, "den_upload", "seven.png", load_probe.digit_png(0))
            load_probe.check_upload_came_back(session, run, "seven.png")
            return run

    run = load_probe.run_sync(upload())
    assert not run.of("exception")


def test_a_failed_check_is_counted_as_an_error(server, monkeypatch):
    _, url = server
    monkeypatch.setitem(load_probe.PAGES, "Reconstruction", PageCheck("A title no page has", ("imgs",)))
    result = load_probe.probe(url, 2, pages=("Reconstruction",), think=(0.0, 0.0), ramp_seconds=0.0,
                              run_timeout=120, deadline=300)
    assert len(result.errors) == 2
    assert all("title 'A title no page has' missing" in error for error in result.errors)


def test_a_missing_widget_is_an_error_not_a_crash(server):
    _, url = server

    async def move_a_widget_that_is_not_there():
        async with Session(url, run_timeout=120) as session:
            home = await session.open("")
            await session.set_widget(home, "no_such_key", "slider", double_array_value=[1.0])

    with pytest.raises(ProbeError, match="no widget with key 'no_such_key'"):
        load_probe.run_sync(move_a_widget_that_is_not_there())


@pytest.mark.parametrize("url", ["http://10.0.0.8:8501", "http://example.com", "http://0.0.0.0:8501"])
def test_only_loopback_servers_are_probed(url):
    with pytest.raises(ValueError, match="loopback"):
        load_probe.require_loopback(url)
    with pytest.raises(ValueError, match="loopback"):
        load_probe.probe(url, 1)
