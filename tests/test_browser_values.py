"""Values a browser sends back, checked where they enter: forged, malformed, out of range, each gets
what the page may use or a sentence, never an exception of another kind and never another value."""

import base64
import io
import math

import numpy as np
import pytest
from PIL import Image

from components.latent_pad import checked_code
from core import browser_values

# --- the latent pad's code ---------------------------------------------------------------------

@pytest.mark.parametrize("sent", [
    None, 5, "0.5", [0.5] * 16, {}, {"values": None}, {"values": "abc"}, {"values": [0.5] * 15},
    {"values": [0.5] * 17}, {"values": [0.5] * 200_000}, {"values": [math.nan] * 16},
    {"values": [math.inf] + [0.0] * 15}, {"values": ["0.5"] * 16}, {"values": [True] * 16},
    {"values": [None] * 16}, {"values": [3.5] + [0.0] * 15}, {"values": [-1e308] + [0.0] * 15},
    {"values": [[0.5]] * 16},
], ids=repr)
def test_a_code_the_pad_cannot_have_sent_is_ignored(sent):
    assert checked_code(sent, 16, 3.0) is None


def test_a_real_code_is_kept_rounded_to_the_slider_step():
    sent = {"values": [0.123, -3.0, 3, 2.999999] + [0] * 12}
    assert checked_code(sent, 16, 3.0) == [0.12, -3.0, 3.0, 3.0] + [0.0] * 12


# --- a chart's selection -------------------------------------------------------------------------

SIZES = [3, 0, 2]  # points in each trace


@pytest.mark.parametrize("points", [
    None, 5, "points", {}, [5], [None], [{}], [{"curve_number": 99, "point_index": 0}],
    [{"curve_number": 0, "point_index": -1}], [{"curve_number": -1, "point_index": 0}],
    [{"curve_number": 1, "point_index": 0}], [{"curve_number": 0, "point_index": 3}],
    [{"curve_number": 0.0, "point_index": 1}], [{"curve_number": "0", "point_index": 1}],
    [{"curve_number": True, "point_index": 1}], [{"curve_number": 0, "point_index": math.nan}],
    [{"curve_number": 0}], [{"point_index": 0}],
], ids=repr)
def test_selected_points_outside_the_chart_are_left_out(points):
    assert browser_values.selected_points(points, SIZES) == []


def test_selected_points_inside_the_chart_are_kept_in_order():
    points = [{"curve_number": 2, "point_index": 1, "x": 0.3}, {"curve_number": 0, "point_index": -1},
              {"curve_number": 0, "point_index": 0}]
    assert browser_values.selected_points(points, SIZES) == [(2, 1), (0, 0)]


def test_a_selection_longer_than_the_chart_is_read_only_that_far():
    points = [{"curve_number": 0, "point_index": 0}] * 1_000_000
    assert len(browser_values.selected_points(points, SIZES)) == sum(SIZES)


# --- the drawing canvas --------------------------------------------------------------------------

def png_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return browser_values.PNG_DATA_URL + base64.b64encode(buffer.getvalue()).decode()


def test_a_drawing_comes_back_as_its_png():
    url = png_url(Image.new("RGBA", (280, 280), (255, 255, 255, 255)))
    assert browser_values.canvas_png(url).startswith(b"\x89PNG")
    assert browser_values.canvas_png(None) is None


@pytest.mark.parametrize("sent", [5, [], {"data": "x"}, "", "not a data url", "data:image/png;base64,@@@@",
                                  "data:image/svg+xml;base64,PHN2Zz4=", "data:text/html,<script>",
                                  browser_values.PNG_DATA_URL + "A" * browser_values.MAX_CANVAS_URL])
def test_a_canvas_value_that_is_no_png_data_url_gets_a_sentence(sent):
    with pytest.raises(ValueError, match="The drawing could not be read; clear the canvas and draw again."):
        browser_values.canvas_png(sent)


# --- typed test indices ----------------------------------------------------------------------------

def test_typed_indices_are_read():
    assert browser_values.typed_indices("3, 14,159,, 9999", 10_000, 16) == [3, 14, 159, 9999]


@pytest.mark.parametrize("text, message", [
    ("", "from 1 to 16"), (", ,", "from 1 to 16"), ("-1", "whole numbers"), ("1.5", "whole numbers"),
    ("1e3", "whole numbers"), ("0x10", "whole numbers"), ("１２", "whole numbers"), ("1_000", "whole numbers"),
    ("NaN", "whole numbers"), ("10000", "from 0 to 9,999"), ("9" * 40, "whole numbers"),
    (",".join(["1"] * 17), "from 1 to 16"), ("1," * 1_363, "at most 16"), (None, "at most 16"), (5, "at most 16"),
], ids=repr)
def test_typed_indices_that_name_no_digit_get_a_sentence(text, message):
    with pytest.raises(ValueError, match=message) as error:
        browser_values.typed_indices(text, 10_000, 16)
    assert str(error.value).endswith(".") and "\n" not in str(error.value)


def test_no_index_is_turned_into_another():
    digits = np.arange(10_000)
    for text in ("-1", "10000", "-9994"):
        with pytest.raises(ValueError):
            digits[browser_values.typed_indices(text, len(digits), 16)]
