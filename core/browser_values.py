"""Values a browser sends back, checked where they enter: a chart's selected points, a drawing
canvas's image, a typed list of test indices.

A web page is an input: whatever a widget or a component returns can be forged by a client
that speaks Streamlit's protocol. Each function here takes the raw value and returns what the
page may use, or raises ValueError with a sentence for the page to show. Nothing here repairs
a value into another one (an index of -1 is not "the last digit").
"""

from __future__ import annotations

import base64
import binascii
import re

PNG_DATA_URL = "data:image/png;base64,"
MAX_CANVAS_URL = 2_000_000  # characters: a 280x280 RGBA drawing is at most ~420 KB as base64 PNG
MAX_INDEX_TEXT = 400        # characters of "3, 14, 159, ...": room for the most indices a page shows


def _is_int(value) -> bool:
    return type(value) is int  # not bool, not 3.0, not "3"


def selected_points(points, trace_sizes: list[int]) -> list[tuple[int, int]]:
    """(trace, point) pairs of a plotly selection that name a point the chart drew, in order.

    Args:
        points: the selection's "points" as the browser sent them (a list of dicts with integer
            "curve_number" and "point_index").
        trace_sizes: how many points each trace of the chart holds.

    Entries that are not such a pair, or point outside the chart, are left out. At most as many
    entries as the chart has points are read: a real selection cannot hold more.
    """
    if not isinstance(points, list):
        return []
    chosen = []
    for point in points[:sum(trace_sizes)]:
        if not isinstance(point, dict):
            continue
        trace, index = point.get("curve_number"), point.get("point_index")
        if _is_int(trace) and _is_int(index) and 0 <= trace < len(trace_sizes) and 0 <= index < trace_sizes[trace]:
            chosen.append((trace, index))
    return chosen


def canvas_png(data_url) -> bytes | None:
    """The PNG bytes in a drawing canvas's image data URL; None when nothing was drawn yet.

    Raises:
        ValueError: the value is not a PNG data URL of a size a 280x280 canvas makes.
    """
    if data_url is None:
        return None
    if not isinstance(data_url, str) or not data_url.startswith(PNG_DATA_URL) or len(data_url) > MAX_CANVAS_URL:
        raise ValueError("The drawing could not be read; clear the canvas and draw again.")
    try:
        return base64.b64decode(data_url[len(PNG_DATA_URL):], validate=True)
    except binascii.Error:
        raise ValueError("The drawing could not be read; clear the canvas and draw again.") from None


def typed_indices(text, count: int, most: int) -> list[int]:
    """Whole numbers typed as "3, 14, 159", each a position in a split of `count` digits.

    Raises:
        ValueError: not whole numbers, none, more than `most`, or outside 0 to count - 1.
    """
    if not isinstance(text, str) or len(text) > MAX_INDEX_TEXT:
        raise ValueError(f"Type at most {most} test indices, separated by commas.")
    parts = [part for part in text.replace(" ", "").split(",") if part]
    # ASCII digits only: int() also reads "١٢" and "1_0"
    wrong = [part for part in parts if not re.fullmatch(r"[0-9]{1,6}", part)]
    if wrong:
        raise ValueError(f"{_quoted(wrong)} {'is not a whole number' if len(wrong) == 1 else 'are not whole numbers'}: "
                         "test indices must be whole numbers separated by commas, such as 3, 14, 159.")
    if not parts or len(parts) > most:
        raise ValueError(f"Type from 1 to {most} test indices, separated by commas.")
    indices = [int(part) for part in parts]
    past = [str(i) for i in indices if i >= count]
    if past:
        raise ValueError(f"{_quoted(past)} {'is' if len(past) == 1 else 'are'} past the last test digit: "
                         f"pick test indices from 0 to {count - 1:,}.")
    return indices


def _quoted(parts: list[str], most: int = 3) -> str:
    """The first few of what a visitor typed, quoted and shortened: "`abc`", "`x`, `1.5` and 2 more"."""
    shown = [f"`{part[:12]}{'…' if len(part) > 12 else ''}`" for part in parts[:most]]
    text = ", ".join(shown)
    return f"{text} and {len(parts) - most} more" if len(parts) > most else text
