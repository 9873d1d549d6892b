"""prepare_upload over a corpus of good and bad images generated here: every case the Denoising page promises."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFile, ImageFilter

from core import data, images, inference


@pytest.fixture(scope="module")
def mnist():
    """A few real test digits, uint8 (N, 28, 28), light ink on black."""
    return data.load("mnist", "test").images[:12]


def read_image(data_bytes: bytes) -> np.ndarray:
    """The 28x28 digit the pages get from an upload."""
    return images.prepare_upload(data_bytes).image


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def on_page(digit: np.ndarray, size=(600, 480), at=(60, 150), scale=10, dark_ink=True) -> Image.Image:
    """A digit enlarged `scale` times and pasted off-centre on a page: a scan or a photo, in grey."""
    ink = Image.fromarray(digit).resize((28 * scale, 28 * scale), Image.Resampling.BILINEAR)
    page = Image.new("L", size, 0)
    page.paste(ink, at)
    return Image.fromarray(255 - np.asarray(page)) if dark_ink else page


def similarity(image: np.ndarray, digit: np.ndarray) -> float:
    """Best correlation over shifts of up to one pixel: MNIST itself centred digits to the nearest pixel."""
    return max(float(np.corrcoef(np.roll(image, (dy, dx), (0, 1)).ravel(), digit.ravel().astype(np.float32))[0, 1])
               for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def assert_mnist_like(image: np.ndarray) -> None:
    """28x28 float32 in [0, 1], full-intensity ink, longer side 20 px, centre of mass near (14, 14)."""
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() == pytest.approx(1.0)
    rows, cols = np.flatnonzero(image.sum(1) > 0), np.flatnonzero(image.sum(0) > 0)
    assert max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) == 20
    centre = np.array([image.sum(1) @ np.arange(28), image.sum(0) @ np.arange(28)]) / image.sum()
    assert np.abs(centre - 14).max() <= 1.0


def one_sentence(message: str) -> bool:
    return message.endswith(".") and ". " not in message and "\n" not in message


def png(width: int, height: int, rows: bytes | None = None) -> bytes:
    """A valid 1-bit greyscale PNG built by hand: a decompression bomb costs kilobytes this way."""
    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    row = rows or b"\x00" + bytes((width + 7) // 8)  # filter byte, then packed pixels (all black)
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))


# --- good images: each comes out as the MNIST digit it was made from ------------------------

def good_cases(digit: np.ndarray) -> dict[str, bytes]:
    page = on_page(digit)
    ink = np.asarray(page) < 128
    colour = np.zeros((*ink.shape, 3), np.uint8)
    colour[:] = (250, 240, 170)  # yellow paper
    colour[ink] = (20, 40, 160)  # blue ink
    black_on_clear = np.zeros((*ink.shape, 4), np.uint8)
    black_on_clear[..., 3] = 255 - np.asarray(page)  # opacity follows the ink
    white_on_clear = black_on_clear.copy()
    white_on_clear[..., :3] = 255
    cmyk = Image.merge("CMYK", [Image.new("L", page.size, 0)] * 3 + [Image.fromarray(255 - np.asarray(page))])
    h, w = ink.shape
    lamp = np.linspace(0.95, 0.55, w)[None, :] * np.linspace(1.0, 0.85, h)[:, None]  # lit from the top left
    shaded = (lamp * (30 + 225 * (np.asarray(page) / 255.0))).astype(np.uint8)
    palette = page.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette.info["transparency"] = palette.getpixel((0, 0))  # the paper's colour is see-through
    return {
        "grey PNG, dark on light": encode(page, "PNG"),
        "colour JPEG": encode(Image.fromarray(colour), "JPEG", quality=90),
        "BMP, light on dark": encode(on_page(digit, dark_ink=False), "BMP"),
        "GIF": encode(page, "GIF"),
        "lossy WebP": encode(page.convert("RGB"), "WEBP", quality=80),
        "lossless WebP": encode(page, "WEBP", lossless=True),
        "black ink on transparent PNG": encode(Image.fromarray(black_on_clear, "RGBA"), "PNG"),
        "white ink on transparent PNG": encode(Image.fromarray(white_on_clear, "RGBA"), "PNG"),
        "palette PNG with a transparent colour": encode(palette, "PNG", transparency=palette.info["transparency"]),
        "16-bit grey PNG": encode(Image.fromarray(np.asarray(page).astype(np.uint16) * 257), "PNG"),
        "CMYK JPEG": encode(cmyk, "JPEG", quality=90),
        "photo lit from one side": encode(Image.fromarray(shaded), "JPEG", quality=85),
        "small PNG, 14 px digit": encode(on_page(digit, size=(40, 36), at=(4, 2), scale=1).resize((20, 20)), "PNG"),
    }


@pytest.fixture(scope="module")
def good_corpus(mnist):
    """Every good case made from each of four digits: {case: [file bytes per digit]}."""
    made = [good_cases(digit) for digit in mnist[:4]]
    return {case: [files[case] for files in made] for case in made[0]}


@pytest.mark.parametrize("case", list(good_cases(np.zeros((28, 28), np.uint8))))
def test_good_images_become_the_digit_they_show(mnist, good_corpus, case):
    for digit, data_bytes in zip(mnist, good_corpus[case]):
        upload = images.prepare_upload(data_bytes)
        assert not upload.blank and not upload.notes
        assert ("uneven lighting evened out" in upload.steps) == (case == "photo lit from one side")
        assert_mnist_like(upload.image)
        assert similarity(upload.image, digit) > (0.75 if case.startswith("small") else 0.85), case


def test_sixteen_bit_png_keeps_its_grey_levels_instead_of_clipping_to_white(mnist):
    page = np.asarray(on_page(mnist[0])).astype(np.uint16) * 257
    encoded = encode(Image.fromarray(page), "PNG")
    assert Image.open(io.BytesIO(encoded)).mode.startswith("I")  # really 16-bit
    upload = images.prepare_upload(encoded)
    assert "inverted" in " ".join(upload.steps)
    assert similarity(upload.image, mnist[0]) > 0.85


def test_camera_rotation_tag_is_applied(mnist):
    upright = on_page(mnist[1]).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view": the pixels are stored turned left
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    upload = images.prepare_upload(encode(stored, "JPEG", exif=exif.tobytes(), quality=90))
    assert similarity(upload.image, mnist[1]) > 0.85


@pytest.mark.parametrize("kind, strength", [("gaussian", 0.5), ("gaussian", 0.2), ("salt_pepper", 0.1),
                                            ("masking", 0.5)])
def test_a_noisy_mnist_sized_image_reaches_the_denoiser_noise_and_all(mnist, kind, strength):
    for digit in mnist[:6]:
        pixels = images.to_uint8(data.add_noise(digit / 255.0, kind, strength, seed=3))
        upload = images.prepare_upload(encode(Image.fromarray(pixels), "PNG"))
        np.testing.assert_allclose(upload.image, pixels / 255.0, atol=1e-6)
        assert "used as it is" in upload.steps[-1]


def test_an_mnist_digit_saved_as_png_is_used_unchanged(mnist):
    for digit in mnist:
        for pixels in (digit, 255 - digit):  # light on dark as MNIST, and dark on light
            upload = images.prepare_upload(encode(Image.fromarray(pixels), "PNG"))
            np.testing.assert_allclose(upload.image, digit / 255.0, atol=1e-6)
            assert upload.steps[-1].startswith("already an MNIST digit")


def one_pixel_drawing(digit: np.ndarray, angle: float = 0.0, shift=(0, 0)) -> np.ndarray:
    """A person's 28x28 paint-program digit: the MNIST digit's 1-px skeleton, crisp (0 or 255)."""
    from bench.bench_upload import thin_strokes

    skeleton = Image.fromarray(thin_strokes(digit[None])[0].astype(np.uint8) * 255)
    return np.asarray(skeleton.rotate(angle, Image.Resampling.NEAREST, translate=shift))


def test_a_thin_stroke_drawing_at_28x28_is_remade_like_mnist_and_reads_right(mnist):
    from core import checkpoints

    labels = data.load("mnist", "test").labels[:12]
    prepared = []
    for i, digit in enumerate(mnist):
        drawing = one_pixel_drawing(digit, angle=(-6, 6)[i % 2], shift=(3, -2))
        assert set(np.unique(drawing)) <= {0, 255} and images.stroke_width(drawing > 0) < images.STROKE_WIDTHS[10]
        upload = images.prepare_upload(encode(Image.fromarray(255 - drawing), "PNG"))  # dark on light
        assert any("thin strokes thickened" in step for step in upload.steps)
        assert_mnist_like(upload.image)
        width = images.stroke_width(upload.image >= 0.5)
        assert images.STROKE_WIDTHS[1] <= width <= images.STROKE_WIDTHS[99]
        assert np.mean((upload.image > 0.05) & (upload.image < 0.95)) / np.mean(upload.image > 0.05) > 0.1  # soft edges
        prepared.append(upload.image)
    denoiser, classifier = checkpoints.load("denoising")[0], checkpoints.load("classifier")[0]
    read = inference.read_digits(classifier, inference.reconstruct(denoiser, np.stack(prepared)))[0]
    assert (read == labels).sum() >= 11  # readable after denoising, as on the page


def test_thick_marker_strokes_are_thinned_to_mnist_weight(mnist):
    ink = Image.fromarray(mnist[0]).resize((280, 280), Image.Resampling.BILINEAR).point(lambda v: 255 * (v > 127))
    marker = ink.filter(ImageFilter.MaxFilter(25))
    page = Image.new("L", (400, 400), 255)
    page.paste(Image.fromarray(255 - np.asarray(marker)), (60, 60))
    upload = images.prepare_upload(encode(page, "PNG"))
    assert any("thick strokes thinned" in step for step in upload.steps)
    assert images.stroke_width(upload.image >= 0.5) <= images.STROKE_WIDTHS[90]
    assert similarity(upload.image, mnist[0]) > 0.7


def test_a_large_dark_on_white_photo_is_prepared_well(mnist):
    from core import checkpoints

    side = 1200
    yy, xx = np.mgrid[0:side, 0:side] / side
    lamp = 0.95 - 0.35 * xx - 0.15 * yy  # lit from the top left
    prepared = []
    for digit in mnist[:6]:
        ink = Image.new("L", (side, side), 0)
        ink.paste(Image.fromarray(digit).resize((700, 700), Image.Resampling.BICUBIC), (350, 200))
        ink = np.asarray(ink.rotate(5, Image.Resampling.BILINEAR), np.float32) / 255.0  # held slightly askew
        photo = Image.fromarray((lamp * (225 - 180 * ink)).astype(np.uint8)).convert("RGB")
        upload = images.prepare_upload(encode(photo, "JPEG", quality=70))
        assert "dark ink on light paper, so inverted" in upload.steps
        assert "uneven lighting evened out" in upload.steps
        assert_mnist_like(upload.image)
        assert similarity(upload.image, digit) > 0.8
        prepared.append(upload.image)
    classifier = checkpoints.load("classifier")[0]
    read = inference.read_digits(classifier, np.stack(prepared))[0]
    np.testing.assert_array_equal(read, data.load("mnist", "test").labels[:6])


def test_thin_pen_strokes_are_thickened_to_mnist_weight():
    def seven(width: int) -> bytes:
        page = Image.new("L", (1200, 1200), 255)
        ImageDraw.Draw(page).line([(350, 250), (850, 250), (550, 950)], fill=0, width=width)
        return encode(page, "PNG")

    thin, bold = images.prepare_upload(seven(6)), images.prepare_upload(seven(90))  # 90 px: 2.5 of 20
    assert any("thickened" in step for step in thin.steps)
    assert not any("thickened" in step for step in bold.steps)
    assert thin.image.sum() > 0.6 * bold.image.sum()  # not a faint hairline
    assert images.stroke_width(thin.image > 0.5) >= images.STROKE_WIDTHS[10]


def test_a_speck_of_dust_does_not_move_the_crop(mnist):
    page = on_page(mnist[3])
    clean = read_image(encode(page, "PNG"))
    ImageDraw.Draw(page).rectangle([580, 10, 582, 12], fill=0)  # a 3x3 dot far from the digit
    specked = read_image(encode(page, "PNG"))
    assert similarity(specked, clean * 255) > 0.95


def test_animated_gif_uses_the_first_frame_and_says_so(mnist):
    frames = [on_page(mnist[0]), on_page(mnist[1]), on_page(mnist[2])]
    encoded = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    upload = images.prepare_upload(encoded)
    assert upload.notes == ("This is an animation of 3 frames; only the first frame is used.",)
    assert similarity(upload.image, mnist[0]) > 0.85
    assert similarity(upload.image, mnist[0]) > similarity(upload.image, mnist[1]) + 0.2


@pytest.mark.parametrize("size", [(1, 1), (1, 40), (40, 1), (3, 3), (28, 1)])
def test_tiny_and_thin_images_do_not_break(size):
    pixels = np.full(size[::-1], 255, np.uint8)
    pixels.flat[len(pixels.flat) // 2] = 0  # one dot of ink
    image = read_image(encode(Image.fromarray(pixels), "PNG"))
    assert image.shape == (28, 28) and np.isfinite(image).all() and 0 <= image.min() <= image.max() <= 1


@pytest.mark.parametrize("colour", [255, 0, 128])
def test_blank_page_gives_an_empty_digit_and_a_warning(colour):
    upload = images.prepare_upload(encode(Image.new("L", (300, 200), colour), "JPEG"))
    assert upload.blank
    assert not upload.image.any() and upload.image.shape == (28, 28)
    assert len(upload.notes) == 1 and upload.notes[0].startswith("No ink found") and one_sentence(upload.notes[0])


def test_steps_say_what_was_done(mnist):
    upload = images.prepare_upload(encode(on_page(mnist[0]), "PNG"))
    text = " · ".join(upload.steps)
    assert text.startswith("PNG 600x480")
    assert "inverted" in text and "cropped to the ink" in text and "centre of mass" in text
    assert upload.preview.shape == (90, 112)  # the page shown small, before inversion: paper stays light
    assert upload.preview[0, 0] > 0.9


# --- bad images: one clear sentence each, never another exception -------------------------

def bad_cases() -> dict[str, tuple[bytes, str]]:
    page = on_page(np.full((28, 28), 200, np.uint8))
    full_png, full_jpeg = encode(page, "PNG"), encode(page.convert("RGB"), "JPEG")
    return {
        "zero bytes": (b"", "The file is empty (0 bytes)."),
        "truncated PNG": (full_png[:len(full_png) // 2], "damaged or incomplete"),
        "truncated JPEG": (full_jpeg[:len(full_jpeg) // 3], "damaged or incomplete"),
        "text renamed to .png": (b"Dear diary, today I drew a seven.\n" * 20, "not a PNG, JPEG, BMP, GIF or WebP"),
        "a TIFF": (encode(page, "TIFF"), "not a PNG, JPEG, BMP, GIF or WebP"),
        "20000x20000 PNG (decompression bomb)": (png(20_000, 20_000), "far larger than the 50 megapixels"),
        "9000x9000 PNG": (png(9_000, 9_000), "9,000 x 9,000 pixels, more than the 50 megapixels"),
        "fully transparent PNG": (encode(Image.new("RGBA", (64, 64), (0, 0, 0, 0)), "PNG"), "fully transparent"),
        "fully transparent GIF": (encode(Image.new("P", (64, 64), 0), "GIF", transparency=0), "fully transparent"),
    }


@pytest.mark.parametrize("case", list(bad_cases()))
def test_bad_uploads_raise_one_clear_sentence(case):
    encoded, expected = bad_cases()[case]
    with pytest.raises(ValueError) as error:
        read_image(encoded)
    assert expected in str(error.value)
    assert one_sentence(str(error.value))


def test_huge_images_are_refused_before_any_pixel_is_decoded(monkeypatch):
    def no_decoding(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    for side in (9_000, 20_000):
        with pytest.raises(ValueError, match="megapixels"):
            read_image(png(side, side))


def test_an_image_just_inside_the_pixel_limit_is_read():
    width = images.MAX_UPLOAD_PIXELS // 5_000
    upload = images.prepare_upload(png(width, 5_000))  # all black: a blank page of 50 megapixels
    assert upload.blank


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "GIF", "WEBP"])
def test_damaged_files_give_value_errors_only(mnist, fmt):
    encoded = encode(on_page(mnist[0], size=(120, 100), at=(10, 5), scale=3).convert("RGB"), fmt)
    rng = np.random.default_rng(0)
    damaged = [encoded[:cut] for cut in np.linspace(1, len(encoded) - 1, 25).astype(int)]
    for _ in range(25):
        corrupt = bytearray(encoded)
        for position in rng.integers(0, len(encoded), 8):
            corrupt[position] = int(rng.integers(0, 256))
        damaged.append(bytes(corrupt))
    for sample in damaged:
        try:
            image = read_image(sample)
        except ValueError as exc:
            assert one_sentence(str(exc))
        else:
            assert image.shape == (28, 28) and np.isfinite(image).all()


# --- what one upload may cost: scans, seconds ----------------------------------------------

def test_a_progressive_jpeg_scan_bomb_is_refused_before_decoding(monkeypatch):
    from bench.bench_hostile import scan_bomb_jpeg

    bomb = scan_bomb_jpeg(side=1000, scans=1_000)
    assert images.jpeg_scans(bomb) == 1_000
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("pixels were decoded"))
    with pytest.raises(ValueError, match="1,000 passes") as error:
        read_image(bomb)
    assert one_sentence(str(error.value))


def test_scans_times_megapixels_is_bounded_too():
    from bench.bench_hostile import scan_bomb_jpeg

    bomb = scan_bomb_jpeg(side=7000, scans=20)  # few scans, but each over 49 megapixels
    with pytest.raises(ValueError, match="20 passes"):
        read_image(bomb)


def test_ordinary_progressive_jpegs_are_read(mnist):
    page = on_page(mnist[0])
    for mode in ("L", "RGB"):
        encoded = encode(page.convert(mode), "JPEG", progressive=True)
        assert 2 <= images.jpeg_scans(encoded) <= 12
        assert_mnist_like(read_image(encoded))


def test_scans_of_an_exif_thumbnail_are_not_counted(mnist):
    thumbnail = encode(Image.new("RGB", (160, 120), "white"), "JPEG", progressive=True)
    exif = b"Exif\x00\x00" + thumbnail  # an APP1 segment carrying a whole JPEG, scans and all
    plain = encode(on_page(mnist[0]), "JPEG")
    with_thumbnail = plain[:2] + b"\xff\xe1" + (len(exif) + 2).to_bytes(2, "big") + exif + plain[2:]
    assert images.jpeg_scans(with_thumbnail) == images.jpeg_scans(plain) == 1


def test_a_decode_that_runs_past_its_time_budget_stops_with_a_sentence(monkeypatch):
    monkeypatch.setattr(images, "DECODE_SECONDS", 0.0)
    with pytest.raises(ValueError, match="took longer than the 0 s allowed") as error:
        read_image(encode(Image.new("L", (2000, 2000), 255), "PNG"))
    assert one_sentence(str(error.value))


def test_dots_land_where_their_codes_are_in_their_colour_and_pile_up_as_layers_of_paint():
    points = np.array([[0.0, 0.0], [0.0, 0.0], [3.9, 3.9], [9.0, 0.0]])  # two at the centre; one off the square
    colours = np.array([[255, 0, 0], [255, 0, 0], [0, 0, 255], [0, 255, 0]], dtype=np.uint8)
    picture = np.asarray(Image.open(io.BytesIO(images.dots_png(points, colours, reach=4.0, size=80, dot=1,
                                                                opacity=0.3))))
    assert picture.shape == (80, 80, 4)
    assert tuple(picture[39, 40, :3]) == (255, 0, 0)             # x = 0 at column 40, y = 0 at row 39 (y up)
    assert picture[39, 40, 3] == round(255 * (1 - 0.7 ** 2))     # two dots: more opaque than one
    assert tuple(picture[0, 79]) == (0, 0, 255, round(255 * 0.3))  # top right
    assert (picture[..., 3] > 0).sum() == 2                       # the point off the square is not drawn
