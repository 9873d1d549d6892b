"""AppTest: the Anomaly page shows the likelihood ratio's AUC (core.evaluate's for the ELBO), answers
its threshold, and scores uploads."""

import io
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core import anomaly, checkpoints, data
from core.evaluate import evaluate_model
from tests.pages import open_app_page

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page("views/anomaly.py")
    at.run()
    assert not at.exception, at.exception[0].value
    return at


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def png_of_test_digit(index: int) -> bytes:
    """A test digit drawn dark on light and enlarged, as someone would scan it."""
    digit = data.load("mnist", "test").images[index]
    buffer = io.BytesIO()
    Image.fromarray(255 - digit).resize((140, 140)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def shown() -> AppTest:
    return open_page()


def test_the_auc_shown_is_the_likelihood_ratios_and_for_the_elbo_core_evaluates(shown):
    model, _ = checkpoints.load("vae_one")
    background, _ = checkpoints.load(anomaly.BACKGROUND)
    ratio = anomaly.score_digits(model, data.load("mnist", "test"), 7, background)
    assert shown.radio(key="an_score").value == "ratio"
    assert metrics(shown)["ROC AUC"] == f"{ratio.auc:.3f}"
    assert ratio.auc >= 0.95  # the seven-VAE's ELBO alone: 0.900
    at = open_page()
    at.radio(key="an_score").set_value("elbo").run()
    assert metrics(at)["ROC AUC"] == f"{evaluate_model('vae_one', model)['roc_auc']:.3f}"


def passing_share(at, digit: int) -> float:
    """The share of a digit's test images that passes as a 7, from the page's sentence."""
    note = next(c.value for c in at.caption if "passes as a 7" in c.value)
    return float(re.search(rf"\b{digit}s (\d+)%", note)[1]) / 100


def test_the_likelihood_ratio_stops_plain_ones_passing_as_sevens(shown):
    at = open_page()
    at.radio(key="an_score").set_value("elbo").run()
    assert passing_share(at, 1) > 0.5  # the ELBO: most ones pass, their little ink is cheap
    assert passing_share(shown, 1) < passing_share(at, 1) - 0.1  # 83% against 97% at the default thresholds
    assert "tells 7s from 1s badly (ROC AUC 0.356" in shown.markdown[1].value
    assert passing_share(shown, 7) == passing_share(at, 7) == 0.95  # both thresholds flag 5% of the sevens


def test_without_the_all_digit_vae_the_page_scores_by_the_elbo_and_says_why(checkpoint_dir):
    shutil.copy(Path(APP).parent / "checkpoints" / "vae_one.safetensors", checkpoint_dir)
    at = open_page()
    assert at.radio(key="an_score").options == ["Negative ELBO"]
    assert any("likelihood ratio needs" in c.value for c in at.sidebar.caption)


def test_histograms_roc_galleries_and_both_latent_grids_are_drawn(shown):
    charts = shown.get("plotly_chart")
    assert len(charts) == 2  # the per-digit histograms and the ROC curve
    assert "digit 7 (known)" in charts[0].proto.spec
    images = shown.get("image")
    assert len(images) == 3  # the gallery, and the grids of vae_one and vae2
    assert len(images[0].proto.imgs) == 21


def test_raising_the_threshold_trades_recall_for_fewer_false_alarms():
    at = open_page()
    slider = at.slider(key="an_threshold_vae_one_ratio")
    before = metrics(at)
    slider.set_value(slider.max).run()
    after = metrics(at)
    assert float(after["Recall"].rstrip("%")) < float(before["Recall"].rstrip("%"))
    assert float(after["False alarms"].rstrip("%")) <= float(before["False alarms"].rstrip("%"))


def test_an_upload_is_scored_against_the_threshold():
    at = open_page()
    seven = int((data.load("mnist", "test").labels == 7).argmax())
    at.get("file_uploader")[0].set_value(("seven.png", png_of_test_digit(seven), "image/png")).run()
    assert not at.exception and not at.error
    assert metrics(at)["Anomaly score"].endswith("nats")
    verdicts = [e.value for e in (*at.success, *at.warning)]
    assert any("Passes as a 7" in v or "Flagged" in v for v in verdicts)


def test_a_bad_upload_gets_a_sentence_not_a_traceback():
    at = open_page()
    at.get("file_uploader")[0].set_value(("notes.png", b"not an image", "image/png")).run()
    assert not at.exception
    assert "notes.png" in at.error[0].value and "not a PNG, JPEG" in at.error[0].value


def test_the_verdict_follows_the_threshold():
    at = open_page()
    seven = int((data.load("mnist", "test").labels == 7).argmax())
    at.get("file_uploader")[0].set_value(("seven.png", png_of_test_digit(seven), "image/png")).run()
    slider = at.slider(key="an_threshold_vae_one_ratio")
    slider.set_value(slider.min).run()
    assert any("Flagged" in w.value for w in at.warning)
    slider.set_value(slider.max).run()
    assert any("Passes as a 7" in s.value for s in at.success)


def test_an_uploads_verdict_stays_on_the_upload_tab():
    """A drawing's tab never shows the upload's verdict (it did, above the drawing's own)."""
    at = open_page()
    seven = int((data.load("mnist", "test").labels == 7).argmax())
    at.get("file_uploader")[0].set_value(("seven.png", png_of_test_digit(seven), "image/png")).run()
    upload_tab = at.tabs[-2]
    assert [m.label for m in upload_tab.metric] == ["Anomaly score"]
    verdict = next(e.value for e in (*upload_tab.success, *upload_tab.warning))
    at.session_state["an_your_digit"] = "Draw"
    at.run()
    upload_tab, draw_tab = at.tabs[-2:]
    assert not draw_tab.metric and not draw_tab.success and not draw_tab.warning
    assert not upload_tab.metric  # only the open tab runs
    assert "of the test 7s score lower" in verdict and "only" not in verdict


def test_the_page_says_with_numbers_which_digits_pass(shown):
    note = next(c.value for c in shown.caption if "passes as a 7" in c.value)
    assert "1s " in note and "Median scores: 7s" in note


def test_what_passes_as_a_seven_is_said_up_front_with_the_shares_of_the_test_digits(shown):
    from ui import caches

    result = caches.anomaly_scores("vae_one", anomaly.BACKGROUND)
    threshold = shown.slider(key="an_threshold_vae_one_ratio").value
    ones = float((result.scores[result.labels == 1] <= threshold).mean())
    up_front = next(m.value for m in shown.markdown if m.value.startswith("**What passes as a 7"))
    assert f"{ones:.0%} of the test 1s" in up_front and ones > 0.5  # the ones slip through, and it says so
    assert "raise the threshold" in up_front


def test_a_link_sets_the_threshold_and_a_threshold_out_of_range_falls_back_with_a_note():
    at = open_app_page("views/anomaly.py", query_params={"an_score": "Negative ELBO", "an_threshold_vae_one": "200"},
                       timeout=300)
    assert at.radio(key="an_score").value == "elbo" and at.slider(key="an_threshold_vae_one").value == 200
    assert not at.info
    at = open_app_page("views/anomaly.py", query_params={"an_threshold_vae_one_ratio": "-500", "an_model": "nosuch"},
                       timeout=300)
    note = at.info[0].value
    assert "`an_threshold_vae_one_ratio=-500`" in note and "`an_model=nosuch`" in note
