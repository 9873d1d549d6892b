"""What the browser's latent map gets (sprite sheets, packed maps), where a new digit lands on a
map, and the check on what the browser sends back."""

import io
import math

import numpy as np
import pytest
from PIL import Image

from core import latent, latent_view


def sheet_pixels(payload: bytes) -> tuple[dict, np.ndarray]:
    header, body = latent_view.read_bundle(payload)
    return header, np.asarray(Image.open(io.BytesIO(body)))


def test_sprite_sheet_puts_digit_i_at_its_row_and_column():
    rng = np.random.default_rng(0)
    digits = rng.integers(0, 256, (23, 28, 28), dtype=np.uint8)
    header, sheet = sheet_pixels(latent_view.sprite_bundle(digits, columns=5))
    assert header["kind"] == "sprites" and header["count"] == 23 and header["columns"] == 5
    assert sheet.shape == (5 * 28, 5 * 28) and sheet.dtype == np.uint8
    for i in (0, 4, 5, 22):
        row, column = divmod(i, 5)
        assert np.array_equal(sheet[row * 28:(row + 1) * 28, column * 28:(column + 1) * 28], digits[i])
    assert not sheet[4 * 28:, 3 * 28:].any()  # the places after the last digit are black


def test_sprite_sheet_of_floats_is_their_grey_levels():
    digits = np.linspace(0, 1, 2 * 28 * 28).reshape(2, 28, 28)
    _, sheet = sheet_pixels(latent_view.sprite_bundle(digits, columns=2))
    assert np.abs(sheet[:, :28].astype(int) - np.round(digits[0] * 255)).max() <= 1
    _, coarse = sheet_pixels(latent_view.sprite_bundle(digits, columns=2, levels=16))
    assert len(np.unique(coarse)) == 16 and np.abs(coarse[:, :28] - digits[0] * 255).max() <= 255 / 30 + 1


def test_bundle_ids_hash_the_body_and_keep_the_body_aligned():
    a = latent_view.bundle({"kind": "map"}, b"1234")
    b = latent_view.bundle({"kind": "map"}, b"1234")
    c = latent_view.bundle({"kind": "map"}, b"1235")
    assert a == b and latent_view.read_bundle(a)[0]["id"] != latent_view.read_bundle(c)[0]["id"]
    assert (len(a) - len(b"1234")) % 4 == 0  # typed arrays over the body need 4-byte alignment


def test_a_packed_map_comes_back_within_a_65535th_of_its_range():
    rng = np.random.default_rng(1)
    coords = rng.normal(0, 30, (500, 2)).astype(np.float32)
    indices = np.sort(rng.choice(10_000, 500, replace=False))
    labels = rng.integers(0, 10, 500)
    payload = latent_view.map_bundle(coords, indices, labels)
    back, back_indices, back_labels = latent_view.read_map_bundle(payload)
    span = coords.max(0) - coords.min(0)
    assert (np.abs(back - coords) <= span / 65535).all()
    assert np.array_equal(back_indices, indices) and np.array_equal(back_labels, labels)
    assert len(payload) < 7 * 500 + 200  # 7 bytes a point and a short header


def test_a_map_with_a_nan_or_a_wide_index_is_refused():
    with pytest.raises(ValueError, match="finite"):
        latent_view.map_bundle(np.array([[0.0, np.nan]]), np.array([0]), np.array([1]))
    with pytest.raises(ValueError, match="16 bits"):
        latent_view.map_bundle(np.zeros((1, 2)), np.array([70_000]), np.array([1]))


def test_a_test_digit_placed_on_a_pca_map_lands_where_the_map_put_it():
    rng = np.random.default_rng(2)
    features = rng.normal(size=(400, 20)).astype(np.float32) * np.linspace(3, 0.1, 20)
    coords = latent.pca_2d(features)
    projection = latent_view.fit_projection(features, latent.MAP_SEED)
    positions, rows = latent_view.place("pca", features, coords, features[[7, 99]], projection)
    # the randomized solver's fit_transform and transform agree to a fraction of a percent of the spread
    assert np.abs(positions - coords[[7, 99]]).max() < 0.005 * coords.std()
    assert rows[:, 0].tolist() == [7, 99]  # its own nearest neighbour is itself


def test_a_2d_code_is_placed_as_it_is():
    codes = np.random.default_rng(3).normal(size=(50, 2))
    projection = latent_view.fit_projection(codes)
    assert np.allclose(projection.apply(np.array([[0.5, -1.25]])), [[0.5, -1.25]])


def test_tsne_placement_is_the_median_of_the_nearest_points_positions():
    # Two clusters of 12 in feature space, drawn far apart on the "map"; the last point of the
    # second cluster sits near the first in features, and must not pull a new digit away.
    rng = np.random.default_rng(4)
    features = np.concatenate([rng.normal(0, 0.1, (12, 2)), rng.normal(10, 0.1, (12, 2))])
    features[-1] = [0.05, 0.05]
    coords = np.concatenate([rng.normal(0, 1, (12, 2)), rng.normal(100, 1, (12, 2))])
    positions, rows = latent_view.place("tsne", features, coords, np.array([[0.0, 0.0]]))
    nearest = latent_view.nearest(features, [[0.0, 0.0]], latent_view.PLACE_NEIGHBOURS)[0]
    assert 23 in nearest and np.allclose(positions[0], np.median(coords[nearest], 0))
    assert np.linalg.norm(positions[0]) < 5  # inside its own cluster, not between the two
    assert rows.shape == (1, latent_view.PLACE_NEIGHBOURS)  # the digits that place it are the ones shown


def test_nearest_orders_by_distance():
    features = np.array([[0.0], [5.0], [1.0], [3.0]])
    assert latent_view.nearest(features, [[0.9]], 3).tolist() == [[2, 0, 3]]


def test_unknown_method_or_missing_projection_is_a_sentence():
    features = np.zeros((10, 3))
    with pytest.raises(ValueError, match="projection"):
        latent_view.place("pca", features, np.zeros((10, 2)), features[:1])
    with pytest.raises(ValueError, match="tsne"):
        latent_view.place("umap", features, np.zeros((10, 2)), features[:1])


MAP = np.array([3, 5, 8, 13, 21])


@pytest.mark.parametrize("value", [
    None, "3,5", [3, 5], {"indices": "3,5"}, {"indices": {"0": 3}}, {"nothing": [3]},
    {"indices": [3, 5.0]}, {"indices": [3, math.nan]}, {"indices": [3, math.inf]}, {"indices": [True]},
    {"indices": [3, "5"]}, {"indices": [3, None]}, {"indices": [[3]]},
])
def test_a_selection_that_is_not_a_list_of_whole_numbers_is_refused_with_a_sentence(value):
    with pytest.raises(TypeError, match="ignored"):
        latent_view.checked_selection(value, MAP)


@pytest.mark.parametrize("indices", [[4], [3, -1], [3, 10**30], list(range(6)), [3] * 6])
def test_a_selection_of_points_not_on_the_map_or_too_many_is_refused(indices):
    with pytest.raises(ValueError, match="ignored"):
        latent_view.checked_selection({"indices": indices}, MAP)


def test_a_good_selection_keeps_its_order_without_repeats():
    got = latent_view.checked_selection({"indices": [13, 3, 13, 21], "release": 4}, MAP)
    assert got.dtype == np.int64 and got.tolist() == [13, 3, 21]
    assert latent_view.checked_selection({"indices": []}, MAP).tolist() == []


def test_per_digit_sample_gives_a_rare_digit_its_share():
    labels = np.array([1] * 500 + [7] * 3 + [4] * 40)
    indices = np.arange(1000, 1000 + len(labels))
    picked = latent_view.sample_selection(indices, labels, 12, "per digit")
    picked_labels = labels[picked - 1000]
    assert len(picked) == 12 and len(set(picked)) == 12
    assert (picked_labels == 7).sum() == 3  # all three, though a big selection's sample would rarely show one
    assert sorted([(picked_labels == 1).sum(), (picked_labels == 4).sum()]) == [4, 5]
    assert list(picked_labels) == sorted(picked_labels)  # grouped by digit


def test_random_sample_mirrors_the_selection_and_small_selections_are_shown_whole():
    labels = np.array([1] * 900 + [7] * 100)
    indices = np.arange(len(labels))
    picked = latent_view.sample_selection(indices, labels, 100, "at random", seed=1)
    assert len(set(picked)) == 100 and 75 <= (labels[picked] == 1).sum() <= 100
    assert sorted(latent_view.sample_selection(indices[:5], labels[:5], 36)) == list(range(5))
    with pytest.raises(ValueError, match="per digit"):
        latent_view.sample_selection(indices, labels, 10, "first")


def test_shipped_spaces_are_pixels_and_every_registered_autoencoder():
    from core.registry import list_models

    assert latent.SHIPPED_SPACES[0] == latent.PIXELS
    assert set(latent.SHIPPED_SPACES[1:]) == set(list_models("ae")) | set(list_models("vae"))



def test_a_selection_travels_in_a_link_and_comes_back_the_same():
    map_indices = np.random.default_rng(0).permutation(10_000)[:2_000]
    selected = map_indices[[3, 17, 1_999, 500]]
    token = latent_view.selection_token(selected, map_indices)
    assert len(token) == 334 and token.isascii() and "=" not in token  # 2,000 bits, URL-safe
    back = latent_view.selection_from_token(token, map_indices)
    assert sorted(back.tolist()) == sorted(selected.tolist())
    assert latent_view.selection_token(np.array([], dtype=np.int64), map_indices) == ""


@pytest.mark.parametrize("token", ["", "abc", "!" * 334, "A" * 335])
def test_a_selection_token_for_another_map_is_refused_in_a_sentence(token):
    with pytest.raises(ValueError, match="selection"):
        latent_view.selection_from_token(token, np.arange(2_000))
