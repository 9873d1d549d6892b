"""Faults against a real server in a real browser: a checkpoint damaged while people use the app,
and an empty checkpoint folder. Each test starts its own server on
a temporary copy of what it breaks; the real checkpoints/ is never touched."""

import shutil
from contextlib import contextmanager

import pytest

from core import checkpoints
from tests.app_server import PROJECT, VIEWPORT, start_server, stop_server
from tests.e2e.conftest import no_exception, open_page, screenshot

ERROR_BOX = '[data-testid="stAlertContentError"]'
WARNING_BOX = '[data-testid="stAlertContentWarning"]'


@contextmanager
def server(**env):
    process, url = start_server({k: str(v) for k, v in env.items()})
    try:
        yield url
    finally:
        stop_server(process)


@pytest.fixture
def checkpoint_copy(tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for path in (PROJECT / "checkpoints").glob(f"*{checkpoints.SUFFIX}"):
        shutil.copy2(path, folder / path.name)
    return folder


@pytest.fixture
def people(browser):
    """Two browser contexts: two people with their own sessions."""
    contexts = [browser.new_context(viewport=VIEWPORT) for _ in range(2)]
    yield [context.new_page() for context in contexts]
    for context in contexts:
        context.close()


def test_a_checkpoint_damaged_while_the_app_runs(checkpoint_copy, people):
    alice, bob = people
    with server(AE_CHECKPOINT_DIR=checkpoint_copy) as url:
        open_page(alice, url, "Generate")
        no_exception(alice)
        assert not alice.locator(ERROR_BOX).count()

        path = checkpoint_copy / "vae2.safetensors"
        path.write_bytes(path.read_bytes()[:1000])  # cut short, as an interrupted copy leaves it

        alice.reload()
        open_page(bob, url, "Latent_Space")
        alice.wait_for_selector(ERROR_BOX, timeout=60_000)
        no_exception(alice)
        assert "The checkpoint 'vae2' is damaged" in alice.locator(ERROR_BOX).first.inner_text()
        screenshot(alice, "fault-damaged-checkpoint")
        no_exception(bob)  # another person on another page: unaffected
        assert not bob.locator(ERROR_BOX).count()

        alice.get_by_role("link", name="Retrain vae2 on the Train page").click()
        alice.wait_for_url("**/Train")
        alice.wait_for_selector("text=Train a model")
        no_exception(alice)


def test_an_empty_checkpoint_folder_starts_and_says_what_to_do(tmp_path, page):
    empty = tmp_path / "checkpoints"
    empty.mkdir()
    with server(AE_CHECKPOINT_DIR=empty) as url:
        open_page(page, url)
        no_exception(page)
        assert "No trained models are available yet" in page.locator(WARNING_BOX).first.inner_text()
        screenshot(page, "fault-no-checkpoints-home")
        for path in ("Reconstruction", "Denoising", "Latent_Space", "Generate", "Anomaly"):
            open_page(page, url, path)
            no_exception(page)
            notes = page.locator(f"{ERROR_BOX}, {WARNING_BOX}").all_inner_texts()
            assert notes and all("train" in note.lower() for note in notes), (path, notes)
        open_page(page, url, "Train")
        no_exception(page)
        assert page.get_by_role("button", name="Train", exact=True).is_enabled()
